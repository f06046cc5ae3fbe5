"""How a model wants its images: the ``Preprocessing`` record and named presets.

No TensorFlow here, so that `models` (and with it every flag check of
`bench_main`) loads in a fraction of a second; the TF ops that apply a
``Preprocessing`` live in `preprocessing.py`.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

_RESIZE_METHODS = ("bilinear", "bicubic", "area", "nearest")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
  """How a model wants its images.

  Attributes:
    input_size: side of the square model input, in pixels.
    crop_fraction: side of the central crop relative to the shorter image side.
    resize_method: ``tf.image.resize`` method for the crop -> input resize.
    mean: per-channel value subtracted (in the 0..255 scale, RGB order).
    std: per-channel divisor applied after subtracting ``mean``.
    channel_order: "RGB", or "BGR" for Caffe-style models (mean/std are then
      still given in RGB order and permuted together with the pixels).
    antialias: low-pass when downscaling, as PIL / torchvision resizes do; the
      TF reference eval code of EfficientNet(-Lite) resizes without it.
  """
  input_size: int
  crop_fraction: float = 0.875
  resize_method: str = "bicubic"
  mean: Tuple[float, float, float] = (0.0, 0.0, 0.0)
  std: Tuple[float, float, float] = (1.0, 1.0, 1.0)
  channel_order: str = "RGB"
  antialias: bool = True

  def __post_init__(self):
    # Types first: a JSON "224" or "0.875" must be named, not compared.
    for key, kind in (("input_size", int), ("crop_fraction", (int, float)),
                      ("antialias", bool)):
      value = getattr(self, key)
      if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise ValueError(f"{key} must be a {'number' if kind != bool else 'true/false'}"
                         f"{' (an integer)' if kind is int else ''}, got {value!r}")
    for key in ("mean", "std"):
      values = getattr(self, key)
      if len(values) != 3 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                     for v in values):
        raise ValueError(f"{key} must be three numbers (R, G, B), got {list(values)!r}")
      object.__setattr__(self, key, tuple(float(v) for v in values))
    if self.input_size <= 0:
      raise ValueError(f"input_size must be positive, got {self.input_size}")
    if not 0.0 < self.crop_fraction <= 1.0:
      raise ValueError(f"crop_fraction must be in (0, 1], got {self.crop_fraction}")
    if self.resize_method not in _RESIZE_METHODS:
      raise ValueError(f"resize_method must be one of {_RESIZE_METHODS}, got {self.resize_method!r}")
    if self.channel_order not in ("RGB", "BGR"):
      raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}")
    if any(s == 0 for s in self.std):
      raise ValueError("std must not contain 0")

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, payload) -> "Preprocessing":
    """From a JSON value: an object of these fields, or a preset's name."""
    if isinstance(payload, str):
      if payload not in PRESETS:
        raise ValueError(f"unknown preset {payload!r}; known: {', '.join(sorted(PRESETS))}")
      return PRESETS[payload]
    if not isinstance(payload, dict):
      raise ValueError(f"expected a preset name ({', '.join(sorted(PRESETS))}) or an object "
                       f"of {[f.name for f in dataclasses.fields(cls)]}, got {payload!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(payload) - known
    if unknown:
      raise ValueError(f"unknown preprocessing keys {sorted(unknown)}; known: {sorted(known)}")
    payload = dict(payload)
    for key in ("mean", "std"):
      if key in payload:
        if not isinstance(payload[key], (list, tuple)):
          raise ValueError(f"{key} must be three numbers (R, G, B), got {payload[key]!r}")
        payload[key] = tuple(payload[key])
    return cls(**payload)


# Named presets for models that do not declare their own (e.g. a .keras file).
PRESETS = {
    # torchvision / timm convention: ImageNet mean and std on 0..1 pixels.
    "torch": Preprocessing(224, 0.875, "bilinear", (123.675, 116.28, 103.53),
                           (58.395, 57.12, 57.375)),
    # Inception / MobileNet / "tf" mode: pixels scaled to [-1, 1].
    "inception": Preprocessing(224, 0.875, "bilinear", (127.5, 127.5, 127.5),
                               (127.5, 127.5, 127.5)),
    # Caffe: BGR, ImageNet mean subtracted, no scaling (Keras ResNet50, VGG).
    "caffe": Preprocessing(224, 0.875, "bilinear", (123.68, 116.779, 103.939),
                           (1.0, 1.0, 1.0), "BGR"),
    # The model normalises inside itself and takes 0..255 floats (Keras
    # EfficientNet, ConvNeXt).
    "raw": Preprocessing(224, 0.875, "bicubic"),
}
