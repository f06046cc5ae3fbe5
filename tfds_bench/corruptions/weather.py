"""ImageNet-C weather corruptions as TensorFlow ops: snow, frost, fog, brightness, spatter.

Per-severity parameters of the published release (hendrycks/robustness
`ImageNet-C/create_c/make_imagenet_c.py`, 224x224 inputs). The numerics
follow PyPI `imagecorruptions` 1.1.2 (`imagecorruptions/corruptions.py`),
which is the same code for most transforms; where the two differ for 224x224
inputs this module follows the release:

* frost: on images smaller than every frost texture (315x527; the release's
  224x224), a crop of the texture at its native size (imagecorruptions first
  rescales it by 1.1 with cv2 INTER_CUBIC). On larger images, which the
  release cannot corrupt, imagecorruptions' rule: each texture rescaled by 1.1
  times the factor that makes it cover the image (OpenCV's own INTER_CUBIC,
  `resample.cv2_resize_cubic_uint8`; pip OpenCV's default IPP path differs
  from it by one level on a few percent of texture pixels).
* spatter (mud, severities 4-5): the release computes in float32,
  imagecorruptions in float64 (1 level apart on < 0.05% of pixels).
* snow: the release quantises the zoomed snow layer to uint8 (truncation,
  PIL 'L' image) and trims it to 224x224 before the motion blur. Its motion blur
  is ImageMagick's (Wand), which is not reproducible here; we use
  imagecorruptions' numpy `_motion_blur` re-implementation instead
  (`filters.motion_blur`).

Every function returns what the reference returns *before* the release's
archive step: ``np.uint8(float_output)`` (truncation), not the JPEG q85 file.
Spatter's distance transform follows the IPP float32 path that pip OpenCV
wheels take (`opencv`). Image height and width must be static (the pipeline
crops to 224x224 first).

Randomness: each public function draws its random numbers with
``tf.random.stateless_*`` seeded by `ops.stateless_seed` (key
``"<name>/<k>"`` for the k-th draw) and hands them to a private
``_<name>_from_draws`` function, so tests can inject the very draws that numpy
gave the reference.

Speed: the arithmetic runs in always-XLA-compiled helpers
(`xla_exact.xla_function`), so eager, graph and tf.data calls give the same
bytes; the normal draws and the large-sigma gaussians (dense matmuls) stay
in TF's kernels. Every product feeding a sum
is shielded from FMA contraction (`no_contract`); divisions by constants are
table lookups (`ops.to_unit`) or divide by a tensor argument; short gaussians
are banded taps summed in the matmul's order (`filters.banded_pass`). Where a
later stage reads an earlier one at several taps (gaussian -> gaussian,
gaussian -> Canny), the earlier one is materialized (`xla_exact.materialize`)
or in a separate XLA call: fused, XLA recomputes the producer per tap.

Frost's textures are shipped in `corruptions/frost/` (byte-identical copies
of imagecorruptions' files; provenance in its LICENSE.md, checksums checked on
load), so no other package is needed.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench import shipped_files
from tfds_bench.corruptions import color
from tfds_bench.corruptions import filters
from tfds_bench.corruptions import opencv
from tfds_bench.corruptions import ops
from tfds_bench.corruptions import plasma
from tfds_bench.corruptions import resample
from tfds_bench.corruptions.xla_exact import materialize
from tfds_bench.corruptions.xla_exact import negzero
from tfds_bench.corruptions.xla_exact import no_contract
from tfds_bench.corruptions.xla_exact import operand
from tfds_bench.corruptions.xla_exact import xla_function

# Per-severity parameters (make_imagenet_c.py; identical in imagecorruptions
# unless stated).
_BRIGHTNESS = (.1, .2, .3, .4, .5)
_FOG = ((1.5, 2), (2., 2), (2.5, 1.7), (2.5, 1.5), (3., 1.4))
_FROST = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))
_SNOW = ((0.1, 0.3, 3, 0.5, 10, 4, 0.8),
         (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
         (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
         (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
         (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55))
_SPATTER = ((0.65, 0.3, 4, 0.69, 0.6, 0),
            (0.65, 0.3, 3, 0.68, 0.6, 0),
            (0.65, 0.3, 2, 0.68, 0.5, 0),
            (0.65, 0.3, 1, 0.65, 1.5, 1),
            (0.67, 0.4, 1, 0.65, 1.5, 1))
# The water colour of spatter, (175, 238, 238) / 255 (ImageNet-P's too).
WATER_RGB = (175 / 255., 238 / 255., 238 / 255.)

# The release picks `np.random.randint(5)`, so frost6.jpg is never used.
_FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg",
                "frost5.jpg")


def brightness(images: tf.Tensor, severity: int, seed: int = 0) -> tf.Tensor:
  """`brightness` of the reference: V += c in skimage HSV."""
  del seed  # deterministic
  c = _BRIGHTNESS[severity - 1]
  return color.hsv_adjust(images, 2, 1, c)


def _fog_map_size(images: tf.Tensor) -> int:
  # make_imagenet_c.py: plasma_fractal() with its default mapsize=256, cropped
  # to 224; imagecorruptions generalises to the next power of two >= max side.
  return plasma.next_power_of_2(max(images.shape[1], images.shape[2]))


def _fog_from_draws(images: tf.Tensor, severity: int,
                    uniforms: Sequence[tf.Tensor]) -> tf.Tensor:
  """`fog` of the reference with injected plasma draws."""
  c = _FOG[severity - 1]
  # The severity's (strength, wibble decay) are run-time operands: one program.
  return _fog_xla(tf.convert_to_tensor(images),
                  [tf.convert_to_tensor(u, tf.float64) for u in uniforms],
                  negzero(), operand(c[0]), operand(c[1]))


@xla_function
def _fog_xla(images, uniforms, nz, strength, wibbledecay):
  h, w = images.shape[1], images.shape[2]
  x = ops.to_unit(images)
  max_val = tf.reduce_max(x, axis=(1, 2, 3), keepdims=True)
  fractal = plasma.plasma_fractal(uniforms, wibbledecay, nz)
  x = x + no_contract(strength * fractal[:, :h, :w, tf.newaxis], nz)
  return ops.unit_to_uint8(x * max_val / (max_val + strength))


def fog(images: tf.Tensor, severity: int, seed: int = 0) -> tf.Tensor:
  """Seeded `fog` (plasma fractal haze)."""
  b = ops.static_batch_size(images)
  shapes = plasma.plasma_draw_shapes(_fog_map_size(images))
  uniforms = ops.standard_uniforms([tf.concat([[b], shape], 0) for shape in shapes], seed,
                                   [f"fog/{i}" for i in range(len(shapes))])
  return _fog_from_draws(images, severity, uniforms)


@functools.lru_cache(maxsize=None)
def frost_textures() -> Tuple[np.ndarray, ...]:
  """The 5 usable frost textures, uint8 RGB ``[h, w, 3]``, as shipped.

  Read from ``corruptions/frost/`` with their checksums checked; decoded like
  the reference's cv2.imread(IMREAD_COLOR): alpha dropped, libjpeg ISLOW.
  """
  root = importlib.resources.files("tfds_bench.corruptions") / "frost"
  arrays = []
  # First use may be while tracing a tf.function / tf.data map: decode eagerly.
  with tf.init_scope():
    for name in _FROST_FILES:
      data = shipped_files.read_checked(root, name)
      if name.endswith(".png"):
        img = tf.io.decode_png(data, channels=4)[..., :3]
      else:
        img = tf.io.decode_jpeg(data, channels=3,
                                dct_method="INTEGER_ACCURATE")
      arrays.append(img.numpy())
  return tuple(arrays)


def frost_rescaled_size(texture_hw: Tuple[int, int],
                        image_hw: Tuple[int, int]) -> Tuple[int, int]:
  """imagecorruptions' rescaled texture size: cover the image, then x 1.1."""
  (th, tw), (h, w) = texture_hw, image_hw
  scale = 1.0
  if th < h or tw < w:
    scale = max(h / th if th < h else 0.0, w / tw if tw < w else 0.0)
  scale *= 1.1
  return int(math.ceil(th * scale)), int(math.ceil(tw * scale))


def _frost_fits_natively(h: int, w: int) -> bool:
  # The release's np.random.randint(0, size - H) needs size > H in each axis.
  return all(h < t.shape[0] and w < t.shape[1] for t in frost_textures())


@functools.lru_cache(maxsize=8)
def _frost_images(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
  """The frost textures for ``h x w`` images, zero-padded into one array, and sizes.

  Native size where every texture is larger than the image (the release);
  otherwise each rescaled as imagecorruptions does (`frost_rescaled_size`).
  """
  arrays = frost_textures()
  if not _frost_fits_natively(h, w):
    arrays = [resample.cv2_resize_cubic_uint8(
        t, *frost_rescaled_size(t.shape[:2], (h, w))) for t in arrays]
  sizes = np.array([a.shape[:2] for a in arrays], np.int32)
  padded = np.zeros((len(arrays),) + tuple(sizes.max(0)) + (3,), np.uint8)
  for i, a in enumerate(arrays):
    padded[i, :a.shape[0], :a.shape[1]] = a
  return padded, sizes


def _frost_from_draws(images: tf.Tensor, severity: int, idx: tf.Tensor,
                      x_start: tf.Tensor, y_start: tf.Tensor) -> tf.Tensor:
  """`frost` of make_imagenet_c.py (imagecorruptions on larger images) with
  injected draws.

  idx: [B] int, frost image index (np.random.randint(5));
  x_start/y_start: [B] int, crop origin row/col in the (rescaled) texture
  (np.random.randint(0, frost.shape[0] - H), ...(0, frost.shape[1] - W)).
  """
  padded, _ = _frost_images(images.shape[1], images.shape[2])
  n, ph, pw = padded.shape[:3]
  return _frost_blend_xla(tf.convert_to_tensor(images),
                          tf.constant(padded.reshape(n * ph * pw, 3)),
                          tf.cast(idx, tf.int32), tf.cast(x_start, tf.int32),
                          tf.cast(y_start, tf.int32), ph, pw, negzero(), severity)


@xla_function
def _frost_blend_xla(images, textures, idx, x_start, y_start, ph, pw, nz, severity):
  # Only the crop's pixels are gathered (a whole frost image is 1.6 MB), in
  # XLA: TF's gather kernel was a large share of the corruption's time.
  h, w = images.shape[1], images.shape[2]
  rows = idx[:, tf.newaxis] * ph + x_start[:, tf.newaxis] + tf.range(h)[tf.newaxis]
  cols = y_start[:, tf.newaxis] + tf.range(w)[tf.newaxis]
  frost = tf.gather(textures, rows[:, :, tf.newaxis] * pw + cols[:, tf.newaxis, :])
  c = _FROST[severity - 1]
  x = no_contract(c[0] * tf.cast(images, tf.float64), nz) + no_contract(
      c[1] * tf.cast(frost, tf.float64), nz)
  return ops.to_uint8(x)


def frost(images: tf.Tensor, severity: int, seed: int = 0) -> tf.Tensor:
  """Seeded `frost`: one of frost1..5 at a random crop; any image size (the
  texture rescaled as imagecorruptions does when the image is not smaller
  than every texture)."""
  h, w = images.shape[1], images.shape[2]
  _, sizes = _frost_images(h, w)
  b = ops.batch_size(images)
  u = tf.random.stateless_uniform([3, b], ops.stateless_seed(seed, "frost/0"),
                                  dtype=tf.float64)
  idx = tf.cast(tf.floor(u[0] * len(_FROST_FILES)), tf.int32)
  size = tf.gather(tf.constant(sizes), idx)
  x_start = tf.cast(tf.floor(u[1] * tf.cast(size[:, 0] - h, tf.float64)),
                    tf.int32)
  y_start = tf.cast(tf.floor(u[2] * tf.cast(size[:, 1] - w, tf.float64)),
                    tf.int32)
  return _frost_from_draws(images, severity, idx, x_start, y_start)


def _snow_from_draws(images: tf.Tensor, severity: int, normals: tf.Tensor,
                     angle: tf.Tensor) -> tf.Tensor:
  """`snow` of make_imagenet_c.py with injected draws.

  normals: [B, H, W] standard normals behind np.random.normal(loc, scale);
  angle: [B] degrees, np.random.uniform(-135, -45).
  """
  c = _SNOW[severity - 1]
  dy, dx = filters.motion_shifts(angle, 2 * c[4] + 1)
  return _snow_xla(tf.convert_to_tensor(images),
                   tf.convert_to_tensor(normals, tf.float64), dy, dx,
                   negzero(), severity)


@xla_function
def _snow_xla(images, normals, dy, dx, nz, severity):
  """`_snow_from_draws` after the motion-blur shifts, fused by XLA."""
  c = _SNOW[severity - 1]
  h, w = images.shape[1], images.shape[2]
  x = ops.to_unit(images, tf.float32)
  layer = c[0] + no_contract(c[1] * normals, nz)
  # The clipped zoom as 2-tap rows then columns (the matmuls' sums).
  idx, wts = filters.matrix_taps((h, c[2]), resample.clipped_zoom_matrix)
  layer = filters.banded_pass(layer, idx, wts, 1, nz)
  idx, wts = filters.matrix_taps((w, c[2]), resample.clipped_zoom_matrix)
  layer = filters.banded_pass(layer, idx, wts, 2, nz)
  layer = ops.zero_where(layer < c[3], layer)
  # The release goes through a PIL 'L' image: (clip * 255).astype(uint8).
  layer = tf.floor(tf.clip_by_value(layer, 0., 1.) * 255.)
  layer = filters.motion_blur(layer, filters.motion_blur_kernel(c[4], c[5]), dy,
                              dx, nz)
  # ImageMagick writes 8-bit output (imagecorruptions: np.round(x * 255)).
  layer = ops.to_unit(tf.clip_by_value(tf.round(layer), 0., 255.))
  layer = layer[..., tf.newaxis]
  x = no_contract(c[6] * x, nz) + no_contract((1 - c[6]) * tf.maximum(
      x, no_contract(color.gray_cv2(x, nz) * 1.5, nz) + 0.5), nz)
  x = tf.cast(x, tf.float64) + layer + tf.reverse(layer, axis=[1, 2])
  return ops.unit_to_uint8(x)


def snow(images: tf.Tensor, severity: int, seed: int = 0) -> tf.Tensor:
  """Seeded `snow`."""
  b = ops.batch_size(images)
  normals = tf.random.stateless_normal(
      [b, images.shape[1], images.shape[2]], ops.stateless_seed(seed, "snow/0"),
      dtype=tf.float64)
  angle = tf.random.stateless_uniform([b], ops.stateless_seed(seed, "snow/1"),
                                      minval=-135., maxval=-45.,
                                      dtype=tf.float64)
  return _snow_from_draws(images, severity, normals, angle)


def _water_dist(liquid):
  """Water branch up to equalizeHist: (liquid_u8, blurred truncated dist)."""
  liquid_u8 = tf.cast(tf.math.floormod(tf.floor(liquid * 255.), 256.),
                      tf.uint8)  # .astype(np.uint8)
  edges = opencv.canny(liquid_u8, 50, 150)
  dist = opencv.distance_transform_l2_5(edges, 20.)  # 255 - Canny: 0 on edges
  dist = tf.minimum(dist, 20.)  # THRESH_TRUNC
  dist = tf.cast(filters.box3(dist, tf.float32), tf.uint8)  # .astype(np.uint8)
  return liquid_u8, dist


_water_dist_xla = xla_function(_water_dist)


def _water_mask_from_equalized(liquid_u8, dist, nz):
  """Water branch after equalizeHist: emboss, blur; `m` before normalisation.

  The embossed image is materialized: fused into the blur, its 7 taps were
  recomputed for each of the blur's 9 (`materialize`).
  """
  ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
  dist = filters.conv3x3(tf.cast(dist, tf.float64), ker, "REFLECT")
  dist = materialize(tf.cast(tf.clip_by_value(dist, 0., 255.), tf.uint8), nz)  # CV_8U
  dist = tf.cast(filters.box3(dist, tf.uint8), tf.float32)
  return tf.cast(liquid_u8, tf.float32) * dist


_water_mask_from_equalized_xla = xla_function(_water_mask_from_equalized)


def water_mask(liquid: tf.Tensor) -> tf.Tensor:
  """The water branch's `m` before normalisation, float32 [B, H, W], of liquid [B, H, W].

  ImageNet-P's spatter sequence applies it to each frame's smeared liquid.
  """
  liquid_u8, dist = _water_dist_xla(liquid)
  return _water_mask_from_equalized_xla(liquid_u8, opencv.equalize_hist(dist), negzero())


@xla_function
def _water_blend_xla(images, liquid_u8, dist, nz, strength):
  """Water branch after equalizeHist: emboss, blur, mask, blend."""
  # Materialized: read by the maximum and by the division.
  m = materialize(_water_mask_from_equalized(liquid_u8, dist, nz), nz)
  m = m / tf.reduce_max(m, axis=(1, 2), keepdims=True)
  m = (m * strength)[..., tf.newaxis]
  water = tf.constant(WATER_RGB, tf.float32)
  x = ops.to_unit(images, tf.float32)
  return ops.unit_to_uint8(tf.clip_by_value(x + no_contract(m * water, nz), 0., 1.))


def _spatter_from_draws(images: tf.Tensor, severity: int,
                        normals: tf.Tensor) -> tf.Tensor:
  """`spatter` of the reference with injected draws.

  normals: [B, H, W] standard normals behind np.random.normal(c0, c1, (H, W)).
  Severities 1-3 are water (cv2 edge/distance pipeline), 4-5 mud, all in
  XLA: water in three programs (up to equalizeHist, equalizeHist, after it),
  mud in one. The gaussians of these severities are all banded.
  """
  c = _SPATTER[severity - 1]
  images = tf.convert_to_tensor(images)
  normals = tf.convert_to_tensor(normals, tf.float64)
  if c[5] == 0:
    liquid_u8, dist = _water_dist_from_normals_xla(normals, negzero(), severity)
    return _water_blend_xla(images, liquid_u8, opencv.equalize_hist(dist),
                            negzero(), operand(c[4], tf.float32))
  return _mud_xla(images, normals, negzero(), severity)


def _liquid(normals, nz, c):
  """The thresholded liquid layer of spatter (float64), inside XLA, materialized.

  Materialized (`materialize`): its readers (Canny's taps, the mud's
  gaussian) would otherwise recompute the gaussian per tap.
  """
  liquid = filters.gaussian_2d(c[0] + no_contract(c[1] * normals, nz), c[2], 4.,
                               "nearest", nz)
  return materialize(ops.zero_where(liquid < c[3], liquid), nz)


@xla_function
def _water_dist_from_normals_xla(normals, nz, severity):
  """Water branch from the draws up to equalizeHist, in one program."""
  return _water_dist(_liquid(normals, nz, _SPATTER[severity - 1]))


@xla_function
def _mud_xla(images, normals, nz, severity):
  """The mud branch (severities 4-5) from the draws, in one program."""
  c = _SPATTER[severity - 1]
  liquid = _liquid(normals, nz, c)
  m = filters.gaussian_2d(tf.cast(liquid > c[3], tf.float32), c[4], 4., "nearest", nz)
  m = ops.zero_where(m < 0.8, m)[..., tf.newaxis]
  mud = tf.constant([63 / 255., 42 / 255., 20 / 255.], tf.float32) * m
  x = ops.to_unit(images, tf.float32)
  return ops.unit_to_uint8(no_contract(x * (1 - m), nz) + no_contract(mud, nz))


def spatter(images: tf.Tensor, severity: int, seed: int = 0) -> tf.Tensor:
  """Seeded `spatter` (water for severities 1-3, mud for 4-5)."""
  normals = ops.standard_normal(
      [ops.batch_size(images), images.shape[1], images.shape[2]], seed,
      "spatter/0", tf.float64)
  return _spatter_from_draws(images, severity, normals)


CORRUPTIONS: Dict[str, Callable[[tf.Tensor, int, int], tf.Tensor]] = {
    "snow": snow,
    "frost": frost,
    "fog": fog,
    "brightness": brightness,
    "spatter": spatter,
}
