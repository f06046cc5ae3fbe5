"""The diamond-square plasma fractal of ImageNet-C's fog (``plasma_fractal``)."""

from __future__ import annotations

from typing import Sequence, Tuple

import tensorflow as tf

from tfds_bench.corruptions.xla_exact import no_contract


def next_power_of_2(x: int) -> int:
  return 1 if x == 0 else 2**(x - 1).bit_length()


def plasma_draw_shapes(mapsize: int) -> Tuple[Tuple[int, int], ...]:
  """Shapes of the np.random.uniform calls of `plasma_fractal`, in order."""
  shapes = []
  stepsize = mapsize
  while stepsize >= 2:
    k = mapsize // stepsize
    shapes += [(k, k)] * 3  # fillsquares, filldiamonds (lt), (tt)
    stepsize //= 2
  return tuple(shapes)


def plasma_fractal(uniforms: Sequence[tf.Tensor], wibbledecay: float,
                    nz=None) -> tf.Tensor:
  """`plasma_fractal` of the reference, batched: [B, mapsize, mapsize].

  `uniforms` are the standard-uniform [0, 1) draws behind each
  `np.random.uniform(-wibble, wibble, shape)` call (numpy computes
  low + (high - low) * u), each with a leading batch axis. The reference fills
  a strided array in place; here each level's grid (spacing s) is built from
  the previous one by interleaving corner, edge and centre values.
  """
  grid = tf.zeros_like(uniforms[0])  # [B, 1, 1]: maparray[0, 0] = 0
  wibble = 100.
  for level in range(len(uniforms) // 3):
    u_sq, u_lt, u_tt = uniforms[3 * level:3 * level + 3]

    def wibbledmean(array, u, wibble=wibble):
      return array / 4 + no_contract(
          wibble * (-wibble + no_contract((wibble - -wibble) * u, nz)), nz)

    ul = grid
    squareaccum = ul + tf.roll(ul, shift=-1, axis=1)
    squareaccum = squareaccum + tf.roll(squareaccum, shift=-1, axis=2)
    dr = wibbledmean(squareaccum, u_sq)
    ltsum = (dr + tf.roll(dr, 1, axis=1)) + (ul + tf.roll(ul, -1, axis=2))
    lt = wibbledmean(ltsum, u_lt)  # rows 0::s, cols s/2::s
    ttsum = (dr + tf.roll(dr, 1, axis=2)) + (ul + tf.roll(ul, -1, axis=1))
    tt = wibbledmean(ttsum, u_tt)  # rows s/2::s, cols 0::s
    k = grid.shape[1]
    even_rows = tf.reshape(tf.stack([ul, lt], axis=-1), [-1, k, 2 * k])
    odd_rows = tf.reshape(tf.stack([tt, dr], axis=-1), [-1, k, 2 * k])
    grid = tf.reshape(tf.stack([even_rows, odd_rows], axis=2),
                      [-1, 2 * k, 2 * k])
    wibble /= wibbledecay
  grid = grid - tf.reduce_min(grid, axis=(1, 2), keepdims=True)
  return grid / tf.reduce_max(grid, axis=(1, 2), keepdims=True)
