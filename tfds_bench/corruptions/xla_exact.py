"""Always-XLA-compiled helpers that keep numpy's rounding.

The corruptions run their arithmetic in functions compiled by `xla_function`:
XLA fuses elementwise chains and gathers into a few loops without
reassociating, and being always compiled, a helper gives the same bytes
eagerly, in graphs and in tf.data. Two things are written around:

* XLA:CPU lets LLVM contract ``a * b + c`` into one fused multiply-add (a
  single rounding), which numpy and TF's kernels never do; on float64 sums that
  moves about a third of the results by an ulp (measured on random data), and
  after the reference's uint8 truncation a value sitting on an integer -- every
  pixel of a flat region under a blur -- can come out one grey level apart.
  `no_contract` keeps such products separately rounded.
* division by a constant (XLA, like grappler, may turn it into a
  multiplication by the reciprocal): use the lookup of `ops.to_unit`, or pass
  the divisor in as a tensor argument. Large float64 matmuls and reductions,
  whose summation order would change, stay in TF's kernels.

And one for speed: XLA:CPU recomputes a fused producer at every read of a
consumer that reads each element several times (filter taps, gathers);
`materialize` computes such an intermediate once, inside one program.
"""

import tensorflow as tf
# TF's wrappers of the XLA ops (tf.raw_ops does not list XlaDynamicSlice).
from tensorflow.compiler.tf2xla.python import xla as tf2xla


def xla_function(fn):
  """``fn`` as an always-XLA-compiled ``tf.function`` (no autograph).

  Python arguments (severities, flags) are trace-time constants: Python
  ``if``/``for`` over them unroll while tracing.
  """
  return tf.function(fn, jit_compile=True, autograph=False)


def operand(value, dtype=tf.float64) -> tf.Tensor:
  """A per-severity parameter as a run-time operand of an XLA helper.

  Python numbers given to an `xla_function` are trace-time constants: one
  compiled program per value, i.e. per severity, which costs more than the
  work itself when a builder corrupts a few images per severity. Passed as a
  tensor, one program serves every severity. The arithmetic is the same IEEE
  operations either way (XLA only rewrites divisions by constants, see above),
  so the bytes do not change.
  """
  return tf.constant(value, dtype)


def negzero() -> tf.Tensor:
  """-0.0 as a runtime argument of the XLA helpers (see `no_contract`)."""
  return tf.constant(-0., tf.float64)


def no_contract(p: tf.Tensor, nz) -> tf.Tensor:
  """Keeps the product p a separately rounded value inside XLA.

  Adding ``nz`` (-0.0 passed in as a tensor, so nothing can fold it) makes the
  consumer see an add, not a product: at worst fma(a, b, -0.) == a * b
  rounded, and x + -0. == x for every x. ``nz=None`` (plain TF ops) leaves p
  alone.
  """
  return p if nz is None else p + tf.cast(nz, p.dtype)


def dynamic_slice(x: tf.Tensor, begin: tf.Tensor, size) -> tf.Tensor:
  """``tf.slice(x, begin, size)`` with ``begin`` a run-time value, inside XLA only.

  tf2xla compiles ``tf.slice``'s begin as a compile-time constant, so a begin
  computed from a random draw would compile one program per drawn value; XLA's
  DynamicSlice takes it as a run-time operand (the size stays static). Starts
  are clamped into range like ``xla::DynamicSlice`` (callers keep them in range).
  """
  return tf2xla.dynamic_slice(x, begin, tf.constant(size, tf.int32))


def materialize(x: tf.Tensor, nz) -> tf.Tensor:
  """``x``, computed once into its own buffer, inside XLA only.

  XLA:CPU fuses a cheap elementwise producer into every consumer; when the
  consumer reads each element several times (the taps of a filter, the four
  gathers of a bilinear lookup), the producer is recomputed per read (a
  gaussian pass inside the next pass's 15 taps: 15x its work). A conditional
  is a fusion boundary, and one on a run-time predicate (``nz == 0``, always
  true, `negzero` being a tensor argument) cannot be folded away, so ``x``
  leaves it as a buffer: one compiled program instead of one XLA call per
  stage. Both branches return ``x`` itself, so the bytes are the same. (An
  optimization barrier is removed before fusion on XLA:CPU, and a division by
  a run-time 1 was still fused: both measured.)
  """
  return tf.cond(tf.equal(nz, 0.), lambda: x, lambda: x)
