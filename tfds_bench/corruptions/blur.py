"""ImageNet-C blur corruptions as batched TensorFlow ops.

defocus_blur, glass_blur, motion_blur, zoom_blur and gaussian_blur. Reference:
hendrycks/robustness ``ImageNet-C/create_c/make_imagenet_c.py`` and PyPI
``imagecorruptions`` 1.1.2, with the published parameters per severity. Every
function takes a uint8 ``[B, H, W, 3]`` tensor (static H, W) and returns uint8
of the same shape, ``np.uint8`` (truncation) of the reference's float output.
Random corruptions (glass_blur, motion_blur) draw with `ops.stateless_seed`
(key: the corruption's name) and have a private ``_*_from_draws`` for the
tests to feed the reference's numpy draws.

Known, documented differences from the release:
  * motion_blur: the release called ImageMagick's ``MagickMotionBlurImage``; we
    implement ``imagecorruptions``' numpy ``_motion_blur`` approximation of it
    (angle uniform(-45, 45), edge-replicating shifts), as the only portable one.
  * zoom_blur: ``imagecorruptions.clipped_zoom`` keeps the top-left ``H x W`` of
    the zoomed crop, the release trims ``(zoomed - h) // 2`` first. For 224x224
    and factors <= 1.3 the zoomed crop is 224 or 225 pixels, the trim is 0 and the
    two agree; we follow the release formula (centre trim) for other sizes too.

Precision: motion_blur computes in float64 like the reference and is
bit-identical to it given the same angles. The other filters (gaussian,
defocus, zoom, glass) run in float32 for speed; they differ from the reference
only by one uint8 level where a value sits on a truncation boundary (<= 5e-5
of values; ~2% for defocus severity 1).

Speed: the gather-heavy parts run in always-XLA-compiled helpers (``_*_xla``,
`xla_exact.xla_function`), which give the same bytes eagerly, in graphs and in
tf.data.
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions import filters
from tfds_bench.corruptions import ops
from tfds_bench.corruptions import resample
from tfds_bench.corruptions.xla_exact import negzero
from tfds_bench.corruptions.xla_exact import operand
from tfds_bench.corruptions.xla_exact import xla_function

_GAUSSIAN_BLUR = (1, 2, 3, 4, 6)
# sigma, max_delta, iterations
_GLASS_BLUR = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
_DEFOCUS_BLUR = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))
_MOTION_BLUR = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
_ZOOM_BLUR = (np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.02),
              np.arange(1, 1.26, 0.02), np.arange(1, 1.31, 0.03))


def gaussian_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``gaussian_blur``: skimage gaussian(x / 255, sigma=c), clip, * 255.

  gaussian(x / 255) * 255 == gaussian(x) (linear), so the raw values are blurred
  in float32: the float64 reference differs only where its output sits within
  ~1e-4 of an integer (a 1-level truncation flip).
  """
  del seed
  ops.static_hw(images)
  return _to_uint8_xla(filters.depthwise_gaussian(images, _GAUSSIAN_BLUR[severity - 1]))


# The truncation after TF's convolutions as one XLA program, not four TF kernels.
_to_uint8_xla = xla_function(ops.to_uint8)


def _glass_delta_table(d: int, w: int) -> np.ndarray:
  """code (uint8) -> flat source offset ``dy * w + dx``; code = (dy+d)*2d + (dx+d).

  Codes are read modulo 4d^2, so for 4d^2 | 256 (d = 1, 2, 4) a uniform random
  byte is a uniform code.
  """
  code = np.arange(256) % (4 * d * d)
  dy, dx = code // (2 * d) - d, code % (2 * d) - d
  return (dy * w + dx).astype(np.int32)


def _glass_shuffle_sources(codes: tf.Tensor, h: int, w: int, d: int) -> tf.Tensor:
  """Flat source index of every pixel of ONE image after the reference's swap loop.

  The reference loop ``for h in range(H-d, d, -1): for w in range(W-d, d, -1):
  x[h, w], x[h', w'] = x[h', w'], x[h, w]`` on an ``[H, W, 3]`` array is *not* a
  swap: the right side holds views, so after ``x[h, w] = x[h', w']`` the second
  assignment writes x[h', w'] back onto itself. One pass therefore writes every
  inner pixel exactly once, at its own step, with the *current* value of its
  source. The scan runs in decreasing flat index ``h * W + w``, so the source was
  already overwritten iff it is an inner pixel with a larger flat index; then its
  value is its own final value, else its value from before the pass. Following
  "already overwritten" links (strictly increasing flat index, so acyclic) to
  their end gives each pixel's source in the pre-pass image; the chains are found
  by pointer doubling in O(log length) gathers, exactly reproducing the aliasing.
  A link to a non-inner pixel (never overwritten, its own source) ends the chain
  at that pixel, which is the same as not linking: so "linked" is simply
  ``offset > 0``, and non-inner pixels get offset 0.

  Args:
    codes: uint8 ``[passes, H-2d, W-2d]`` offset codes (see ``_glass_delta_table``)
      in *increasing* scan order (row d+1 first), one slice per pass.
    h: image height.
    w: image width.
    d: max_delta.

  Returns:
    int32 ``[H*W]``: pixel p of the result is pixel ``src[p]`` of the input,
    all passes composed.
  """
  delta = tf.gather(tf.constant(_glass_delta_table(d, w)), tf.cast(codes, tf.int32))
  # Inner rows/cols are d+1 .. H-d: d+1 before them, d-1 after.
  delta = tf.pad(delta, [[0, 0], [d + 1, d - 1], [d + 1, d - 1]])
  flat = tf.range(h * w, dtype=tf.int32)
  composed = None
  for i in range(int(codes.shape[0])):
    offset = tf.reshape(delta[i], [h * w])
    src = flat + offset
    if d > 1:  # d == 1: offsets in {-1, 0}^2, a source is never overwritten first.
      link = flat + tf.maximum(offset, 0)

      def double(link, prev):
        del prev
        return tf.gather(link, link), link

      link, _ = tf.while_loop(lambda link, prev: tf.reduce_any(tf.not_equal(link, prev)),
                              double, (tf.gather(link, link), link), maximum_iterations=64)
      src = tf.gather(src, link)
    # y_i[p] = y_{i-1}[src_i[p]], so the composed source is composed_{i-1}[src_i].
    composed = src if composed is None else tf.gather(composed, src)
  return composed


def _glass_shuffle_one(image: tf.Tensor, codes: tf.Tensor, severity: int) -> tf.Tensor:
  """The pixel "shuffle" passes on one uint8 ``[H, W, 3]`` image given its codes."""
  _, d, _ = _GLASS_BLUR[severity - 1]
  h, w = int(image.shape[0]), int(image.shape[1])
  # Move whole pixels: RGB + 1 pad byte bitcast to one int32 per pixel.
  packed = tf.reshape(tf.bitcast(tf.pad(image, [[0, 0], [0, 0], [0, 1]]), tf.int32), [h * w])
  packed = tf.gather(packed, _glass_shuffle_sources(codes, h, w, d))
  return tf.bitcast(tf.reshape(packed, [h, w]), tf.uint8)[:, :, :3]


@xla_function
def _glass_shuffle_xla(images: tf.Tensor, codes: tf.Tensor, severity: int) -> tf.Tensor:
  # One image at a time keeps every intermediate (<= 600 KB) in cache; XLA
  # compiles the loop body into a few fused loops (TF's own per-op kernels and
  # gathers are slower here). Integer-only, so exact wherever it runs.
  return tf.map_fn(lambda a: _glass_shuffle_one(a[0], a[1], severity), (images, codes),
                   fn_output_signature=tf.uint8)


def _glass_blur_from_codes(images, severity: int, codes) -> tf.Tensor:
  sigma, _, _ = _GLASS_BLUR[severity - 1]
  ops.static_hw(images)
  # gaussian(x / 255) * 255 == gaussian(x) (linear): blur the raw values in
  # float32. The intermediate np.uint8 truncation then differs from the float64
  # reference by one level at ~1e-4 of the values.
  x = _to_uint8_xla(filters.depthwise_gaussian(images, sigma))
  x = _glass_shuffle_xla(x, codes, severity)
  return _to_uint8_xla(filters.depthwise_gaussian(x, sigma))


def _glass_blur_from_draws(images, severity: int, offsets) -> tf.Tensor:
  """``glass_blur`` with the loop's offsets given.

  Args:
    images: uint8 ``[B, H, W, 3]``.
    severity: 1..5.
    offsets: int ``[B, iterations, H-2d, W-2d, 2]``, the reference's
      ``np.random.randint(-d, d, size=(2,))`` draws ``(dx, dy)`` in loop order
      (index 0 is h = H-d, w = W-d).

  Returns:
    uint8 ``[B, H, W, 3]``.
  """
  _, d, _ = _GLASS_BLUR[severity - 1]
  ops.static_hw(images)
  offsets = tf.reverse(tf.cast(offsets, tf.int32), axis=[2, 3])  # Increasing scan order.
  codes = (offsets[..., 1] + d) * (2 * d) + (offsets[..., 0] + d)
  return _glass_blur_from_codes(images, severity, tf.cast(codes, tf.uint8))


def glass_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``glass_blur``: gaussian, uint8, local pixel "shuffle", gaussian.

  Blurs in float32: the intermediate np.uint8 truncation then differs from the
  float64 reference by one level at ~1e-4 of the values.
  """
  _, d, iterations = _GLASS_BLUR[severity - 1]
  h, w = ops.static_hw(images)
  batch = ops.static_batch_size(images)  # an int where static: the word count is too
  shape = [batch, iterations, h - 2 * d, w - 2 * d]
  ncodes = 4 * d * d
  if 256 % ncodes == 0:
    # Every byte of a full-range uint32 draw is one uniform code (mod ncodes):
    # a quarter of the random words and no modulo.
    n = batch * (iterations * (h - 2 * d) * (w - 2 * d))
    words = ops.uniform_words([(n + 3) // 4], seed, "glass_blur")
    codes = tf.reshape(tf.reshape(tf.bitcast(words, tf.uint8), [-1])[:n], shape)
  else:
    codes = tf.cast(tf.random.stateless_uniform(shape, ops.stateless_seed(seed, "glass_blur"),
                                                minval=0, maxval=ncodes, dtype=tf.int32),
                    tf.uint8)
  return _glass_blur_from_codes(images, severity, codes)


def _disk(radius: int, alias_blur: float) -> np.ndarray:
  """Reference ``disk``: aliased disk on a >= 17x17 grid, then a small Gaussian."""
  if radius <= 8:
    coords, ksize = np.arange(-8, 8 + 1), 3
  else:
    coords, ksize = np.arange(-radius, radius + 1), 5
  xx, yy = np.meshgrid(coords, coords)
  aliased = np.array((xx**2 + yy**2) <= radius**2, dtype=np.float32)
  aliased /= np.sum(aliased)
  return filters.cv2_gaussian_blur(aliased, ksize, alias_blur)


def defocus_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``defocus_blur``: ``cv2.filter2D`` with the disk per channel.

  filter2D is a correlation with BORDER_REFLECT_101 (TF's "REFLECT" padding).
  The disk (17x17 to 21x21, not separable) is applied as a product of float32
  FFTs of the reflect-padded image (faster than a depthwise convolution),
  on the raw 0..255 values (the filter is linear, so / 255 and * 255 cancel).
  Round-off stays ~1e-4 of a level: only values on a truncation boundary differ.
  """
  del seed
  r, spectrum = _defocus_spectrum(severity, *ops.static_hw(images))
  x = _defocus_planes_xla(images, r)
  # The FFTs and the product stay TF's kernels (their round-off is the
  # output's); the data movement around them is fused by XLA.
  x = tf.signal.irfft2d(tf.signal.rfft2d(x) * tf.constant(spectrum), x.shape[2:].as_list())
  return _defocus_image_xla(x, r)


@functools.lru_cache(maxsize=None)
def _defocus_spectrum(severity: int, h: int, w: int) -> Tuple[int, np.ndarray]:
  """The disk's half width r and its complex64 rfft2 on the padded ``H + 2r, W + 2r`` grid.

  Cached: building the disk and its spectrum in numpy is a sizeable share of
  a call on one image.
  """
  kernel = _disk(*_DEFOCUS_BLUR[severity - 1])
  r = kernel.shape[0] // 2
  # Circular convolution with the flipped kernel at the origin = correlation;
  # output (i, j) of the VALID part lands at (i + 2r, j + 2r).
  flipped = np.zeros((h + 2 * r, w + 2 * r))
  flipped[:kernel.shape[0], :kernel.shape[1]] = kernel[::-1, ::-1].astype(np.float64)
  spectrum = np.fft.rfft2(flipped).astype(np.complex64)
  spectrum.flags.writeable = False  # shared by every call
  return r, spectrum


@xla_function
def _defocus_planes_xla(images, r):
  """uint8 [B, H, W, 3] -> float32 [B, 3, H + 2r, W + 2r] planes, reflect-padded."""
  x = tf.transpose(tf.cast(images, tf.float32), [0, 3, 1, 2])
  return tf.pad(x, [[0, 0], [0, 0], [r, r], [r, r]], mode="REFLECT")


@xla_function
def _defocus_image_xla(planes, r):
  """The VALID part of the circular correlation, as uint8 [B, H, W, 3]."""
  return ops.to_uint8(tf.transpose(planes[:, :, 2 * r:, 2 * r:], [0, 2, 3, 1]))


def motion_blur_from_angles(images, severity: int, angles) -> tf.Tensor:
  """imagecorruptions ``motion_blur`` with the angles (degrees, ``[B]``) given.

  ``_motion_blur`` (`filters.motion_blur_planes`): sum over taps i <
  2*radius+1 of ``k[i] * shift(x, dx_i, dy_i)`` with edge replication, k =
  normalised exp(-i^2 / (2 sigma^2)). ImageNet-P's motion_blur sequence is
  severity 1 at its own angles.
  """
  radius, _ = _MOTION_BLUR[severity - 1]
  width = 2 * radius + 1
  h, w = ops.static_hw(images)
  if min(h, w) <= width:
    raise ValueError(f"motion_blur needs images larger than {width} pixels, got {h}x{w}")
  dy, dx = filters.motion_shifts(angles, width)  # [B, width]; |dy|, |dx| < width.
  # The taps' weights are a run-time operand: one program per kernel width
  # (severities 2-4 share one), not one per severity.
  kernel = operand(filters.motion_blur_kernel(*_MOTION_BLUR[severity - 1]))
  return _motion_blur_xla(images, dy, dx, kernel, negzero())


@xla_function
def _motion_blur_xla(images: tf.Tensor, dy: tf.Tensor, dx: tf.Tensor, kernel: tf.Tensor,
                     nz: tf.Tensor) -> tf.Tensor:
  """Per image, channel-planar (rows contiguous): `filters.motion_blur_planes`."""

  def one(args):
    image, dy, dx = args
    x = tf.transpose(tf.cast(image, tf.float64), [2, 0, 1])  # [3, H, W]
    out = filters.motion_blur_planes(x, kernel, dy, dx, nz)
    return tf.transpose(ops.to_uint8(out), [1, 2, 0])

  return tf.map_fn(one, (images, dy, dx), fn_output_signature=tf.uint8)



def motion_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: imagecorruptions ``motion_blur`` (angle ~ uniform(-45, 45)).

  The release used ImageMagick's motion blur instead (see module docstring).
  """
  angles = tf.random.stateless_uniform(tf.shape(images)[:1],
                                       ops.stateless_seed(seed, "motion_blur"),
                                       minval=-45.0, maxval=45.0, dtype=tf.float64)
  return motion_blur_from_angles(images, severity, angles)


def zoom_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``zoom_blur``: mean of x and its zooms, float32 as there.

  One XLA program: the zooms (TF's bilinear resize reproduced bit for bit,
  `resample.clipped_zoom_bilinear`) fuse with their crops and the sum; as TF
  kernels with copies around them they were much slower.
  """
  del seed
  factors = tuple(float(z) for z in _ZOOM_BLUR[severity - 1])
  return _zoom_blur_xla(tf.convert_to_tensor(images), factors, negzero(),
                        operand(float(len(factors) + 1), tf.float32))


@xla_function
def _zoom_blur_xla(images, factors, nz, count):
  # The sum in XLA, not TF ops: in a graph (tf.function, tf.data) grappler
  # would regroup it into an AddN and turn "/ n" into "* (1 / n)", off by an
  # ulp, which flips truncations; XLA keeps the order and the division.
  x = ops.to_unit(images, tf.float32)
  out = tf.zeros_like(x)
  for z in factors:
    out += resample.clipped_zoom_bilinear(x, z, nz)
  return ops.unit_to_uint8((x + out) / count)

CORRUPTIONS: Dict[str, Callable[..., tf.Tensor]] = {
    "defocus_blur": defocus_blur,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "zoom_blur": zoom_blur,
    "gaussian_blur": gaussian_blur,
}
