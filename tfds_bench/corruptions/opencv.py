"""OpenCV ops of spatter's water branch, bit-exact: Canny, distanceTransform, equalizeHist.

pip's OpenCV wheels are the reference (`distance_transform_l2_5` follows their
IPP float32 path). Canny and the distance transform run always XLA-compiled.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions import filters
from tfds_bench.corruptions import ops
from tfds_bench.corruptions.xla_exact import xla_function


def canny(img: tf.Tensor, low: int, high: int) -> tf.Tensor:
  return _canny_xla(tf.convert_to_tensor(img), low, high)


@xla_function
def _canny_xla(img, low, high):
  """cv2.Canny(img, low, high) (aperture 3, L1 gradient), bool [B, H, W].

  Sobel with replicated border (tf SYMMETRIC == replicate for 1 pixel),
  OpenCV's integer non-maximum suppression (tan 22.5 deg in Q15, zero
  magnitude outside the image), hysteresis over 8-neighbours.
  """
  x = tf.cast(img, tf.int32)
  sob = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
  dx = filters.conv3x3(x, sob, "SYMMETRIC")
  dy = filters.conv3x3(x, sob.T, "SYMMETRIC")
  mag = tf.abs(dx) + tf.abs(dy)
  h, w = img.shape[1], img.shape[2]
  mp = tf.pad(mag, [[0, 0], [1, 1], [1, 1]])

  def nb(di, dj):
    return mp[:, 1 + di:1 + di + h, 1 + dj:1 + dj + w]

  ax = tf.abs(dx)
  ay = tf.abs(dy) * (1 << 15)
  tg22x = ax * 13573  # int(0.4142135623730950488 * (1 << 15) + 0.5)
  tg67x = tg22x + ax * (1 << 16)
  horizontal = (mag > nb(0, -1)) & (mag >= nb(0, 1))
  vertical = (mag > nb(-1, 0)) & (mag >= nb(1, 0))
  same_sign = (dx < 0) == (dy < 0)  # (xs ^ ys) >= 0
  diag = tf.where(same_sign, (mag > nb(-1, -1)) & (mag > nb(1, 1)),
                  (mag > nb(-1, 1)) & (mag > nb(1, -1)))
  nms = tf.where(ay < tg22x, horizontal, tf.where(ay > tg67x, vertical, diag))
  candidate = (mag > low) & nms
  strong = candidate & (mag > high)

  def grow(edges):
    e = tf.cast(edges, tf.int32)[..., tf.newaxis]
    dil = tf.nn.max_pool2d(e, 3, 1, "SAME")[..., 0] > 0
    return dil & candidate

  def cond(prev, cur):
    return tf.reduce_any(prev != cur)

  def body(prev, cur):
    del prev
    # One dilation per check: chaining several in one fused body was slower.
    return cur, grow(cur) | cur

  _, edges = tf.while_loop(cond, body, (tf.zeros_like(strong), strong))
  return edges


# Measured with 2, 3, 4 and 6 on spatter's fields: 3 was fastest (4 level, 6
# slower: past convergence the extra relaxations are wasted work).
RELAXATIONS_PER_CHECK = 3


def distance_transform_l2_5(zero: tf.Tensor, cap: float,
                             fixed_point: bool = False) -> tf.Tensor:
  return _distance_transform_xla(tf.convert_to_tensor(zero), cap, fixed_point)


@xla_function
def _distance_transform_xla(zero, cap, fixed_point):
  """cv2.distanceTransform(src, DIST_L2, 5) where `zero` marks src == 0.

  OpenCV's 5x5 chamfer mask (1, 1.4, 2.1969), the outside of the image
  unreachable. pip's OpenCV wheels run this through IPP
  (ippiDistanceTransform_5x5_8u32f), which accumulates the float32 weights;
  OpenCV's own code (fixed_point=True) rounds them to 16-bit fixed point
  first. The two differ by < 1e-4. Only min(d, cap) is needed (the caller
  truncates at 20), so a bounded number of min-plus relaxations of the full
  mask gives the two-pass result there (each move costs >= 1).
  """
  scale = (1 << 16) if fixed_point else 1
  weights = np.float32([1.0, 1.4, 2.1969])
  if fixed_point:
    a, b, c = (float(np.rint(v * np.float64(scale))) for v in weights)
  else:
    a, b, c = weights
  offsets = []
  for di in range(-2, 3):
    for dj in range(-2, 3):
      d2 = di * di + dj * dj
      cost = {1: a, 2: b, 5: c}.get(d2)
      if cost is not None:
        offsets.append((di, dj, cost))
  # Values above cap + the longest step are clipped there: anything derived
  # from them stays > cap, so the result below cap is unchanged, and regions
  # far from edges converge at once instead of counting up from infinity.
  ceiling = (cap + 3.) * scale
  h, w = zero.shape[1], zero.shape[2]
  d0 = tf.where(zero, tf.zeros(tf.shape(zero)), tf.fill(tf.shape(zero),
                                                         ceiling))

  by_cost = {}
  for di, dj, cost in offsets:
    by_cost.setdefault(cost, []).append((di, dj))

  def relax(d):
    # min_k(d_k + cost) == min_k(d_k) + cost exactly (rounding is monotone).
    dp = tf.pad(d, [[0, 0], [2, 2], [2, 2]], constant_values=ceiling)
    best = d
    for cost, shifts in by_cost.items():
      m = None
      for di, dj in shifts:
        s = dp[:, 2 + di:2 + di + h, 2 + dj:2 + dj + w]
        m = s if m is None else tf.minimum(m, s)
      best = tf.minimum(best, m + np.float32(cost))
    return best

  def cond(i, prev, cur):
    return (i < int(np.ceil(cap)) + 2) & tf.reduce_any(prev != cur)

  def body(i, prev, cur):
    # RELAXATIONS_PER_CHECK relaxations between convergence checks: the check
    # and the loop's round trip cost as much as a relaxation (spatter's
    # distance transform 1.57 -> 1.15 ms at severity 1). Relaxing past
    # convergence, or past the bound, changes nothing below the cap.
    del prev
    for _ in range(RELAXATIONS_PER_CHECK - 1):
      cur = relax(cur)
    return i + RELAXATIONS_PER_CHECK, cur, relax(cur)

  _, _, d = tf.while_loop(cond, body, (0, d0 - 1., d0))
  if not fixed_point:
    return d
  return tf.cast(tf.cast(d, tf.float64) * (1. / scale), tf.float32)


def equalize_hist(img: tf.Tensor) -> tf.Tensor:
  """cv2.equalizeHist on uint8 [B, H, W]."""
  return _equalize_hist_xla(tf.convert_to_tensor(img))


@xla_function
def _equalize_hist_xla(img):
  """`equalize_hist` in XLA: TF's bincount and gather kernels were much of spatter's time."""
  b = ops.batch_size(img)
  total = img.shape[1] * img.shape[2]
  flat = tf.cast(tf.reshape(img, [b, total]), tf.int32)
  # Per row [b, 256]; the raw op, so that XLA sees the constant size.
  hist = tf.raw_ops.DenseBincount(input=flat, size=256, weights=tf.zeros([0], tf.int32))
  first = tf.argmax(tf.cast(hist > 0, tf.int32), axis=1, output_type=tf.int32)
  h_first = tf.gather(hist, first, batch_dims=1)
  scale = tf.cast(255., tf.float32) / tf.cast(total - h_first, tf.float32)
  cum = tf.cumsum(hist, axis=1) - h_first[:, tf.newaxis]
  lut = tf.round(tf.cast(cum, tf.float32) * scale[:, tf.newaxis])
  lut = tf.clip_by_value(lut, 0., 255.)
  bins = tf.range(256)[tf.newaxis]
  lut = tf.where(bins <= first[:, tf.newaxis], 0., lut)
  # Single-valued image: everything maps to that value.
  lut = tf.where((h_first == total)[:, tf.newaxis],
                 tf.cast(first[:, tf.newaxis], tf.float32), lut)
  out = tf.cast(tf.gather(lut, flat, batch_dims=1), tf.uint8)
  return tf.reshape(out, tf.shape(img))
