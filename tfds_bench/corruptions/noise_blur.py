"""ImageNet-C noise and blur corruptions as batched TensorFlow ops.

Reference: hendrycks/robustness ``ImageNet-C/create_c/make_imagenet_c.py`` (the
code that produced the released 224x224 archives) and PyPI ``imagecorruptions``
1.1.2 ``imagecorruptions/corruptions.py`` (the same code adapted to any size).
Parameters per severity are the published ones. Every function takes a uint8
``[B, H, W, 3]`` tensor (static H, W) and returns uint8 of the same shape: the
reference returns floats in [0, 255] which the release saved after
``np.uint8(...)``, i.e. *truncation*, which we reproduce with ``floor``.

Randomness uses ``tf.random.stateless_*`` with a seed derived from
``(seed, corruption name)``, so results are deterministic for a seed, eagerly and
inside ``tf.function`` / ``tf.data``. Each random corruption is split into a
public function (draws the randomness) and a private ``_*_from_draws`` function
(all the arithmetic), so the tests can feed the reference's own numpy draws and
require identical output.

Known, documented differences from the release:
  * motion_blur: the release called ImageMagick's ``MagickMotionBlurImage``; we
    implement ``imagecorruptions``' numpy ``_motion_blur`` approximation of it
    (angle uniform(-45, 45), edge-replicating shifts), as the only portable one.
  * impulse_noise: skimage >= 0.19 draws the s&p masks with ``rng.random() <= p``,
    the release-era skimage with ``np.random.choice([True, False], p=[p, 1-p])``;
    both are independent Bernoulli(p) per value (and Bernoulli(0.5) salt), which
    is what we draw. Bit-exact numpy streams are not reproducible in TF anyway.
  * zoom_blur: ``imagecorruptions.clipped_zoom`` keeps the top-left ``H x W`` of
    the zoomed crop, the release trims ``(zoomed - h) // 2`` first. For 224x224
    and factors <= 1.3 the zoomed crop is 224 or 225 pixels, the trim is 0 and the
    two agree; we follow the release formula (centre trim) for other sizes too.

Precision: the noise corruptions and motion_blur compute in float64 like the
reference and are bit-identical to it given the same draws (eager and in
graph mode: ``x / 255`` is a table lookup because grappler rewrites divisions by
constants). The filters (gaussian, defocus, zoom, glass) run in float32 for
speed; they differ from the reference only by one uint8 level where a value
sits on a truncation boundary (<= 5e-5 of values; ~2% for defocus severity 1).
"""

from __future__ import annotations

import math
import zlib
from typing import Callable, Dict, Tuple

import numpy as np
import tensorflow as tf

# /////////////// Shared helpers ///////////////


def _stateless_seed(seed: int, name: str) -> tf.Tensor:
  """Stateless RNG seed from the user seed and the corruption's name.

  Mixing in the name keeps e.g. gaussian_noise and speckle_noise draws
  independent for the same user seed.
  """
  return tf.constant([int(seed) & 0x7FFFFFFF, zlib.crc32(name.encode()) & 0x7FFFFFFF],
                     dtype=tf.int64)


def _static_hw(images: tf.Tensor) -> Tuple[int, int]:
  """Static height and width; the filter matrices are built from them."""
  h, w = images.shape[1], images.shape[2]
  if h is None or w is None:
    raise ValueError(f"noise/blur corruptions need a static image size, got {images.shape}")
  return int(h), int(w)


def _to_uint8_truncate(x255: tf.Tensor) -> tf.Tensor:
  """``np.uint8(x)`` of a float array in [0, 255]: truncation, not rounding."""
  return tf.cast(tf.floor(tf.clip_by_value(x255, 0.0, 255.0)), tf.uint8)


def _unit_clip_to_uint8(x: tf.Tensor) -> tf.Tensor:
  """The reference's ``np.clip(x, 0, 1) * 255`` followed by ``np.uint8``."""
  return _to_uint8_truncate(tf.clip_by_value(x, 0.0, 1.0) * 255.0)


def _unit_float64(images: tf.Tensor) -> tf.Tensor:
  """``np.array(x) / 255.`` bit for bit, as a 256-entry table lookup.

  Inside ``tf.function`` grappler rewrites ``x / 255.`` into ``x * (1 / 255.)``,
  which differs in the last bit for some values; after ``* 255`` and the uint8
  truncation that turns e.g. 148 into 147 (or not) differently from numpy. The
  lookup is immune to such rewrites.
  """
  table = tf.constant(np.arange(256, dtype=np.float64) / 255.)
  return tf.gather(table, tf.cast(images, tf.int32))


def _unit_float32(images: tf.Tensor) -> tf.Tensor:
  """``float32(x / 255.)`` as a table lookup, immune to grappler (see above)."""
  table = tf.constant((np.arange(256) / 255.).astype(np.float32))
  return tf.gather(table, tf.cast(images, tf.int32))


def _gaussian_matrix(n: int, sigma: float) -> np.ndarray:
  """Matrix A with ``A @ v == scipy.ndimage.gaussian_filter1d(v, sigma)``.

  Uses skimage/scipy defaults of ``skimage.filters.gaussian``: ``mode='nearest'``
  (edge replication) and ``truncate=4.0`` (radius ``int(4 * sigma + 0.5)``);
  kernel = normalised ``exp(-x^2 / (2 sigma^2))`` (scipy ``_gaussian_kernel1d``).
  Folding the border into a dense matrix makes the blur two matmuls.
  """
  radius = int(4.0 * float(sigma) + 0.5)
  x = np.arange(-radius, radius + 1)
  phi = np.exp(-0.5 / (float(sigma) * float(sigma)) * x.astype(np.float64)**2)
  phi /= phi.sum()
  a = np.zeros((n, n), dtype=np.float64)
  rows = np.arange(n)
  for k, weight in zip(x, phi):
    np.add.at(a, (rows, np.clip(rows + k, 0, n - 1)), weight)
  return a


def _separable(x: tf.Tensor, a_rows: np.ndarray, a_cols: np.ndarray) -> tf.Tensor:
  """``out[b, :, :, c] = a_rows @ x[b, :, :, c] @ a_cols.T`` for [B, H, W, C]."""
  ar = tf.constant(a_rows, dtype=x.dtype)
  ac = tf.constant(a_cols, dtype=x.dtype)
  x = tf.transpose(x, [0, 3, 1, 2])  # [B, C, H, W]: matmuls act on the last 2 axes.
  x = tf.matmul(tf.matmul(ar, x), ac, transpose_b=True)
  return tf.transpose(x, [0, 2, 3, 1])


def _skimage_gaussian(x: tf.Tensor, sigma: float) -> tf.Tensor:
  """``skimage.filters.gaussian(x, sigma, channel_axis=-1)`` on [B, H, W, C].

  (The reference's ``multichannel=True``: no blur across channels.)
  """
  h, w = _static_hw(x)
  return _separable(x, _gaussian_matrix(h, sigma), _gaussian_matrix(w, sigma))


# /////////////// Noise ///////////////

_GAUSSIAN_NOISE = (.08, .12, 0.18, 0.26, 0.38)
_SHOT_NOISE = (60, 25, 12, 5, 3)
_IMPULSE_NOISE = (.03, .06, .09, 0.17, 0.27)
_SPECKLE_NOISE = (.15, .2, 0.35, 0.45, 0.6)


def _gaussian_noise_from_draws(images, severity: int, noise) -> tf.Tensor:
  """``gaussian_noise``: clip(x / 255 + noise, 0, 1) * 255, noise ~ N(0, c^2).

  Float64 like the reference so identical draws give identical bytes.
  """
  del severity  # The scale is already in ``noise``.
  x = _unit_float64(images)
  return _unit_clip_to_uint8(x + tf.cast(noise, tf.float64))


def gaussian_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``gaussian_noise`` (make_imagenet_c.py / imagecorruptions)."""
  c = _GAUSSIAN_NOISE[severity - 1]
  # float32 draws (half the cost of float64 ones), arithmetic in float64.
  z = tf.cast(tf.random.stateless_normal(tf.shape(images),
                                         _stateless_seed(seed, "gaussian_noise")), tf.float64)
  return _gaussian_noise_from_draws(images, severity, c * z)


def _shot_noise_from_draws(images, severity: int, counts) -> tf.Tensor:
  """``shot_noise``: clip(poisson(x / 255 * c) / c, 0, 1) * 255."""
  c = _SHOT_NOISE[severity - 1]
  # count / c as a table lookup (see _unit_float64); counts >= c clip to 1 anyway.
  table = tf.constant(np.arange(c + 1, dtype=np.float64) / float(c))
  counts = tf.minimum(tf.cast(counts, tf.int32), c)
  return _unit_clip_to_uint8(tf.gather(table, counts))


def shot_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``shot_noise``; Poisson counts with rate x / 255 * c."""
  c = float(_SHOT_NOISE[severity - 1])
  lam = tf.cast(images, tf.float32) / 255.0 * c
  counts = tf.random.stateless_poisson(tf.shape(images), _stateless_seed(seed, "shot_noise"),
                                       lam, dtype=tf.float32)
  return _shot_noise_from_draws(images, severity, counts)


def _impulse_noise_from_draws(images, severity: int, flipped, salted) -> tf.Tensor:
  """``impulse_noise`` = skimage ``random_noise(x / 255, 's&p', amount=c)``.

  skimage: ``out[flipped & salted] = 1; out[flipped & ~salted] = 0`` with
  flipped ~ Bernoulli(c), salted ~ Bernoulli(0.5), independently per value
  (per channel too); then clip and * 255.
  """
  del severity  # The amount is already in ``flipped``.
  x = _unit_float64(images)
  x = tf.where(flipped, tf.where(salted, tf.ones_like(x), tf.zeros_like(x)), x)
  return _unit_clip_to_uint8(x)


def impulse_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``impulse_noise`` (skimage ``_bernoulli``: ``random() <= p``)."""
  c = _IMPULSE_NOISE[severity - 1]
  u = tf.random.stateless_uniform(tf.concat([[2], tf.shape(images)], 0),
                                  _stateless_seed(seed, "impulse_noise"))
  return _impulse_noise_from_draws(images, severity, u[0] <= c, u[1] <= 0.5)


def _speckle_noise_from_draws(images, severity: int, noise) -> tf.Tensor:
  """``speckle_noise``: clip(x + x * noise, 0, 1) * 255, noise ~ N(0, c^2)."""
  del severity
  x = _unit_float64(images)
  return _unit_clip_to_uint8(x + x * tf.cast(noise, tf.float64))


def speckle_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``speckle_noise``."""
  c = _SPECKLE_NOISE[severity - 1]
  z = tf.cast(tf.random.stateless_normal(tf.shape(images),
                                         _stateless_seed(seed, "speckle_noise")), tf.float64)
  return _speckle_noise_from_draws(images, severity, c * z)


# /////////////// Blur ///////////////

_GAUSSIAN_BLUR = (1, 2, 3, 4, 6)
# sigma, max_delta, iterations
_GLASS_BLUR = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
_DEFOCUS_BLUR = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))
_MOTION_BLUR = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
_ZOOM_BLUR = (np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.02),
              np.arange(1, 1.26, 0.02), np.arange(1, 1.31, 0.03))


def gaussian_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``gaussian_blur``: skimage gaussian(x / 255, sigma=c), clip, * 255.

  Float32 matmuls: the float64 reference differs only where its output sits
  within ~1e-4 of an integer (a 1-level truncation flip).
  """
  del seed
  x = _unit_float32(images)
  return _unit_clip_to_uint8(_skimage_gaussian(x, _GAUSSIAN_BLUR[severity - 1]))


def _glass_shuffle_sources(offsets: tf.Tensor, h: int, w: int, d: int) -> tf.Tensor:
  """Flat source index of every pixel after one pass of the reference's swap loop.

  The reference loop ``for h in range(H-d, d, -1): for w in range(W-d, d, -1):
  x[h, w], x[h', w'] = x[h', w'], x[h, w]`` on an ``[H, W, 3]`` array is *not* a
  swap: the right side holds views, so after ``x[h, w] = x[h', w']`` the second
  assignment writes x[h', w'] back onto itself. One pass therefore writes every
  inner pixel exactly once, at its own step, with the *current* value of its
  source. The scan runs in decreasing flat index ``h * W + w``, so the source was
  already overwritten iff it is an inner pixel with a larger flat index; then its
  value is its own final value, else its value from before the pass. Following
  "already overwritten" links (strictly decreasing in scan time, so acyclic) to
  their end gives each pixel's source in the pre-pass image; the chains are found
  by pointer doubling in O(log length) gathers, exactly reproducing the aliasing.

  Args:
    offsets: int32 ``[B, H-2d, W-2d, 2]`` the reference's ``(dx, dy)`` draws in
      its loop order (index 0 is h = H-d, w = W-d).
    h: image height.
    w: image width.
    d: max_delta.

  Returns:
    int32 ``[B, H*W]``: pixel p of the result is pixel ``src[p]`` of the input.
  """
  # Loop order is decreasing h and w; flip to increasing and pad to the full grid
  # (inner rows/cols are d+1 .. H-d: d+1 before them, d-1 after).
  offsets = tf.reverse(offsets, axis=[1, 2])
  offsets = tf.pad(offsets, [[0, 0], [d + 1, d - 1], [d + 1, d - 1], [0, 0]])
  dx, dy = offsets[..., 0], offsets[..., 1]
  rows = tf.range(h, dtype=tf.int32)[:, tf.newaxis]
  cols = tf.range(w, dtype=tf.int32)[tf.newaxis, :]

  def inner(r, c):
    return (r >= d + 1) & (r <= h - d) & (c >= d + 1) & (c <= w - d)

  src_r, src_c = rows + dy, cols + dx
  flat = rows * w + cols  # [H, W]
  src = tf.where(inner(rows, cols), src_r * w + src_c, flat)  # [B, H, W]
  chained = inner(rows, cols) & inner(src_r, src_c) & (src > flat)
  batch = tf.shape(offsets)[0]
  link = tf.reshape(tf.where(chained, src, flat + tf.zeros_like(src)), [batch, h * w])
  src = tf.reshape(src, [batch, h * w])

  def not_done(link, prev):
    return tf.reduce_any(tf.not_equal(link, prev))

  def double(link, prev):
    del prev
    return tf.gather(link, link, batch_dims=1), link

  if d == 1:
    # Offsets are in {-1, 0}: a source is never overwritten before it is read.
    return src
  link, _ = tf.while_loop(not_done, double, (tf.gather(link, link, batch_dims=1), link),
                          maximum_iterations=64)
  return tf.gather(src, link, batch_dims=1)


def _glass_blur_from_draws(images, severity: int, offsets) -> tf.Tensor:
  """``glass_blur`` with the loop's offsets given.

  Args:
    images: uint8 ``[B, H, W, 3]``.
    severity: 1..5.
    offsets: int ``[B, iterations, H-2d, W-2d, 2]``, the reference's
      ``np.random.randint(-d, d, size=(2,))`` draws ``(dx, dy)`` in loop order.

  Returns:
    uint8 ``[B, H, W, 3]``.
  """
  sigma, d, iterations = _GLASS_BLUR[severity - 1]
  h, w = _static_hw(images)
  # Float32 (4x faster than float64 here): the intermediate np.uint8 truncation
  # then differs from the float64 reference by one level at ~1e-4 of the values.
  x = _to_uint8_truncate(_skimage_gaussian(_unit_float32(images), sigma) * 255.0)
  batch = tf.shape(x)[0]
  flat = tf.reshape(x, [batch, h * w, 3])
  offsets = tf.cast(offsets, tf.int32)
  for i in range(iterations):
    flat = tf.gather(flat, _glass_shuffle_sources(offsets[:, i], h, w, d), batch_dims=1)
  x = _unit_float32(tf.reshape(flat, [batch, h, w, 3]))
  return _unit_clip_to_uint8(_skimage_gaussian(x, sigma))


def glass_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``glass_blur``: gaussian, uint8, local pixel "shuffle", gaussian."""
  _, d, iterations = _GLASS_BLUR[severity - 1]
  h, w = _static_hw(images)
  shape = tf.stack([tf.shape(images)[0], iterations, h - 2 * d, w - 2 * d, 2])
  offsets = tf.random.stateless_uniform(shape, _stateless_seed(seed, "glass_blur"),
                                        minval=-d, maxval=d, dtype=tf.int32)
  return _glass_blur_from_draws(images, severity, offsets)


def _reflect101_smooth(kernel: np.ndarray, ksize: int, sigma: float) -> np.ndarray:
  """``cv2.GaussianBlur(kernel, (ksize, ksize), sigma)`` on a float32 2-D array.

  cv2.getGaussianKernel (sigma > 0): normalised exp(-(i - (n-1)/2)^2 / (2 sigma^2))
  computed in double, stored as float32; separable, border BORDER_REFLECT_101.
  """
  i = np.arange(ksize, dtype=np.float64) - (ksize - 1) * 0.5
  g = np.exp(-0.5 / (sigma * sigma) * i * i)
  g = (g / g.sum()).astype(np.float32)
  r = ksize // 2
  out = kernel.astype(np.float32)
  for axis in (1, 0):  # cv2 filters rows first, then columns.
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    padded = np.pad(out, pad, mode="reflect")  # numpy "reflect" == REFLECT_101.
    n = out.shape[axis]
    out = sum(g[k] * np.take(padded, np.arange(k, k + n), axis=axis) for k in range(ksize))
    out = out.astype(np.float32)
  return out


def _disk(radius: int, alias_blur: float) -> np.ndarray:
  """Reference ``disk``: aliased disk on a >= 17x17 grid, then a small Gaussian."""
  if radius <= 8:
    coords, ksize = np.arange(-8, 8 + 1), 3
  else:
    coords, ksize = np.arange(-radius, radius + 1), 5
  xx, yy = np.meshgrid(coords, coords)
  aliased = np.array((xx**2 + yy**2) <= radius**2, dtype=np.float32)
  aliased /= np.sum(aliased)
  return _reflect101_smooth(aliased, ksize, alias_blur)


def defocus_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``defocus_blur``: ``cv2.filter2D`` with the disk per channel.

  filter2D is a correlation with BORDER_REFLECT_101 (TF's "REFLECT" padding).
  """
  del seed
  radius, alias_blur = _DEFOCUS_BLUR[severity - 1]
  kernel = _disk(radius, alias_blur)
  r = kernel.shape[0] // 2
  x = _unit_float32(images)
  x = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
  filters = tf.constant(np.repeat(kernel[:, :, np.newaxis, np.newaxis], 3, axis=2))
  x = tf.nn.depthwise_conv2d(x, filters, strides=[1, 1, 1, 1], padding="VALID")
  return _unit_clip_to_uint8(x)


def _motion_shifts(angles: tf.Tensor, width: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """Per-tap (dy, dx) of imagecorruptions ``_motion_blur``, float64 as there."""
  angles = tf.cast(angles, tf.float64)[:, tf.newaxis]
  rad = angles * (math.pi / 180.0)  # np.deg2rad
  p0, p1 = width * tf.sin(rad), width * tf.cos(rad)
  hypot = tf.sqrt(p0 * p0 + p1 * p1)
  i = tf.range(width, dtype=tf.float64)[tf.newaxis, :]
  dy = -tf.math.ceil(i * p0 / hypot - 0.5)
  dx = -tf.math.ceil(i * p1 / hypot - 0.5)
  return tf.cast(dy, tf.int32), tf.cast(dx, tf.int32)


def _motion_blur_from_draws(images, severity: int, angles) -> tf.Tensor:
  """imagecorruptions ``motion_blur`` with the angles (degrees, ``[B]``) given.

  ``_motion_blur``: sum over taps i < 2*radius+1 of ``k[i] * shift(x, dx_i, dy_i)``
  where ``shift`` replicates the edge, i.e. ``x[clip(r - dy), clip(c - dx)]``;
  k = normalised exp(-i^2 / (2 sigma^2)). The taps' break on leaving the image
  never triggers for images larger than the kernel (>= 41 pixels).
  Each tap is a gather from an edge-padded copy of the flattened image.
  """
  radius, sigma = _MOTION_BLUR[severity - 1]
  width = 2 * radius + 1
  h, w = _static_hw(images)
  if min(h, w) <= width:
    raise ValueError(f"motion_blur needs images larger than {width} pixels, got {h}x{w}")
  k = np.exp(-np.arange(width, dtype=np.float64)**2 / (2 * sigma**2)) / (
      np.sqrt(2 * np.pi) * sigma)
  k = tf.constant(k / k.sum())  # float64, as getMotionBlurKernel.
  dy, dx = _motion_shifts(angles, width)  # [B, width]; |dy|, |dx| < width.
  p = width  # Edge padding that covers every shift.
  x = tf.cast(images, tf.float64)
  x = tf.concat([tf.repeat(x[:, :1], p, axis=1), x, tf.repeat(x[:, -1:], p, axis=1)], axis=1)
  x = tf.concat([tf.repeat(x[:, :, :1], p, axis=2), x, tf.repeat(x[:, :, -1:], p, axis=2)],
                axis=2)
  hp, wp = h + 2 * p, w + 2 * p
  batch = tf.shape(x)[0]
  x = tf.reshape(x, [batch, hp * wp, 3])
  base = tf.reshape((tf.range(h)[:, None] + p) * wp + tf.range(w)[None, :] + p, [1, h * w])
  offsets = dy * wp + dx  # [B, width]

  # The reference accumulates taps in order in float64; a while_loop keeps that
  # order in graph mode too (grappler would re-associate an unrolled sum), so the
  # result is bit-identical to the reference, eagerly and inside tf.function.
  def body(i, out):
    idx = base - offsets[:, i:i + 1]
    return i + 1, out + k[i] * tf.gather(x, idx, batch_dims=1)

  _, out = tf.while_loop(lambda i, out: i < width, body,
                         (tf.constant(0), tf.zeros([batch, h * w, 3], tf.float64)))
  return _to_uint8_truncate(tf.reshape(out, [batch, h, w, 3]))


def motion_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: imagecorruptions ``motion_blur`` (angle ~ uniform(-45, 45)).

  The release used ImageMagick's motion blur instead (see module docstring).
  """
  angles = tf.random.stateless_uniform(tf.shape(images)[:1], _stateless_seed(seed, "motion_blur"),
                                       minval=-45.0, maxval=45.0, dtype=tf.float64)
  return _motion_blur_from_draws(images, severity, angles)


def _clipped_zoom(x: tf.Tensor, zoom_factor: float) -> tf.Tensor:
  """Release ``clipped_zoom`` on [B, H, W, C] float32.

  Centre crop of ceil(n / z), ``scipy.ndimage.zoom(order=1)`` to round(ch * z)
  (scipy maps output i to input ``i * (in - 1) / (out - 1)``, the same as TF's
  ``align_corners=True`` bilinear resize), then a centre trim to ``H x W``.
  """
  h, w = _static_hw(x)
  ch0, ch1 = int(np.ceil(h / float(zoom_factor))), int(np.ceil(w / float(zoom_factor)))
  top0, top1 = (h - ch0) // 2, (w - ch1) // 2
  out0, out1 = int(round(ch0 * zoom_factor)), int(round(ch1 * zoom_factor))
  x = x[:, top0:top0 + ch0, top1:top1 + ch1]
  x = tf.raw_ops.ResizeBilinear(images=x, size=[out0, out1], align_corners=True,
                                half_pixel_centers=False)
  trim0, trim1 = (out0 - h) // 2, (out1 - w) // 2
  return x[:, trim0:trim0 + h, trim1:trim1 + w]


def zoom_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``zoom_blur``: mean of x and its zooms, float32 as there."""
  del seed
  factors = _ZOOM_BLUR[severity - 1]
  x = _unit_float32(images)
  out = tf.zeros_like(x)
  for z in factors:
    out += _clipped_zoom(x, float(z))
  return _unit_clip_to_uint8((x + out) / float(len(factors) + 1))


CORRUPTIONS: Dict[str, Callable[..., tf.Tensor]] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "speckle_noise": speckle_noise,
    "defocus_blur": defocus_blur,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "zoom_blur": zoom_blur,
    "gaussian_blur": gaussian_blur,
}
