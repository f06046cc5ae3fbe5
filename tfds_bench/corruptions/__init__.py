"""ImageNet-C / -P image corruptions as TensorFlow ops.

Public interface: ``apply(images, corruption, severity, seed=0)`` and ``NAMES``.
Each corruption module exports ``CORRUPTIONS``: a dict name -> function
``fn(images, severity, seed) -> images`` where ``images`` is a uint8 tensor
``[B, H, W, 3]``, ``severity`` a Python int in 1..5 and ``seed`` a Python int;
the function returns a uint8 tensor of the same shape, deterministic for a seed.
"""

from __future__ import annotations

from typing import Callable, Dict

# The 15 test corruptions in the ImageNet-C paper's order, then the 4 held-out ones.
TEST_NAMES = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
HELDOUT_NAMES = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
NAMES = TEST_NAMES + HELDOUT_NAMES
SEVERITIES = (1, 2, 3, 4, 5)


def _registry() -> Dict[str, Callable]:
  from tfds_bench.corruptions import noise_blur, weather_digital  # pylint: disable=g-import-not-at-top
  table = {**noise_blur.CORRUPTIONS, **weather_digital.CORRUPTIONS}
  missing = set(NAMES) - set(table)
  if missing:
    raise RuntimeError(f"corruptions not implemented: {sorted(missing)}")
  return table


def apply(images, corruption: str, severity: int, seed=0):
  """Corrupts uint8 images ``[H, W, 3]`` or ``[B, H, W, 3]``; same shape out.

  ``seed`` is a Python int (0 <= seed < 2**31) or a scalar integer tensor,
  e.g. a per-image seed inside a ``tf.data`` map; the same value gives the
  same output either way.
  """
  # TensorFlow is imported here, not at module level, so that the names above
  # (used by numpy-only code such as tfds_bench.metrics) do not load it.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if corruption not in NAMES:
    raise ValueError(f"unknown corruption {corruption!r}; known: {', '.join(NAMES)}")
  if severity not in SEVERITIES:
    raise ValueError(f"severity must be one of 1..5, got {severity!r}")
  images = tf.convert_to_tensor(images)
  if images.dtype != tf.uint8:
    raise TypeError(f"images must be uint8, got {images.dtype.name}")
  single = images.shape.rank == 3
  if single:
    images = images[tf.newaxis]
  if images.shape.rank != 4 or images.shape[-1] != 3:
    raise ValueError(f"images must be [H, W, 3] or [B, H, W, 3], got shape {images.shape}")
  if isinstance(seed, int) or not tf.is_tensor(seed):
    seed = int(seed)
    if not 0 <= seed < 2**31:
      raise ValueError(f"seed must be in [0, 2**31), got {seed}")
  elif not seed.dtype.is_integer or seed.shape.rank != 0:
    raise TypeError(f"a tensor seed must be a scalar integer, got {seed.dtype.name} {seed.shape}")
  out = _registry()[corruption](images, int(severity), seed)
  return out[0] if single else out
