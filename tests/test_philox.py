"""tfds_bench.corruptions.philox / ops draws == TF's stateless CPU kernels, bit for bit."""

import numpy as np
import pytest
import tensorflow as tf

from tfds_bench.corruptions import ops
from tfds_bench.corruptions import philox

_AUTO = tf.random.Algorithm.AUTO_SELECT.value
_DTYPES = (tf.uint32, tf.float32, tf.float64)
_SHAPES = ([], [1], [3], [5], [7, 3], [2, 3, 11], [1, 224, 224, 3], [2, 224, 224])
_SEEDS = ((0, 0), (1, 2), (12345, 987654), (2**31 - 1, 2**31 - 1), (7, 1 << 40), (-3, 5))


def _tf_kernel(shape, key, counter, dtype):
  if dtype == tf.uint32:
    return tf.raw_ops.StatelessRandomUniformFullIntV2(shape=shape, key=key, counter=counter,
                                                      alg=_AUTO, dtype=dtype)
  return tf.raw_ops.StatelessRandomUniformV2(shape=shape, key=key, counter=counter, alg=_AUTO,
                                             dtype=dtype)


def _same_bits(a, b) -> bool:
  a, b = np.asarray(a), np.asarray(b)
  return (a.shape == b.shape and a.dtype == b.dtype
          and np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8)))


@pytest.mark.parametrize("seed", _SEEDS)
def test_draws_equal_tf_kernels(seed):
  key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=tf.constant(seed, tf.int64))
  for dtype in _DTYPES:
    # One XLA program per dtype for all shapes (compiling is most of the time).
    got = philox.draws(_SHAPES, [key] * len(_SHAPES), [counter] * len(_SHAPES), dtype)
    for shape, out in zip(_SHAPES, got):
      assert _same_bits(out, _tf_kernel(shape, key, counter, dtype)), (seed, shape, dtype)


@pytest.mark.parametrize("counter", [
    (2**32 - 1, 0),  # carry from word 0 into word 1
    (2**64 - 3, 5),  # carry from the low 64 bits into the high ones
    (2**64 - 1, 2**64 - 1),  # the 128-bit counter wraps
    (2**32 - 2, 2**40 + 2**32 - 1),
])
def test_counter_carries(counter):
  key = tf.constant([0xDEADBEEFCAFE1234], tf.uint64)
  counter = tf.constant(counter, tf.uint64)
  for dtype in _DTYPES:
    for shape in ([13], [3, 5]):
      assert _same_bits(philox.draw(shape, key, counter, dtype),
                        _tf_kernel(shape, key, counter, dtype)), (counter, dtype, shape)


def test_ops_draws_equal_stateless_uniform():
  for seed in (0, 3, 2**31 - 1, tf.constant(77, tf.int64), tf.constant(5, tf.int32)):
    for shape in ([3, 7, 5], [1, 224, 224, 3]):
      want = tf.random.stateless_uniform(shape, ops.stateless_seed(seed, "k"), dtype=tf.float64)
      assert _same_bits(ops.standard_uniform(shape, seed, "k"), want)
      want = tf.random.stateless_uniform(shape, ops.stateless_seed(seed, "w"), minval=None,
                                         maxval=None, dtype=tf.uint32)
      assert _same_bits(ops.uniform_words(shape, seed, "w"), want)
  several = ops.standard_uniforms([[2, 3], [5]], 9, ["a", "b"])
  for out, shape, key in zip(several, ([2, 3], [5]), "ab"):
    assert _same_bits(out, tf.random.stateless_uniform(shape, ops.stateless_seed(9, key),
                                                       dtype=tf.float64))


def test_ops_draws_in_graphs_static_and_dynamic_batch():
  """Static shapes take the XLA path, a dynamic batch TF's kernel: the same values."""
  seen = []

  def draw(images, seed):
    b = ops.static_batch_size(images)
    seen.append(philox.static_shape([b, 4, 3]) is not None)
    return (ops.standard_uniform([b, 4, 3], seed, "g"),
            ops.uniform_words(tf.shape(images), seed, "h"))

  images = tf.zeros([2, 4, 3, 3], tf.uint8)
  seed = tf.constant(11, tf.int64)
  want = (tf.random.stateless_uniform([2, 4, 3], ops.stateless_seed(11, "g"), dtype=tf.float64),
          tf.random.stateless_uniform([2, 4, 3, 3], ops.stateless_seed(11, "h"), minval=None,
                                      maxval=None, dtype=tf.uint32))
  static = tf.function(draw, autograph=False)
  dynamic = tf.function(draw, autograph=False, input_signature=[
      tf.TensorSpec([None, 4, 3, 3], tf.uint8), tf.TensorSpec([], tf.int64)])
  for fn in (static, dynamic):
    for got, expected in zip(fn(images, seed), want):
      assert _same_bits(got, expected)
  assert seen == [True, False]
