"""Resampling of the corruptions, bit-exact to the references' libraries.

* Pillow's BOX resize in fixed point (`pil_box_resize`: pixelate);
* the release's ``clipped_zoom`` (centre crop, ``scipy.ndimage.zoom(order=1)``,
  centre trim), two ways because two references need it: on float32 images
  through TF's align-corners bilinear resize, reproduced in XLA
  (`clipped_zoom_bilinear`: zoom_blur), and as an exact [n, n] matrix per
  axis (`clipped_zoom_matrix`: the snow layer, summed in the matmul's order);
* OpenCV's ``getAffineTransform`` + ``warpAffine`` (`cv2_inverse_affine`,
  `cv2_warp_affine`) and scipy's ``map_coordinates(order=1, mode='reflect')``
  (`map_coordinates_reflect`): elastic_transform.
"""

from __future__ import annotations

import functools
from typing import Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions import filters
from tfds_bench.corruptions import ops
from tfds_bench.corruptions.xla_exact import no_contract
from tfds_bench.corruptions.xla_exact import xla_function


def clipped_zoom_bilinear(x: tf.Tensor, zoom_factor: float, nz) -> tf.Tensor:
  """Release ``clipped_zoom`` on [B, H, W, C] float32, inside XLA (`nz`: see `no_contract`).

  Centre crop of ceil(n / z), ``scipy.ndimage.zoom(order=1)`` to round(ch * z)
  (scipy maps output i to input ``i * (in - 1) / (out - 1)``, the same as TF's
  ``align_corners=True`` bilinear resize, reproduced by `resize_bilinear_aligned`),
  then a centre trim to ``H x W``.
  """
  h, w = ops.static_hw(x)
  ch0, ch1 = int(np.ceil(h / float(zoom_factor))), int(np.ceil(w / float(zoom_factor)))
  top0, top1 = (h - ch0) // 2, (w - ch1) // 2
  out0, out1 = int(round(ch0 * zoom_factor)), int(round(ch1 * zoom_factor))
  x = resize_bilinear_aligned(x[:, top0:top0 + ch0, top1:top1 + ch1], out0, out1, nz)
  trim0, trim1 = (out0 - h) // 2, (out1 - w) // 2
  return x[:, trim0:trim0 + h, trim1:trim1 + w]


def resize_bilinear_aligned(x: tf.Tensor, out_h: int, out_w: int, nz) -> tf.Tensor:
  """TF's ``ResizeBilinear(align_corners=True)`` CPU kernel on float32, bit for bit, in XLA.

  The kernel's float32 source positions (`_bilinear_taps`) and its
  ``top + (bottom - top) * y_lerp`` of the two rows'
  ``left + (right - left) * x_lerp``, each product rounded on its own
  (`no_contract`). In XLA the resizes of zoom_blur fuse with their crops and
  sum instead of running as 11 TF kernels.
  """
  (top, bottom, y_lerp), (left, right, x_lerp) = (_bilinear_taps(x.shape[1], out_h),
                                                  _bilinear_taps(x.shape[2], out_w))

  def along_x(rows):
    l, r = tf.gather(rows, left, axis=2), tf.gather(rows, right, axis=2)
    return l + no_contract((r - l) * x_lerp[:, np.newaxis], nz)

  t, b = along_x(tf.gather(x, top, axis=1)), along_x(tf.gather(x, bottom, axis=1))
  return t + no_contract((b - t) * y_lerp[:, np.newaxis, np.newaxis], nz)


@functools.lru_cache(maxsize=None)
def _bilinear_taps(in_size: int, out_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(lower, upper, lerp) per output index, as resize_bilinear_op.cc computes them:
  ``in = float(i) * scale`` with ``scale = float(in - 1) / float(out - 1)``."""
  scale = np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else np.float32(0)
  position = np.arange(out_size, dtype=np.float32) * scale
  floor = np.floor(position)
  lower = np.maximum(floor, 0).astype(np.int32)
  upper = np.minimum(np.ceil(position), in_size - 1).astype(np.int32)
  return lower, upper, (position - floor).astype(np.float32)


_PIL_PRECISION_BITS = 32 - 8 - 2  # Pillow Resample.c


@functools.lru_cache(maxsize=None)
def pil_box_matrix(in_size: int, out_size: int) -> np.ndarray:
  """Fixed-point coefficients of Pillow's BOX resample, as an [out, in] matrix.

  Mirrors `precompute_coeffs` + `normalize_coeffs_8bpc` in Pillow's
  Resample.c (box_filter support 0.5, weights rounded to 22-bit integers), so
  non-integer factors (224 -> 134 -> 224 etc.) are reproduced exactly, which
  tf.image.resize('area') does not do.
  """
  scale = in_size / out_size
  filterscale = max(scale, 1.0)
  support = 0.5 * filterscale
  mat = np.zeros((out_size, in_size))
  for xx in range(out_size):
    center = (xx + 0.5) * scale
    ss = 1.0 / filterscale
    xmin = max(int(center - support + 0.5), 0)
    xmax = min(int(center + support + 0.5), in_size) - xmin
    ws = []
    for x in range(xmax):
      arg = (x + xmin - center + 0.5) * ss
      ws.append(1.0 if -0.5 < arg <= 0.5 else 0.0)
    total = sum(ws)
    for x, w in enumerate(ws):
      w = w / total if total != 0.0 else w
      mat[xx, xmin + x] = int((0.5 if w >= 0 else -0.5)
                              + w * (1 << _PIL_PRECISION_BITS))
  return mat


def _pil_int_pass(x: tf.Tensor, in_size: int, out_size: int) -> tf.Tensor:
  """One separable Pillow BOX pass along axis 1, in int32 as Pillow computes it.

  ``acc = 2^(PRECISION_BITS - 1) + sum_taps weight * value``, then
  ``clip8(acc >> PRECISION_BITS)``. Weights < 2^22 times values <= 255 (plus
  the rounding term) stay below 2^31, so the int32 sums are exact; whole rows
  are gathered.
  """
  if in_size == out_size:
    return x
  idx, wts = filters.matrix_taps((in_size, out_size), pil_box_matrix)
  shape = tf.concat([tf.shape(x)[:1], [out_size], tf.shape(x)[2:]], 0)
  acc = tf.fill(shape, 1 << (_PIL_PRECISION_BITS - 1))
  for t in range(idx.shape[1]):
    acc = acc + tf.gather(x, idx[:, t], axis=1) * tf.constant(
        wts[:, t].astype(np.int32).reshape(1, -1, 1, 1))
  return tf.clip_by_value(
      tf.bitwise.right_shift(acc, _PIL_PRECISION_BITS), 0, 255)


@xla_function
def pil_box_resize(x, out_h, out_w):
  """PIL ``Image.resize((out_w, out_h), Image.BOX)`` of [B, H, W, C] values 0..255, bit-exact.

  ``x``: an integer dtype (uint8, int32); the result has the same dtype, the
  arithmetic is int32 inside (the casts in here spare TF's own cast ops, which
  cost more than the resize on one image). Horizontal pass, then vertical, as
  Pillow. Rows are gathered whole, so the horizontal pass runs on the
  transposed image. pixelate runs its down and up in one XLA program with
  `xla_exact.materialize` between them: plainly fused, XLA recomputed the
  downsampled taps inside the upsampling gathers, slowest at severity 5.
  """
  dtype = x.dtype
  x = tf.transpose(tf.cast(x, tf.int32), [0, 2, 1, 3])
  x = _pil_int_pass(x, x.shape[1], out_w)
  x = tf.transpose(x, [0, 2, 1, 3])
  return tf.cast(_pil_int_pass(x, x.shape[1], out_h), dtype)


@functools.lru_cache(maxsize=None)
def clipped_zoom_matrix(n: int, zoom: float) -> np.ndarray:
  """[n, n] matrix of the release's `clipped_zoom` along one axis.

  Centre crop of ceil(n / zoom), scipy.ndimage.zoom(order=1) to
  round(ch * zoom) (align-corners mapping (in - 1) / (out - 1)), then the
  release's centred trim back to n.
  """
  ch = int(np.ceil(n / zoom))
  top = (n - ch) // 2
  out = int(round(ch * zoom))
  step = (ch - 1) / (out - 1)
  trim = (out - n) // 2
  mat = np.zeros((n, n))
  for o in range(n):
    cc = (o + trim) * step
    start = int(np.floor(cc))
    t = cc - start
    mat[o, top + start] += 1. - t
    if t != 0.:
      mat[o, top + min(start + 1, ch - 1)] += t
  return mat


def cv2_inverse_affine(pts1: np.ndarray, pts2: tf.Tensor) -> tf.Tensor:
  """cv2.getAffineTransform(pts1, pts2), then warpAffine's own inversion.

  Returns [B, 6] float64 (dst -> src map), as cv2 computes it.
  """
  src = np.concatenate([pts1.astype(np.float64), np.ones((3, 1))], axis=1)
  b = tf.shape(pts2)[0]
  m = tf.linalg.solve(tf.broadcast_to(tf.constant(src), [b, 3, 3]),
                      tf.cast(pts2, tf.float64))  # [B, 3, 2] = M^T
  m0, m1, m2 = m[:, 0, 0], m[:, 1, 0], m[:, 2, 0]
  m3, m4, m5 = m[:, 0, 1], m[:, 1, 1], m[:, 2, 1]
  d = m0 * m4 - m1 * m3
  d = ops.zero_where(d == 0., 1. / tf.where(d != 0., d, tf.ones_like(d)))
  a11, a22 = m4 * d, m0 * d
  m1, m3 = -m1 * d, -m3 * d
  b1 = -a11 * m2 - m1 * m5
  b2 = -m3 * m2 - a22 * m5
  return tf.stack([a11, m1, b1, m3, a22, b2], axis=-1)


def cv2_warp_affine(x: tf.Tensor, inv: tf.Tensor,
                    quantize: bool = True, nz=None) -> tf.Tensor:
  """cv2.warpAffine(x, M, INTER_LINEAR, BORDER_REFLECT_101), float32.

  quantize=True reproduces OpenCV <= 4.10 (the release's era): source
  coordinates in 1/1024 fixed point rounded to 1/32 pixel (INTER_BITS=5)
  before bilinear weighting. OpenCV >= 4.11 interpolates at float
  coordinates (quantize=False); the two differ by < 1/64 pixel.
  """
  h, w = x.shape[1], x.shape[2]
  inv = inv[:, :, tf.newaxis, tf.newaxis]
  xs = tf.range(w, dtype=tf.float64)[tf.newaxis, tf.newaxis, :]
  ys = tf.range(h, dtype=tf.float64)[tf.newaxis, :, tf.newaxis]
  if quantize:
    # imgwarp.cpp WarpAffineInvoker: AB_BITS = 10, INTER_BITS = 5,
    # saturate_cast<int> rounds half to even like tf.round,
    # round_delta = AB_SCALE / INTER_TAB_SIZE / 2 = 16.
    ab = 1024.
    x_fix = (tf.round(inv[:, 0] * xs * ab) +
             tf.round((no_contract(inv[:, 1] * ys, nz) + inv[:, 2]) * ab) + 16.)
    y_fix = (tf.round(inv[:, 3] * xs * ab) +
             tf.round((no_contract(inv[:, 4] * ys, nz) + inv[:, 5]) * ab) + 16.)
    x_fix = tf.floor(x_fix / 32.)  # >> (AB_BITS - INTER_BITS)
    y_fix = tf.floor(y_fix / 32.)
    x0, y0 = tf.floor(x_fix / 32.), tf.floor(y_fix / 32.)
    fx = tf.cast((x_fix - x0 * 32.) / 32., tf.float32)
    fy = tf.cast((y_fix - y0 * 32.) / 32., tf.float32)
  else:
    sx = tf.cast(no_contract(inv[:, 0] * xs, nz) + no_contract(inv[:, 1] * ys, nz) + inv[:, 2],
                 tf.float32)
    sy = tf.cast(no_contract(inv[:, 3] * xs, nz) + no_contract(inv[:, 4] * ys, nz) + inv[:, 5],
                 tf.float32)
    x0, y0 = tf.floor(sx), tf.floor(sy)
    fx, fy = sx - x0, sy - y0
    x0, y0 = tf.cast(x0, tf.float64), tf.cast(y0, tf.float64)

  def reflect101(i, n):
    i = tf.cast(i, tf.int32)
    m = tf.math.floormod(i, 2 * n - 2)
    return tf.where(m >= n, 2 * n - 2 - m, m)

  xi0, xi1 = reflect101(x0, w), reflect101(x0 + 1., w)
  yi0, yi1 = reflect101(y0, h), reflect101(y0 + 1., h)

  def at(yi, xi):
    return tf.gather_nd(x, tf.stack([yi, xi], axis=-1), batch_dims=1)

  w00 = ((1. - fy) * (1. - fx))[..., tf.newaxis]
  w01 = ((1. - fy) * fx)[..., tf.newaxis]
  w10 = (fy * (1. - fx))[..., tf.newaxis]
  w11 = (fy * fx)[..., tf.newaxis]
  return (no_contract(at(yi0, xi0) * w00, nz) + no_contract(at(yi0, xi1) * w01, nz) +
          no_contract(at(yi1, xi0) * w10, nz) + no_contract(at(yi1, xi1) * w11, nz))


def map_coordinates_reflect(x: tf.Tensor, yy: tf.Tensor,
                             xx: tf.Tensor, nz=None) -> tf.Tensor:
  """scipy.ndimage.map_coordinates(order=1, mode='reflect') per channel.

  x: [B, H, W, C] float32; yy, xx: [B, H, W] float64 sample coordinates.
  scipy (>= 1.6) interpolates linearly between the samples of the
  half-sample-symmetric extension (d c b a | a b c d | d c b a), at any
  distance from the image (checked against scipy in the tests); the sum is
  float64, stored as float32 (the input dtype).
  """
  h, w = x.shape[1], x.shape[2]

  def taps(c, n):
    start = tf.floor(c)
    t = c - start
    start = tf.cast(start, tf.int32)

    def extend(i):
      i = tf.math.floormod(i, 2 * n)
      return tf.where(i >= n, 2 * n - 1 - i, i)

    return extend(start), extend(start + 1), t

  y0, y1, ty = taps(yy, h)
  x0, x1, tx = taps(xx, w)
  x64 = tf.cast(x, tf.float64)

  def at(yi, xi):
    return tf.gather_nd(x64, tf.stack([yi, xi], axis=-1), batch_dims=1)

  ty, tx = ty[..., tf.newaxis], tx[..., tf.newaxis]
  def lerp_x(yi):
    return no_contract((1. - tx) * at(yi, x0), nz) + no_contract(tx * at(yi, x1), nz)

  out = no_contract((1. - ty) * lerp_x(y0), nz) + no_contract(ty * lerp_x(y1), nz)
  return tf.cast(out, tf.float32)


# /////////////// OpenCV's INTER_CUBIC resize of uint8 images ///////////////


def _cv2_cubic_taps(in_size: int, out_size: int):
  """Source indices ``[out, 4]`` and int16 weights ``[out, 4]`` of one axis.

  OpenCV ``resize`` (imgproc/src/resize.cpp, ``resizeGeneric_``): the source
  coordinate ``fx = float((dx + 0.5) * scale - 0.5)`` with ``scale = 1 /
  (out / in)`` in double, taps ``floor(fx) - 1 .. floor(fx) + 2`` clamped to
  the image (border replicate), Keys weights with A = -0.75 in float32
  (``interpolateCubic``), rounded to fixed point x 2048 (``saturate_cast<short>``).
  """
  scale = 1.0 / (float(out_size) / in_size)
  fx = ((np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
  start = np.floor(fx).astype(np.int64)
  x = (fx - start.astype(np.float32)).astype(np.float32)
  a = np.float32(-0.75)
  one = np.float32(1)
  x1 = x + one
  c0 = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
  c1 = ((a + 2) * x - (a + 3)) * x * x + one
  y = one - x
  c2 = ((a + 2) * y - (a + 3)) * y * y + one
  c3 = one - c0 - c1 - c2
  coeffs = np.stack([c0, c1, c2, c3], axis=1).astype(np.float32)
  weights = np.rint(coeffs * np.float32(2048)).astype(np.int64)
  index = np.clip(start[:, None] + np.arange(-1, 3)[None, :], 0, in_size - 1)
  return index, weights


def cv2_resize_cubic_uint8(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
  """``cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_CUBIC)``, uint8.

  numpy, bit-exact to pip OpenCV on x86 (checked against cv2 in the tests):
  the horizontal pass sums int16 weights in int32 (``HResizeCubic``); the
  vertical pass is OpenCV's SSE ``VResizeCubicVec_32s8u`` (weights / 2^22 in
  float32, ``S3 b3`` first then three multiply-adds, no FMA in the SSE3
  baseline, round half to even, saturate) on whole 8-lane vectors of each row
  and the scalar ``FixedPtCast`` ((sum + 2^21) >> 22) on the rest. Used once
  per image size (frost's texture rescale), so numpy is fast enough.
  """
  image = np.asarray(image, np.uint8)
  in_h, in_w, channels = image.shape
  x_index, x_weights = _cv2_cubic_taps(in_w, out_w)
  y_index, y_weights = _cv2_cubic_taps(in_h, out_h)
  src = image.astype(np.int64)
  # Horizontal: [in_h, out_w, C], integer sums.
  rows = np.einsum("hwkc,wk->hwc", src[:, x_index], x_weights)
  # Vertical: the four source rows of each output row.
  taps = rows[y_index].reshape(out_h, 4, out_w * channels)
  row_len = out_w * channels
  vector_len = row_len - row_len % 8  # v_int16 lanes in 128-bit SSE
  out = np.empty((out_h, row_len), np.int64)
  beta = (y_weights.astype(np.float32) * np.float32(1.0 / (2048 * 2048)))[:, :, None]
  t = taps[:, :, :vector_len].astype(np.float32)
  acc = t[:, 3] * beta[:, 3]
  for k in (2, 1, 0):
    acc = t[:, k] * beta[:, k] + acc
  out[:, :vector_len] = np.rint(acc).astype(np.int64)
  tail = np.einsum("hkx,hk->hx", taps[:, :, vector_len:], y_weights)
  out[:, vector_len:] = (tail + (1 << 21)) >> 22
  return np.clip(out, 0, 255).astype(np.uint8).reshape(out_h, out_w, channels)
