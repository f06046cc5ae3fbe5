"""Small ops shared by every corruption: seeds, unit range, uint8, shapes.

Seeds (one rule for the whole package, `stateless_seed`): every random draw
uses ``tf.random.stateless_*`` with the seed pair ``[seed mod 2**31,
crc32(key) mod 2**31]``. ``seed`` is the user's seed (a Python int or a scalar
integer tensor, e.g. a per-image seed inside tf.data; both give the same draws)
and ``key`` names the stream of draws: the corruption's name
(``"gaussian_noise"``), ``"<name>/<k>"`` for the k-th draw of a corruption
that takes several (``"snow/1"``), ``"imagenet_p/<name>/<k>"`` for the
ImageNet-P sequences. Different keys give independent draws for one user seed.
The package's seeds are in [0, 2**31) (`tfds_bench.corruptions.apply` checks
Python ints), where the reduction mod 2**31 is the identity. The uniform
float and full-range uint32 draws (`standard_uniforms`, `uniform_words`) have
those kernels' values but, where the shape is static, are computed by
`tfds_bench.corruptions.philox` (an XLA-vectorised copy of TF's CPU Philox,
faster than its kernels).

Conversions: the references divide by 255 in numpy and store ``np.uint8(x)``
(truncation) of a float image; `to_unit`, `to_uint8` and `unit_to_uint8` are
those steps bit for bit, eagerly, in graphs and inside XLA.
"""

from __future__ import annotations

import zlib
from typing import List, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions import philox

_SEED_BITS = 0x7FFFFFFF


def stateless_seed(seed, key: str) -> tf.Tensor:
  """int64 ``[seed mod 2**31, crc32(key) mod 2**31]``: see the module docstring."""
  salt = zlib.crc32(key.encode()) & _SEED_BITS
  if isinstance(seed, int):
    return tf.constant([seed & _SEED_BITS, salt], dtype=tf.int64)
  seed = tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), tf.constant(_SEED_BITS, tf.int64))
  return tf.stack([seed, tf.constant(salt, tf.int64)])


def standard_normal(shape, seed, key: str, dtype=tf.float32) -> tf.Tensor:
  """N(0, 1) draws: ``tf.random.stateless_normal(shape, stateless_seed(seed, key), dtype=dtype)``.

  The same kernel, key, counter and algorithm ("auto_select") without the
  wrapper's ``* 1. + 0.``: two more passes over the draws, which cost a
  quarter of the draw on one image. They are the identity here: Box-Muller's
  outputs are finite and never -0. (sin(0) gives +0.), so the values match.
  """
  key_, counter = _key_counter(seed, key)
  return tf.raw_ops.StatelessRandomNormalV2(shape=shape, key=key_, counter=counter,
                                            alg=tf.random.Algorithm.AUTO_SELECT.value,
                                            dtype=dtype)


def _key_counter(seed, key: str):
  """``StatelessRandomGetKeyCounter`` of `stateless_seed`: what ``alg="auto_select"`` uses."""
  return tf.raw_ops.StatelessRandomGetKeyCounter(seed=stateless_seed(seed, key))


def _uniform_v2(shape, key_counter, dtype) -> tf.Tensor:
  key_, counter = key_counter
  alg = tf.random.Algorithm.AUTO_SELECT.value
  if tf.as_dtype(dtype) == tf.uint32:
    return tf.raw_ops.StatelessRandomUniformFullIntV2(shape=shape, key=key_, counter=counter,
                                                      alg=alg, dtype=dtype)
  return tf.raw_ops.StatelessRandomUniformV2(shape=shape, key=key_, counter=counter, alg=alg,
                                             dtype=dtype)


def standard_uniforms(shapes, seed, keys, dtype=tf.float64) -> List[tf.Tensor]:
  """`standard_uniform` of each (shape, key), as one XLA program where the shapes are static.

  Shapes known while tracing (Python ints, or tensors such as ``tf.shape`` of
  an image of static shape) are drawn by `philox.draws`, TF's CPU Philox
  values bit for bit but vectorised by XLA (TF's kernel draws one value at a
  time); any other shape falls back to TF's kernel, which
  gives the same values. ``dtype`` uint32 gives full-range words
  (``stateless_uniform(..., minval=None, maxval=None, dtype=tf.uint32)``);
  dtypes other than uint32, float32 and float64 always take TF's kernel.
  """
  key_counters = [_key_counter(seed, key) for key in keys]
  static = [philox.static_shape(shape) for shape in shapes]
  if tf.as_dtype(dtype) in philox.DTYPES and all(s is not None for s in static):
    return philox.draws(static, [k for k, _ in key_counters], [c for _, c in key_counters], dtype)
  return [_uniform_v2(shape, kc, dtype) for shape, kc in zip(shapes, key_counters)]


def standard_uniform(shape, seed, key: str, dtype=tf.float64) -> tf.Tensor:
  """U[0, 1) draws: ``tf.random.stateless_uniform(shape, stateless_seed(seed, key), dtype=dtype)``.

  The same values as that kernel (see `standard_uniforms`, which computes
  them) without the wrapper's ``* (1. - 0.) + 0.`` (two passes), the identity
  on [0, 1): x * 1. == x, and x + 0. == x (0. + 0. is +0.).
  """
  return standard_uniforms([shape], seed, [key], dtype)[0]


def uniform_words(shape, seed, key: str) -> tf.Tensor:
  """Full-range uint32 draws: ``tf.random.stateless_uniform(shape, stateless_seed(seed, key),
  minval=None, maxval=None, dtype=tf.uint32)`` (the FullInt kernel), bit for bit."""
  return standard_uniforms([shape], seed, [key], tf.uint32)[0]


def to_unit(x: tf.Tensor, dtype=tf.float64) -> tf.Tensor:
  """``np.array(x) / 255.`` (float64) or ``float32(x) / 255`` of uint8 values.

  ``x``: integer values 0..255 (uint8, or a float tensor holding integers).
  A 256-entry table of the correctly rounded quotients, so immune to rewrites
  of ``x / 255.`` into ``x * (1 / 255.)`` (grappler inside ``tf.function``,
  XLA), which differ in the last bit for some values and then flip a later
  uint8 truncation. In float32, rounding the float64 quotient gives the same
  256 values as dividing in float32 (torch's ``ToTensor``).
  """
  np_dtype = tf.as_dtype(dtype).as_numpy_dtype
  table = np.arange(256, dtype=np_dtype) / np_dtype(255)
  return tf.gather(tf.constant(table), tf.cast(x, tf.int32))


def to_uint8(x255: tf.Tensor) -> tf.Tensor:
  """``np.uint8(x)`` of a float image in [0, 255]: truncation, not rounding.

  The clip only guards against NaN/ulp excursions. On [0, 255] truncation and
  floor agree, so this is also torch's ``.byte()`` and ``astype(np.uint8)``.
  """
  return tf.cast(tf.floor(tf.clip_by_value(x255, 0., 255.)), tf.uint8)


def unit_to_uint8(x: tf.Tensor) -> tf.Tensor:
  """``np.uint8(np.clip(x, 0, 1) * 255)`` in the dtype of x."""
  return to_uint8(tf.clip_by_value(x, 0., 1.) * 255.)


def divide_exact(x: tf.Tensor, c: float) -> tf.Tensor:
  """x / c, correctly rounded, also inside tf.function.

  Grappler's constant folding rewrites Div/RealDiv by a constant into a
  multiplication by its reciprocal (ReduceDivToReciprocalMul), which is off
  by one ulp for some inputs and then flips np.uint8 truncations; DivNoNan
  is not rewritten. (Inside XLA pass the divisor in as a tensor instead.)
  """
  return tf.math.divide_no_nan(x, tf.constant(c, x.dtype))


def zero_where(cond: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
  """``x[cond] = 0`` (a bare 0. would be float32 inside tf.function)."""
  return tf.where(cond, tf.zeros_like(x), x)


def static_hw(images: tf.Tensor) -> Tuple[int, int]:
  """Static height and width of ``[B, H, W, ...]``; filters are built from them."""
  h, w = images.shape[1], images.shape[2]
  if h is None or w is None:
    raise ValueError(f"corruptions need a static image size, got {images.shape}")
  return int(h), int(w)


def batch_size(images: tf.Tensor) -> tf.Tensor:
  """The (dynamic) batch size of ``[B, ...]``."""
  return tf.shape(images)[0]


def static_batch_size(images: tf.Tensor):
  """The batch size of ``[B, ...]``: a Python int where static, else `batch_size`.

  Draw shapes built from it are then static, which `standard_uniforms` needs
  for its XLA path (``tf.shape(x)[0]`` is not evaluated while tracing).
  """
  b = images.shape[0]
  return batch_size(images) if b is None else int(b)
