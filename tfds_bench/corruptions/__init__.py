"""ImageNet-C / -C-bar / -P image corruptions as TensorFlow ops.

Public interface: ``apply(images, corruption, severity, seed=0)``, the names
(`names`: ``NAMES``, ``TEST_NAMES``, ``HELDOUT_NAMES``, ImageNet-C-bar's
``C_BAR_NAMES`` (module `c_bar`), ``ALL_NAMES``, ``SEVERITIES`` and the
ImageNet-P ``PERTURBATIONS``) and the ImageNet-P sequences (`perturbations`).
Importing this package does not load TensorFlow (the corruption modules are
imported on first use).

The corruptions follow the ImageNet-C paper's categories: `noise`, `blur`,
`weather` and `digital`, built from shared helpers: `ops` (seeds, unit range,
uint8), `xla_exact` (XLA compilation keeping numpy's rounding), `filters`,
`resample`, `color`, `opencv` and `plasma`. Each corruption module exports
``CORRUPTIONS``: a dict name -> function
``fn(images, severity, seed) -> images`` where ``images`` is a uint8 tensor
``[B, H, W, 3]``, ``severity`` a Python int in 1..5 and ``seed`` a Python int;
the function returns a uint8 tensor of the same shape, deterministic for a seed.
A module may also export ``ONE_IMAGE_EAGER``: name -> the same corruption of
one image ``[H, W, 3]``, which `apply`'s eager one-image call runs directly.
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, Tuple

from tfds_bench.corruptions.names import ALL_NAMES
from tfds_bench.corruptions.names import C_BAR_NAMES
from tfds_bench.corruptions.names import HELDOUT_NAMES
from tfds_bench.corruptions.names import HELDOUT_PERTURBATIONS
from tfds_bench.corruptions.names import NAMES
from tfds_bench.corruptions.names import PERTURBATIONS
from tfds_bench.corruptions.names import SEVERITIES
from tfds_bench.corruptions.names import TEST_NAMES
from tfds_bench.corruptions.names import TEST_PERTURBATIONS


@functools.lru_cache(maxsize=None)
def _modules():
  """The corruption modules, imported on first use."""
  from tfds_bench.corruptions import blur  # lazy: tensorflow
  from tfds_bench.corruptions import c_bar  # lazy: tensorflow
  from tfds_bench.corruptions import digital  # lazy: tensorflow
  from tfds_bench.corruptions import noise  # lazy: tensorflow
  from tfds_bench.corruptions import weather  # lazy: tensorflow
  return (noise, blur, weather, digital, c_bar)


@functools.lru_cache(maxsize=None)
def _registry() -> Dict[str, Callable]:
  table = {name: fn for module in _modules() for name, fn in module.CORRUPTIONS.items()}
  missing = set(ALL_NAMES) - set(table)
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
  if corruption not in ALL_NAMES:
    raise ValueError(f"unknown corruption {corruption!r}; known: {', '.join(ALL_NAMES)}")
  if severity not in SEVERITIES:
    raise ValueError(f"severity must be one of 1..5, got {severity!r}")
  images = tf.convert_to_tensor(images)
  if images.dtype != tf.uint8:
    raise TypeError(f"images must be uint8, got {images.dtype.name}")
  single = images.shape.rank == 3
  if images.shape.rank not in (3, 4) or images.shape[-1] != 3:
    raise ValueError(f"images must be [H, W, 3] or [B, H, W, 3], got shape {images.shape}")
  if isinstance(seed, int) or not tf.is_tensor(seed):
    seed = int(seed)
    if not 0 <= seed < 2**31:
      raise ValueError(f"seed must be in [0, 2**31), got {seed}")
  elif not seed.dtype.is_integer or seed.shape.rank != 0:
    raise TypeError(f"a tensor seed must be a scalar integer, got {seed.dtype.name} {seed.shape}")
  if isinstance(seed, int) and tf.executing_eagerly():
    one_image = _one_image_eager().get(corruption) if single else None
    if one_image is not None:
      return one_image(images, int(severity), seed)
    # One call of a traced program instead of dispatching each op from Python:
    # an eager one-image call would pay that dispatch several times over its
    # work. The seed goes in as a tensor, which gives the same draws.
    return _eager_call(corruption, int(severity), tuple(images.shape))(
        images, tf.constant(seed, tf.int64))
  return _corrupt(images, corruption, int(severity), seed)


@functools.lru_cache(maxsize=None)
def _one_image_eager() -> Dict[str, Callable]:
  """Name -> ``fn(image [H, W, 3], severity, seed)`` of the corruptions whose
  eager one-image call skips the traced program (the modules' ``ONE_IMAGE_EAGER``)."""
  return {name: fn for module in _modules()
          for name, fn in getattr(module, "ONE_IMAGE_EAGER", {}).items()}


def _corrupt(images, corruption: str, severity: int, seed):
  """The registered corruption on checked ``[H, W, 3]`` or ``[B, H, W, 3]`` uint8."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  single = images.shape.rank == 3
  if single:
    # expand_dims/squeeze, not [tf.newaxis]/[0]: eagerly, a strided slice's
    # fixed cost is a large share of a cheap corruption on one image.
    images = tf.expand_dims(images, 0)
  out = _registry()[corruption](images, severity, seed)
  return tf.squeeze(out, 0) if single else out


@functools.lru_cache(maxsize=256)
def _eager_call(corruption: str, severity: int, shape: Tuple[int, ...]):
  """`_eager_program`'s concrete function for uint8 images of ``shape`` and an int64 seed.

  Called directly, it skips the tf.function's matching of the arguments to
  its traces, about 50-90 us of a one-image call (`apply` per call in a loop:
  pixelate 319 -> 253 us, brightness 390 -> 320 us, fog 748 -> 716 us).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return _eager_program(corruption, severity).get_concrete_function(
      tf.TensorSpec(shape, tf.uint8), tf.TensorSpec([], tf.int64))


@functools.lru_cache(maxsize=None)
def _eager_program(corruption: str, severity: int):
  """`apply`'s eager Python-int-seed path: the corruption as a tf.function of (images, seed)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.function(lambda images, seed: _corrupt(images, corruption, severity, seed),
                     autograph=False)
