"""Offline fixtures of models keras_hub loads, from random weights.

* `write_keras_resnet_preset` / `write_keras_vit_preset`: tiny keras_hub
  ImageClassifiers (a CNN and a ViT) with their image converters, saved with
  ``save_to_preset``;
* `write_timm_resnet18`: a timm-format folder (config.json with
  ``architecture`` and ``pretrained_cfg``, model.safetensors in timm's key
  names: ``conv1.weight``, ``layer1.0.bn1.running_var``, ``fc.bias``, ...) of
  a resnet18, as timm's ``save_for_hf`` writes it, without torch or timm.

Nothing downloads. Weights are seeded, so two calls write the same model.
"""

from __future__ import annotations

import json
import os
from typing import Dict, Optional, Sequence

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _torch_normalisation():
  scale = [1.0 / 255.0 / s for s in IMAGENET_STD]
  offset = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
  return scale, offset


def write_keras_resnet_preset(path: str, image_size: int = 24, num_classes: int = 1000,
                              interpolation: str = "bilinear", seed: int = 0) -> str:
  """A two-stage ResNet ImageClassifier with a torch-style converter."""
  import keras  # pylint: disable=g-import-not-at-top
  import keras_hub  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(seed)
  backbone = keras_hub.models.ResNetBackbone(
      input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
      stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
      image_shape=(None, None, 3))
  scale, offset = _torch_normalisation()
  converter = keras_hub.layers.ResNetImageConverter(
      image_size=(image_size, image_size), scale=scale, offset=offset,
      interpolation=interpolation)
  classifier = keras_hub.models.ResNetImageClassifier(
      backbone=backbone, num_classes=num_classes,
      preprocessor=keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter))
  classifier.save_to_preset(path)
  return path


def write_keras_vit_preset(path: str, image_size: int = 16, seed: int = 1) -> str:
  """A one-layer ViT ImageClassifier (patches of 8) with a [-1, 1] converter."""
  import keras  # pylint: disable=g-import-not-at-top
  import keras_hub  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(seed)
  backbone = keras_hub.models.ViTBackbone(
      image_shape=(image_size, image_size, 3), patch_size=8, num_layers=1, num_heads=2,
      hidden_dim=16, mlp_dim=32)
  converter = keras_hub.layers.ViTImageConverter(
      image_size=(image_size, image_size), scale=1.0 / 127.5, offset=-1.0,
      interpolation="bicubic")
  classifier = keras_hub.models.ViTImageClassifier(
      backbone=backbone, num_classes=1000,
      preprocessor=keras_hub.models.ViTImageClassifierPreprocessor(image_converter=converter))
  classifier.save_to_preset(path)
  return path


def _resnet18_shapes(num_classes: int) -> Dict[str, Sequence[int]]:
  """timm's resnet18 state dict: parameter name -> shape (torch layout)."""
  shapes: Dict[str, Sequence[int]] = {"conv1.weight": (64, 3, 7, 7)}

  def batch_norm(prefix, channels):
    for name in ("weight", "bias", "running_mean", "running_var"):
      shapes[f"{prefix}.{name}"] = (channels,)

  batch_norm("bn1", 64)
  channels_in = 64
  for stage, channels in enumerate((64, 128, 256, 512), start=1):
    for block in range(2):
      prefix = f"layer{stage}.{block}"
      block_in = channels_in if block == 0 else channels
      shapes[f"{prefix}.conv1.weight"] = (channels, block_in, 3, 3)
      batch_norm(f"{prefix}.bn1", channels)
      shapes[f"{prefix}.conv2.weight"] = (channels, channels, 3, 3)
      batch_norm(f"{prefix}.bn2", channels)
      if block == 0 and stage > 1:
        shapes[f"{prefix}.downsample.0.weight"] = (channels, block_in, 1, 1)
        batch_norm(f"{prefix}.downsample.1", channels)
    channels_in = channels
  shapes["fc.weight"] = (num_classes, 512)
  shapes["fc.bias"] = (num_classes,)
  return shapes


def write_timm_resnet18(path: str, input_size: int = 32, crop_pct: float = 0.875,
                        crop_mode: str = "center", interpolation: str = "bilinear",
                        tag: Optional[str] = "tv_in1k", num_classes: int = 1000,
                        seed: int = 0) -> str:
  """A timm resnet18 folder from seeded random weights (He-scaled convs,
  identity batch norms with a little noise)."""
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  tensors = {}
  for name, shape in _resnet18_shapes(num_classes).items():
    if name.endswith("running_var"):
      value = 1.0 + 0.1 * rng.random(shape)
    elif name.endswith(("running_mean", "bias")) or (name.startswith(("bn", "layer"))
                                                     and name.endswith(".weight")
                                                     and len(shape) == 1):
      value = (1.0 if name.endswith(".weight") else 0.0) + 0.1 * rng.standard_normal(shape)
    else:
      fan_in = int(np.prod(shape[1:]))
      value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    tensors[name] = np.ascontiguousarray(value, dtype=np.float32)
  os.makedirs(path, exist_ok=True)
  save_file(tensors, os.path.join(path, "model.safetensors"))
  pretrained_cfg = {
      "custom_load": False, "input_size": [3, input_size, input_size],
      "fixed_input_size": False, "interpolation": interpolation, "crop_pct": crop_pct,
      "crop_mode": crop_mode, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
      "num_classes": num_classes, "pool_size": [1, 1], "first_conv": "conv1",
      "classifier": "fc"}
  if tag:
    pretrained_cfg["tag"] = tag
  config = {"architecture": "resnet18", "num_classes": num_classes, "num_features": 512,
            "global_pool": "avg", "pretrained_cfg": pretrained_cfg}
  with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
    json.dump(config, f, indent=2)
  return path


def write_transformers_vit(path: str, image_size: int = 16, patch_size: int = 8,
                           hidden: int = 16, heads: int = 2, mlp: int = 32,
                           num_classes: int = 1000, seed: int = 2) -> str:
  """A one-layer Transformers ``ViTForImageClassification`` folder (config.json,
  preprocessor_config.json, model.safetensors in Transformers' key names)."""
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  patches = (image_size // patch_size) ** 2
  layer = "vit.encoder.layer.0"
  shapes = {
      "vit.embeddings.patch_embeddings.projection.weight": (hidden, 3, patch_size, patch_size),
      "vit.embeddings.patch_embeddings.projection.bias": (hidden,),
      "vit.embeddings.cls_token": (1, 1, hidden),
      "vit.embeddings.position_embeddings": (1, patches + 1, hidden),
      f"{layer}.intermediate.dense.weight": (mlp, hidden),
      f"{layer}.intermediate.dense.bias": (mlp,),
      f"{layer}.output.dense.weight": (hidden, mlp),
      f"{layer}.output.dense.bias": (hidden,),
      "classifier.weight": (num_classes, hidden),
      "classifier.bias": (num_classes,),
  }
  for part in ("attention.attention.query", "attention.attention.key",
               "attention.attention.value", "attention.output.dense"):
    shapes[f"{layer}.{part}.weight"] = (hidden, hidden)
    shapes[f"{layer}.{part}.bias"] = (hidden,)
  for norm in (f"{layer}.layernorm_before", f"{layer}.layernorm_after", "vit.layernorm"):
    shapes[f"{norm}.weight"] = (hidden,)
    shapes[f"{norm}.bias"] = (hidden,)
  tensors = {name: (1.0 if "layernorm" in name and name.endswith("weight") else 0.0)
             + 0.2 * rng.standard_normal(shape).astype(np.float32)
             for name, shape in shapes.items()}
  os.makedirs(path, exist_ok=True)
  save_file({k: np.asarray(v, np.float32) for k, v in tensors.items()},
            os.path.join(path, "model.safetensors"))
  config = {"model_type": "vit", "architectures": ["ViTForImageClassification"],
            "image_size": image_size, "patch_size": patch_size, "num_channels": 3,
            "num_hidden_layers": 1, "num_attention_heads": heads, "hidden_size": hidden,
            "intermediate_size": mlp, "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0, "qkv_bias": True,
            "id2label": {str(i): f"class_{i}" for i in range(num_classes)}}
  processor = {"do_resize": True, "size": {"height": image_size, "width": image_size},
               "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255,
               "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
               "image_std": [0.5, 0.5, 0.5], "image_processor_type": "ViTImageProcessor"}
  for name, payload in (("config.json", config), ("preprocessor_config.json", processor)):
    with open(os.path.join(path, name), "w", encoding="utf-8") as f:
      json.dump(payload, f, indent=2)
  return path
