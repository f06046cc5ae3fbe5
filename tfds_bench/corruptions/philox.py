"""TF's stateless CPU random draws, bit for bit, as XLA-compiled Philox4x32-10.

TensorFlow's stateless kernels on CPU (``StatelessRandomUniformV2``,
``StatelessRandomUniformFullIntV2`` with ``alg=AUTO_SELECT``, i.e. Philox) are
slow: profiled single-threaded, they were a large share of several
corruptions (elastic_transform's two 224x224 float64 fields, shot_noise's
float64 uniform per value, fog's plasma uniforms, impulse_noise's and
glass_blur's uint32 words). This module computes
the same values with the same algorithm written in TF ops compiled by XLA
(`xla_exact.xla_function`), which vectorises the Philox rounds (4 x 64-bit
lanes). XLA:CPU gives each output its own loop (no multi-output fusion), so
an element computes a whole Philox call and keeps its part: each call's
rounds run twice (once per float64, once per uint64 pair of 32-bit samples),
still cheaper than TF's scalar loop. Called eagerly on one image's uint32
words, the XLA call's fixed cost can outweigh the gain; in the builders'
graphs that cost is small.

What is reproduced (tensorflow/core/lib/random/philox_random.h,
random_distributions.h; checked against ``tf.raw_ops`` in
tests/test_philox.py):

* ``key`` (uint64 ``[1]``) and ``counter`` (uint64 ``[2]``) come from
  ``StatelessRandomGetKeyCounter`` (a cheap TF op, run as is). Philox's key is
  ``(low32(key), high32(key))``, its 128-bit counter the words
  ``(low32(c0), high32(c0), low32(c1), high32(c1))``.
* One Philox call: 10 rounds of ``(lo0, hi0) = mulhilo(0xD2511F53, x0)``,
  ``(lo1, hi1) = mulhilo(0xCD9E8D57, x2)``,
  ``x = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)``, the key raised by
  ``(0x9E3779B9, 0xBB67AE85)`` between rounds; 4 uint32 out. Call ``i`` uses
  the counter plus ``i`` (128-bit, carries across words).
* The samples are those of one sequential generator whatever the kernel's
  sharding: uint32 sample ``i`` is word ``i % 4`` of call ``i // 4``; float64
  sample ``2k`` is built from words (0, 1) of call ``k`` and ``2k + 1`` from
  words (2, 3): ``bits(1.0) | (w_hi & 0xfffff) << 32 | w_lo``, minus 1.0 (exact);
  float32 sample ``i`` from word ``i % 4``: ``bits(1.0f) | (w & 0x7fffff)``,
  minus 1.0f.

Shapes must be static (Python ints, or tensors whose value is known while
tracing); one XLA program is compiled per shape and dtype.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions.xla_exact import xla_function

_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)
_ROUNDS = 10
# What `draws` reproduces: the FullInt kernel's uint32 words, the uniform float32 and float64.
DTYPES = (tf.uint32, tf.float32, tf.float64)


def _u32(x: tf.Tensor) -> tf.Tensor:
  """The low 32 bits of uint64 ``x`` as uint32."""
  return tf.cast(tf.bitwise.bitwise_and(x, tf.constant(0xFFFFFFFF, tf.uint64)), tf.uint32)


def _high32(x: tf.Tensor) -> tf.Tensor:
  return tf.cast(tf.bitwise.right_shift(x, tf.constant(32, tf.uint64)), tf.uint32)


def _philox(key: tf.Tensor, counter: tf.Tensor, call: tf.Tensor) -> Tuple[tf.Tensor, ...]:
  """The 4 output words (uint32) of Philox call number ``call`` (uint64, any shape)."""
  key = tf.reshape(key, [])
  k0, k1 = _u32(key), _high32(key)
  lo = counter[0] + call  # wraps mod 2**64
  hi = counter[1] + tf.cast(lo < call, tf.uint64)  # the carry out of the low 64 bits
  x0, x1, x2, x3 = _u32(lo), _high32(lo), _u32(hi), _high32(hi)
  m0 = tf.constant(_MULTIPLIERS[0], tf.uint64)
  m1 = tf.constant(_MULTIPLIERS[1], tf.uint64)
  step0 = tf.constant(_KEY_STEPS[0], tf.uint32)
  step1 = tf.constant(_KEY_STEPS[1], tf.uint32)
  for r in range(_ROUNDS):
    if r:
      k0, k1 = k0 + step0, k1 + step1  # uint32 wraparound
    p0 = m0 * tf.cast(x0, tf.uint64)
    p1 = m1 * tf.cast(x2, tf.uint64)
    x0, x1, x2, x3 = (tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(_high32(p1), x1), k0),
                      _u32(p1),
                      tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(_high32(p0), x3), k1),
                      _u32(p0))
  return x0, x1, x2, x3


def _float64(hi: tf.Tensor, lo: tf.Tensor) -> tf.Tensor:
  """random::Uint64ToDouble(hi, lo): 52 mantissa bits in [1, 2), minus 1 (exact)."""
  man = tf.bitwise.bitwise_or(
      tf.bitwise.left_shift(tf.cast(tf.bitwise.bitwise_and(hi, tf.constant(0xFFFFF, tf.uint32)),
                                    tf.uint64), tf.constant(32, tf.uint64)),
      tf.cast(lo, tf.uint64))
  bits = tf.bitwise.bitwise_or(man, tf.constant(1023 << 52, tf.uint64))
  return tf.bitcast(bits, tf.float64) - tf.constant(1., tf.float64)


def _float32_bits(word: tf.Tensor) -> tf.Tensor:
  """The bits of random::Uint32ToFloat(word): 23 mantissa bits in [1, 2), minus 1."""
  bits = tf.bitwise.bitwise_or(tf.bitwise.bitwise_and(word, tf.constant(0x7FFFFF, tf.uint32)),
                               tf.constant(127 << 23, tf.uint32))
  one = tf.constant(1., tf.float32)
  return tf.bitcast(tf.bitcast(bits, tf.float32) - one, tf.uint32)


def _pack(lo: tf.Tensor, hi: tf.Tensor) -> tf.Tensor:
  """uint64 ``lo | hi << 32``: in memory (little endian) the uint32 pair (lo, hi)."""
  return tf.bitwise.bitwise_or(
      tf.cast(lo, tf.uint64), tf.bitwise.left_shift(tf.cast(hi, tf.uint64),
                                                    tf.constant(32, tf.uint64)))


def _one_draw(key, counter, n: int, dtype: str) -> tf.Tensor:
  """float64 ``[n]``, or for 32-bit dtypes ``[ceil(n / 2)]`` uint64 holding sample pairs.

  XLA:CPU gives each output of a program its own loop (no multi-output
  fusion), so one element computes one Philox call and picks its part: a
  float64 from words (0, 1) or (2, 3) by parity, a uint64 pair of 32-bit
  samples likewise. Two calls' worth of rounds per call, vectorised, instead of
  four separate word outputs (four) plus an interleaving copy.
  """
  m = n if dtype == "float64" else (n + 1) // 2
  i = tf.cast(tf.range(m, dtype=tf.int64), tf.uint64)
  one = tf.constant(1, tf.uint64)
  x0, x1, x2, x3 = _philox(key, counter, tf.bitwise.right_shift(i, one))
  odd = tf.equal(tf.bitwise.bitwise_and(i, one), one)
  if dtype == "float64":
    return tf.where(odd, _float64(x2, x3), _float64(x0, x1))
  if dtype == "float32":
    x0, x1, x2, x3 = (_float32_bits(x) for x in (x0, x1, x2, x3))
  return tf.where(odd, _pack(x2, x3), _pack(x0, x1))


@xla_function
def _draws_xla(keys, counters, sizes: Tuple[int, ...], dtype: str):
  return [_one_draw(k, c, n, dtype) for k, c, n in zip(keys, counters, sizes)]


def static_shape(shape) -> Optional[Tuple[int, ...]]:
  """``shape`` as a tuple of ints, or None if its value is not known while tracing."""
  if isinstance(shape, (list, tuple)) and not any(tf.is_tensor(s) for s in shape):
    return tuple(int(s) for s in shape)
  value = tf.get_static_value(tf.convert_to_tensor(shape))
  return None if value is None else tuple(int(s) for s in np.reshape(value, [-1]))


def draws(shapes: Sequence[Tuple[int, ...]], keys: Sequence[tf.Tensor],
          counters: Sequence[tf.Tensor], dtype) -> List[tf.Tensor]:
  """Several draws of one dtype in one XLA program (see `draw`); static shapes only."""
  dtype = tf.as_dtype(dtype)
  if dtype not in DTYPES:
    raise ValueError(f"philox draws are uint32, float32 or float64, got {dtype.name}")
  shapes = [tuple(int(d) for d in s) for s in shapes]
  sizes = tuple(int(np.prod(s, dtype=np.int64)) for s in shapes)
  outs = _draws_xla([tf.cast(k, tf.uint64) for k in keys],
                    [tf.cast(c, tf.uint64) for c in counters], sizes, dtype.name)
  results = []
  for out, shape, n in zip(outs, shapes, sizes):
    if dtype != tf.float64:
      # uint64 -> [m, 2] 32-bit samples in order (TF's Bitcast, no copy).
      out = tf.reshape(tf.bitcast(out, dtype), [-1])
      if n % 2:
        out = out[:n]
    results.append(tf.reshape(out, shape))
  return results


def draw(shape, key: tf.Tensor, counter: tf.Tensor, dtype) -> tf.Tensor:
  """What ``StatelessRandomUniformV2`` (float32/float64) or
  ``StatelessRandomUniformFullIntV2`` (uint32) with ``alg=AUTO_SELECT`` give on
  CPU for this key (uint64 ``[1]``) and counter (uint64 ``[2]``); ``shape``
  must be static (see `static_shape`)."""
  static = static_shape(shape)
  if static is None:
    raise ValueError(f"philox draws need a static shape, got {shape}")
  return draws([static], [key], [counter], dtype)[0]
