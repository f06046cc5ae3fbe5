"""ImageNet-P perturbation sequences as TensorFlow ops.

Reference: hendrycks/robustness ``ImageNet-P/create_p/make_imagenet_p.py`` (the
224x224 release; ``create_p/224.sh`` runs it). For every val image the release
takes ``img = Resize(256)(PIL image).convert('RGB')`` and writes one sequence per
perturbation (frames ``img0.png .. imgN.png``, then ffmpeg/libx264 into one mp4):

================  ======  ==================================================
perturbation      frames  frame i (i = 0 .. frames - 1)
================  ======  ==================================================
gaussian_noise    31      i = 0: crop; else clamp(x + 0.03 * randn) (float32,
                          torch ``ToPILImage``: ``mul(255).byte()``)
shot_noise        31      i = 0: crop; else poisson(300 x) / 300
motion_blur       31      ImageMagick motion blur radius 10, sigma 3,
                          angle (i - 30) * 4
zoom_blur         31      running mean of crop(affine(img, scale=1 + .004 j)),
                          j = 0..i (bilinear)
snow              31      one snow layer (normal(.05, .3), zoom 3, > .5),
                          motion-blurred (radius 14, sigma 4) at angle 4i - 150
brightness        31      V += (i - 15) * 2 / 100 in skimage HSV
translate         41      crop(affine(img, translate=(i - 20, 0))) (nearest)
rotate            31      crop(affine(img, angle=i - 15)) (bilinear)
tilt              31      crop(cv2.warpPerspective(img, P(i - 15 degrees)))
scale             31      crop(affine(img, scale=(2.5 i + 40) / 100))
speckle_noise     31      i = 0: crop; else x + x * normal(scale=0.05)
gaussian_blur     31      skimage gaussian sigma 0.25 + 0.035 i, truncate 6
spatter           31      one liquid layer, smeared down each frame by
                          ``np.convolve([.05, .1, .15, .7], 'same')``
shear             31      crop(affine(img, shear=i - 15)) (bilinear)
================  ======  ==================================================

"crop" is torchvision ``CenterCrop(224)``. The geometric perturbations (zoom_blur,
translate, rotate, tilt, scale, shear) transform the whole resized image and
crop afterwards, so content from outside the crop moves in: pass the
``Resize(256)`` image (shorter side 256, bilinear, as torchvision)
for fidelity. A 224x224 image is accepted too (then zeros move in instead).

Difficulty: for every non-noise perturbation there is one set of sequences and
the difficulty (1..3) is the frame step used when scoring
(`tfds_bench.metrics.flip_probability`). For the noise perturbations the release
has separate sequences per difficulty (``<name>``, ``<name>_2``, ``<name>_3``)
with the strengths the reference leaves commented out: gaussian 0.03/0.05/0.08,
shot 300/120/60, speckle 0.05/0.10/0.15; ``sequence(..., difficulty=d)``.

torchvision's ``affine`` is the 0.2.1 one (2018, the release's era): centre
``(w * 0.5 + 0.5, h * 0.5 + 0.5)``, a scalar shear, PIL ``Image.transform``
(AFFINE) with BILINEAR (translate: the default NEAREST). `_pil_affine` follows
Pillow's ``Geometry.c`` (pixel centres at +0.5, inside test before the -0.5
shift, edge-clamped neighbours, the result truncated to uint8); bit-identical
to Pillow 13 in the tests. tilt follows OpenCV's
``warpPerspective`` (INTER_LINEAR, BORDER_CONSTANT): source coordinates rounded
to 1/32 pixel and 15-bit fixed-point weights.

Known, documented differences from the release:
  * motion_blur and snow: the release used ImageMagick's motion blur (Wand); as
    in `tfds_bench.corruptions` we use imagecorruptions' numpy approximation.
  * The release's frames went through H.264 (libx264, ``-crf 20``; noise with
    ``-tune grain``), which is lossy; generated sequences keep the exact pixels.
  * Random draws come from TF's stateless RNG seeded by ``(seed, name)``; the
    release drew from numpy's global stream. Each random perturbation has a
    private ``_<name>_from_draws`` so the tests feed numpy's draws and compare.
  * tilt is implemented from OpenCV's documented algorithm; without OpenCV in
    the environment it is checked against a numpy transcription, not cv2.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions import blur
from tfds_bench.corruptions import color
from tfds_bench.corruptions import filters
from tfds_bench.corruptions import noise
from tfds_bench.corruptions import ops
from tfds_bench.corruptions import resample
from tfds_bench.corruptions import weather
from tfds_bench.corruptions.names import PERTURBATIONS

NAMES = PERTURBATIONS
NOISE_NAMES = ("gaussian_noise", "shot_noise", "speckle_noise")
CROP_SIZE = 224
DIFFICULTIES = (1, 2, 3)

_NUM_FRAMES = {name: 31 for name in NAMES}
_NUM_FRAMES["translate"] = 41

# Noise strength per difficulty (make_imagenet_p.py, the `_2` / `_3` blocks).
_GAUSSIAN_NOISE = (0.03, 0.05, 0.08)
_SHOT_NOISE = (300, 120, 60)
_SPECKLE_NOISE = (0.05, 0.10, 0.15)

# Snow: normal(loc, scale), clipped_zoom factor, threshold, motion blur radius
# and sigma, blend weight of the image.
_SNOW = (0.05, 0.3, 3, 0.5, 14, 4, 0.85)
# Spatter (water): normal(loc, scale), gaussian sigma, threshold, mask weight.
_SPATTER = (0.65, 0.27, 3.7, 0.69, 0.6)
_SPATTER_SMEAR = (0.05, 0.1, 0.15, 0.7)


def num_frames(name: str) -> int:
  """Frames per sequence in the release: 41 for translate, else 31."""
  _check_name(name)
  return _NUM_FRAMES[name]


def _check_name(name: str) -> None:
  if name not in NAMES:
    raise ValueError(f"unknown perturbation {name!r}; known: {', '.join(NAMES)}")


def _seed(seed: int, name: str, k: int = 0) -> tf.Tensor:
  """`ops.stateless_seed` with key ``imagenet_p/<name>/<k>`` (k: the stream)."""
  return ops.stateless_seed(int(seed), f"imagenet_p/{name}/{k}")


def _crop_offsets(h: int, w: int, size: int = CROP_SIZE) -> Tuple[int, int]:
  """torchvision CenterCrop offsets: ``int(round((dim - size) / 2))``."""
  return int(round((h - size) / 2.0)), int(round((w - size) / 2.0))


def _center_crop(x: tf.Tensor) -> tf.Tensor:
  """CenterCrop(224) of ``[..., H, W, C]``."""
  h, w = int(x.shape[-3]), int(x.shape[-2])
  top, left = _crop_offsets(h, w)
  return x[..., top:top + CROP_SIZE, left:left + CROP_SIZE, :]


def _repeat(x: tf.Tensor, n: int) -> tf.Tensor:
  return tf.tile(x[tf.newaxis], [n] + [1] * x.shape.rank)


def _with_first(crop: tf.Tensor, frames: tf.Tensor) -> tf.Tensor:
  """The noise sequences: frame 0 is the clean crop, then the noisy frames."""
  return tf.concat([crop[tf.newaxis], frames], axis=0)


# --- noise ---------------------------------------------------------------------

def _gaussian_noise_from_draws(crop: tf.Tensor, normals, sigma: float) -> tf.Tensor:
  """Frames 1.. from float32 standard normals ``[F - 1, 224, 224, 3]``.

  Reference (torch, float32): ``ToPILImage()(clamp(ToTensor()(x) + sigma *
  randn_like(x), 0, 1))``; ToPILImage is ``mul(255).byte()`` (truncation).
  """
  x = ops.to_unit(crop, tf.float32)
  scaled = tf.constant(sigma, tf.float32) * tf.cast(normals, tf.float32)
  return _with_first(crop, ops.unit_to_uint8(x[tf.newaxis] + scaled))


def _shot_noise_from_draws(crop: tf.Tensor, counts, c: int) -> tf.Tensor:
  """Frames 1.. from Poisson counts ``[F - 1, 224, 224, 3]`` with rate ``x * c``.

  Reference: ``np.uint8(255 * np.clip(np.random.poisson(x / 255. * c) / c, 0,
  1))``; the output depends on the count only through min(count, c).
  """
  counts = tf.minimum(tf.cast(counts, tf.int32), c)
  return _with_first(crop, tf.gather(tf.constant(noise.shot_noise_levels(c)), counts))


def _speckle_noise_from_draws(crop: tf.Tensor, noise) -> tf.Tensor:
  """Frames 1.. from float64 ``normal(scale=s)`` draws ``[F - 1, 224, 224, 3]``.

  Reference: ``np.uint8(255 * np.clip(x + x * noise, 0, 1))``, x = crop / 255.
  """
  x = ops.to_unit(crop)[tf.newaxis]
  return _with_first(crop, ops.unit_to_uint8(x + x * tf.cast(noise, tf.float64)))


def _gaussian_noise(image: tf.Tensor, seed: int, difficulty: int) -> tf.Tensor:
  crop = _center_crop(image)
  normals = tf.random.stateless_normal(
      [num_frames("gaussian_noise") - 1, CROP_SIZE, CROP_SIZE, 3],
      _seed(seed, "gaussian_noise", difficulty), dtype=tf.float32)
  return _gaussian_noise_from_draws(crop, normals, _GAUSSIAN_NOISE[difficulty - 1])


def _shot_noise(image: tf.Tensor, seed: int, difficulty: int) -> tf.Tensor:
  """Exact Poisson draws by the alias method of `tfds_bench.corruptions`."""
  c = _SHOT_NOISE[difficulty - 1]
  crop = _center_crop(image)
  frames = num_frames("shot_noise") - 1
  # = stateless_uniform([...], _seed(seed, "shot_noise", difficulty), dtype=tf.float64)
  u = ops.standard_uniform([frames, CROP_SIZE, CROP_SIZE, 3], int(seed),
                           f"imagenet_p/shot_noise/{difficulty}")
  noisy = noise.shot_noise_from_uniforms(_repeat(crop, frames), u, c)
  return _with_first(crop, noisy)


def _speckle_noise(image: tf.Tensor, seed: int, difficulty: int) -> tf.Tensor:
  crop = _center_crop(image)
  normals = tf.random.stateless_normal(
      [num_frames("speckle_noise") - 1, CROP_SIZE, CROP_SIZE, 3],
      _seed(seed, "speckle_noise", difficulty), dtype=tf.float64)
  return _speckle_noise_from_draws(crop, _SPECKLE_NOISE[difficulty - 1] * normals)


# --- PIL affine (torchvision 0.2.1 F.affine) -------------------------------------

def torchvision_affine_coefficients(width: int, height: int, angle: float = 0.0,
                                    translate: Tuple[float, float] = (0, 0),
                                    scale: float = 1.0,
                                    shear: float = 0.0) -> Tuple[float, ...]:
  """PIL AFFINE coefficients of torchvision 0.2.1 ``F.affine``.

  ``_get_inverse_affine_matrix`` with centre ``(w * 0.5 + 0.5, h * 0.5 + 0.5)``:
  output pixel (x, y) reads input ``(a x + b y + c, d x + e y + f)``.
  """
  center = (width * 0.5 + 0.5, height * 0.5 + 0.5)
  angle = math.radians(angle)
  shear = math.radians(shear)
  scale = 1.0 / scale
  d = (math.cos(angle + shear) * math.cos(angle)
       + math.sin(angle + shear) * math.sin(angle))
  matrix = [math.cos(angle + shear), math.sin(angle + shear), 0,
            -math.sin(angle), math.cos(angle), 0]
  matrix = [scale / d * m for m in matrix]
  matrix[2] += (matrix[0] * (-center[0] - translate[0])
                + matrix[1] * (-center[1] - translate[1]))
  matrix[5] += (matrix[3] * (-center[0] - translate[0])
                + matrix[4] * (-center[1] - translate[1]))
  matrix[2] += center[0]
  matrix[5] += center[1]
  return tuple(matrix)


def _gather_2d(image: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
  """image[rows, cols] for ``[F, h, w]`` index grids: ``[F, h, w, C]``."""
  return tf.gather_nd(image, tf.stack([rows, cols], axis=-1))


def _pil_affine(image: tf.Tensor, coefficients: np.ndarray, bilinear: bool,
                window: Tuple[int, int, int, int]) -> tf.Tensor:
  """Pillow ``Image.transform(size, AFFINE, coefficients, filter)`` on uint8 RGB.

  Args:
    image: uint8 ``[H, W, 3]``.
    coefficients: float64 ``[F, 6]``, one transform per frame.
    bilinear: BILINEAR (else NEAREST).
    window: (top, left, height, width) of the output to compute (the crop).

  Returns:
    uint8 ``[F, height, width, 3]``.

  Pillow (``Geometry.c``): ``xin = a (x + .5) + b (y + .5) + c``; NEAREST takes
  pixel ``floor(xin)``; BILINEAR returns fill (0) unless ``0 <= xin < W`` and
  ``0 <= yin < H``, then interpolates at ``xin - .5`` with neighbours clamped to
  the image (``a + (b - a) * d``, rows then columns, double) and truncates to
  uint8. Outside: fill 0.
  """
  h, w = int(image.shape[0]), int(image.shape[1])
  top, left, out_h, out_w = window
  coef = tf.constant(np.asarray(coefficients, np.float64))[:, :, tf.newaxis,
                                                            tf.newaxis]
  xs = tf.constant(np.arange(left, left + out_w, dtype=np.float64) + 0.5)
  ys = tf.constant(np.arange(top, top + out_h, dtype=np.float64) + 0.5)
  xs, ys = xs[tf.newaxis, tf.newaxis, :], ys[tf.newaxis, :, tf.newaxis]
  # Same evaluation order as Pillow's C: (a * x + b * y) + c.
  xin = (coef[:, 0] * xs + coef[:, 1] * ys) + coef[:, 2]
  yin = (coef[:, 3] * xs + coef[:, 4] * ys) + coef[:, 5]
  pixels = tf.cast(image, tf.float64)
  if not bilinear:
    col = tf.cast(tf.floor(xin), tf.int32)
    row = tf.cast(tf.floor(yin), tf.int32)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    value = _gather_2d(image, tf.clip_by_value(row, 0, h - 1),
                       tf.clip_by_value(col, 0, w - 1))
    return tf.where(inside[..., tf.newaxis], value, tf.zeros_like(value))
  inside = (xin >= 0.0) & (xin < w) & (yin >= 0.0) & (yin < h)
  xin, yin = xin - 0.5, yin - 0.5
  x0, y0 = tf.floor(xin), tf.floor(yin)
  dx, dy = (xin - x0)[..., tf.newaxis], (yin - y0)[..., tf.newaxis]
  x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
  c0, c1 = tf.clip_by_value(x0, 0, w - 1), tf.clip_by_value(x0 + 1, 0, w - 1)
  r0, r1 = tf.clip_by_value(y0, 0, h - 1), tf.clip_by_value(y0 + 1, 0, h - 1)
  p00, p01 = _gather_2d(pixels, r0, c0), _gather_2d(pixels, r0, c1)
  p10, p11 = _gather_2d(pixels, r1, c0), _gather_2d(pixels, r1, c1)
  v1 = p00 + (p01 - p00) * dx
  v2 = p10 + (p11 - p10) * dx
  v = v1 + (v2 - v1) * dy
  out = tf.cast(tf.clip_by_value(tf.floor(v), 0.0, 255.0), tf.uint8)
  return tf.where(inside[..., tf.newaxis], out, tf.zeros_like(out))


def _affine_sequence(image: tf.Tensor, params: Sequence[Dict[str, float]],
                     bilinear: bool = True) -> tf.Tensor:
  """CenterCrop(224)(F.affine(img, **p)) for each p; ``[len(params), 224, 224, 3]``."""
  h, w = int(image.shape[0]), int(image.shape[1])
  coefficients = np.array([torchvision_affine_coefficients(w, h, **p)
                           for p in params])
  top, left = _crop_offsets(h, w)
  return _pil_affine(image, coefficients, bilinear,
                     (top, left, CROP_SIZE, CROP_SIZE))


def _translate(image: tf.Tensor) -> tf.Tensor:
  # torchvision 0.2.1's default resample=0: NEAREST.
  return _affine_sequence(
      image, [dict(translate=(i - 20, 0)) for i in range(num_frames("translate"))],
      bilinear=False)


def _rotate(image: tf.Tensor) -> tf.Tensor:
  return _affine_sequence(
      image, [dict(angle=i - 15) for i in range(num_frames("rotate"))])


def _scale(image: tf.Tensor) -> tf.Tensor:
  return _affine_sequence(
      image, [dict(scale=(i * 2.5 + 40) / 100.) for i in range(num_frames("scale"))])


def _shear(image: tf.Tensor) -> tf.Tensor:
  return _affine_sequence(
      image, [dict(shear=i - 15) for i in range(num_frames("shear"))])


def _zoom_blur(image: tf.Tensor) -> tf.Tensor:
  """Running mean (float32, torch) of the crop and its zooms 1 + 0.004 j.

  Reference: ``avg = ToTensor()(crop)``; for i >= 1: ``avg += ToTensor()(crop(
  affine(img, scale=1 + 0.004 i)))``, frame i = ``ToPILImage()(avg / (i + 1))``
  (``mul(255).byte()``).
  """
  n = num_frames("zoom_blur")
  crop = _center_crop(image)
  zooms = _affine_sequence(image, [dict(scale=1 + 0.004 * i) for i in range(1, n)])
  avg = ops.to_unit(crop, tf.float32)
  frames = [crop]
  for i in range(1, n):
    avg = avg + ops.to_unit(zooms[i - 1], tf.float32)
    frames.append(ops.unit_to_uint8(ops.divide_exact(avg, float(i + 1))))
  return tf.stack(frames)


# --- tilt (cv2.warpPerspective) ---------------------------------------------------

def tilt_matrix(width: int, height: int, degrees: float) -> np.ndarray:
  """The reference's 3x3 perspective matrix ``P2 @ T @ RX @ RY @ P1``."""
  phi = theta = np.deg2rad(degrees)
  w, h = width, height
  f = np.sqrt(w ** 2 + h ** 2)
  p1 = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1], [0, 0, 1]])
  rx = np.array([[1, 0, 0, 0], [0, np.cos(theta), -np.sin(theta), 0],
                 [0, np.sin(theta), np.cos(theta), 0], [0, 0, 0, 1]])
  ry = np.array([[np.cos(phi), 0, -np.sin(phi), 0], [0, 1, 0, 0],
                 [np.sin(phi), 0, np.cos(phi), 0], [0, 0, 0, 1]])
  t = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, f], [0, 0, 0, 1]])
  p2 = np.array([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0]])
  return p2 @ t @ rx @ ry @ p1


def _cv2_warp_perspective(image: tf.Tensor, matrices: np.ndarray,
                          window: Tuple[int, int, int, int]) -> tf.Tensor:
  """OpenCV ``warpPerspective(img, M, (w, h))``, INTER_LINEAR, border 0, uint8.

  OpenCV inverts M, then per destination pixel: ``W = 32 / (m6 x + m7 y + m8)``,
  ``X = rint((m1 y + m2 + m0 x) * W)`` (likewise Y); source pixel ``X >> 5``,
  fraction ``X & 31``; weights ``(32 - fx)(32 - fy) * 32`` etc. summing to
  2^15; ``(sum + 2^14) >> 15``; neighbours outside the image read 0.
  """
  h, w = int(image.shape[0]), int(image.shape[1])
  top, left, out_h, out_w = window
  inverse = np.stack([np.linalg.inv(m).reshape(9) for m in matrices])
  m = tf.constant(inverse)[:, :, tf.newaxis, tf.newaxis]
  xs = tf.constant(np.arange(left, left + out_w, dtype=np.float64))
  ys = tf.constant(np.arange(top, top + out_h, dtype=np.float64))
  xs, ys = xs[tf.newaxis, tf.newaxis, :], ys[tf.newaxis, :, tf.newaxis]
  denominator = (m[:, 7] * ys + m[:, 8]) + m[:, 6] * xs
  scale = tf.math.divide_no_nan(tf.constant(32.0, tf.float64), denominator)
  fx = ((m[:, 1] * ys + m[:, 2]) + m[:, 0] * xs) * scale
  fy = ((m[:, 4] * ys + m[:, 5]) + m[:, 3] * xs) * scale
  big = float(2**31 - 1)
  qx = tf.cast(tf.math.rint(tf.clip_by_value(fx, -big, big)), tf.int64)
  qy = tf.cast(tf.math.rint(tf.clip_by_value(fy, -big, big)), tf.int64)
  x0, y0 = qx // 32, qy // 32  # arithmetic shift: floor division.
  ax, ay = qx - x0 * 32, qy - y0 * 32
  pixels = tf.cast(image, tf.int64)

  def tap(rows, cols):
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    value = _gather_2d(pixels, tf.clip_by_value(rows, 0, h - 1),
                       tf.clip_by_value(cols, 0, w - 1))
    return tf.where(inside[..., tf.newaxis], value, tf.zeros_like(value))

  ax, ay = ax[..., tf.newaxis], ay[..., tf.newaxis]
  total = (tap(y0, x0) * ((32 - ax) * (32 - ay) * 32)
           + tap(y0, x0 + 1) * (ax * (32 - ay) * 32)
           + tap(y0 + 1, x0) * ((32 - ax) * ay * 32)
           + tap(y0 + 1, x0 + 1) * (ax * ay * 32))
  shifted = tf.bitwise.right_shift(total + (1 << 14), tf.constant(15, tf.int64))
  return tf.cast(tf.clip_by_value(shifted, 0, 255), tf.uint8)


def _tilt(image: tf.Tensor) -> tf.Tensor:
  h, w = int(image.shape[0]), int(image.shape[1])
  matrices = [tilt_matrix(w, h, i - 15) for i in range(num_frames("tilt"))]
  top, left = _crop_offsets(h, w)
  return _cv2_warp_perspective(image, np.stack(matrices),
                               (top, left, CROP_SIZE, CROP_SIZE))


# --- blur, brightness ---------------------------------------------------------------

def _motion_blur(image: tf.Tensor) -> tf.Tensor:
  """ImageMagick motion blur radius 10, sigma 3 at angle (i - 30) * 4.

  `tfds_bench.corruptions` severity 1 has exactly (radius 10, sigma 3).
  """
  n = num_frames("motion_blur")
  angles = tf.constant([(i - 30) * 4.0 for i in range(n)], tf.float64)
  return blur.motion_blur_from_angles(_repeat(_center_crop(image), n), 1, angles)


def _gaussian_blur(image: tf.Tensor) -> tf.Tensor:
  """``np.uint8(255 * gaussian(x / 255, sigma=.25 + .035 i, truncate=6))``.

  skimage ``gaussian`` (multichannel) is scipy's gaussian_filter per channel,
  mode 'nearest'.
  """
  crop = tf.transpose(ops.to_unit(_center_crop(image)), [2, 0, 1])
  frames = []
  for i in range(num_frames("gaussian_blur")):
    blurred = filters.gaussian_2d(crop, 0.25 + 0.035 * i, 6.0, "nearest")
    frames.append(ops.unit_to_uint8(blurred))
  return tf.transpose(tf.stack(frames), [0, 2, 3, 1])


def _brightness(image: tf.Tensor) -> tf.Tensor:
  """skimage HSV: V = clip(V + (i - 15) * 2 / 100, 0, 1); ``np.uint8(x * 255)``."""
  n = num_frames("brightness")
  hsv = color.rgb_to_hsv(ops.to_unit(_center_crop(image)))
  h, s, v = tf.unstack(hsv, axis=-1)
  shift = tf.constant([(i - 15) * 2 / 100. for i in range(n)], tf.float64)
  v = tf.clip_by_value(v[tf.newaxis] + shift[:, tf.newaxis, tf.newaxis], 0.0, 1.0)
  hsv = tf.stack([_repeat(h, n), _repeat(s, n), v], axis=-1)
  return ops.unit_to_uint8(color.hsv_to_rgb(hsv))


# --- snow, spatter -------------------------------------------------------------------

def _snow_from_draws(image: tf.Tensor, normals) -> tf.Tensor:
  """Snow sequence from float64 standard normals ``[224, 224]`` (one layer).

  Reference: ``layer = normal(.05, .3)``; ``clipped_zoom(layer, 3)``; values
  < .5 -> 0; to a PIL 'L' image (``(clip * 255).astype(uint8)``); per frame
  i: ImageMagick motion blur (radius 14, sigma 4, angle 4 i - 150) / 255;
  ``z = .85 x + .15 max(x, gray(x) * 1.5 + .5)``;
  ``np.uint8(clip(z + layer + rot180(layer), 0, 1) * 255)``.
  """
  loc, scale, zoom, threshold, radius, sigma, blend = _SNOW
  n = num_frames("snow")
  layer = loc + scale * tf.cast(normals, tf.float64)
  zoom_matrix = tf.constant(resample.clipped_zoom_matrix(CROP_SIZE, zoom))
  layer = tf.einsum("ij,jk,lk->il", zoom_matrix, layer, zoom_matrix)
  layer = tf.where(layer < threshold, tf.zeros_like(layer), layer)
  layer = tf.floor(tf.clip_by_value(layer, 0.0, 1.0) * 255.0)
  angles = tf.constant([i * 4.0 - 150 for i in range(n)], tf.float64)
  dy, dx = filters.motion_shifts(angles, 2 * radius + 1)
  layers = filters.motion_blur(_repeat(layer, n), filters.motion_blur_kernel(radius, sigma),
                               dy, dx)
  layers = ops.to_unit(tf.clip_by_value(tf.round(layers), 0., 255.))[..., tf.newaxis]
  x = ops.to_unit(_center_crop(image))
  gray = tf.cast(color.gray_cv2(tf.cast(x, tf.float32)[tf.newaxis])[0] * 1.5 + 0.5,
                 tf.float64)
  z = blend * x + (1 - blend) * tf.maximum(x, gray)
  z = z[tf.newaxis] + layers + tf.reverse(layers, axis=[1, 2])
  return ops.unit_to_uint8(z)


def _snow(image: tf.Tensor, seed: int) -> tf.Tensor:
  normals = tf.random.stateless_normal([CROP_SIZE, CROP_SIZE], _seed(seed, "snow"),
                                       dtype=tf.float64)
  return _snow_from_draws(image, normals)


def spatter_liquid_layers(liquid: np.ndarray | tf.Tensor, n: int) -> tf.Tensor:
  """The liquid layer of each frame: frame 0's, then smeared down per frame.

  ``np.apply_along_axis(lambda m: np.convolve(m, [.05, .1, .15, .7], 'same'),
  0, liquid)``: ``out[r] = .05 l[r + 1] + .1 l[r] + .15 l[r - 1] + .7 l[r - 2]``
  (zero outside), accumulated in numpy's order.
  """
  k = _SPATTER_SMEAR
  layers = [tf.cast(liquid, tf.float64)]
  for _ in range(n - 1):
    l = layers[-1]
    pad = tf.pad(l, [[2, 1], [0, 0]])
    # np.convolve 'same' = full[1:1 + N]; full[j] = sum_k l[j - k] kernel[k].
    rows = l.shape[0]
    smeared = (pad[3:3 + rows] * k[0] + pad[2:2 + rows] * k[1]
               + pad[1:1 + rows] * k[2] + pad[0:rows] * k[3])
    layers.append(smeared)
  return tf.stack(layers)


def _spatter_from_draws(image: tf.Tensor, normals) -> tf.Tensor:
  """Spatter (water) sequence from float64 standard normals ``[224, 224]``.

  Reference: ``liquid = gaussian(normal(.65, .27), sigma=3.7)``; < .69 -> 0;
  per frame: the ImageNet-C water mask of the liquid (Canny, distance
  transform, equalizeHist, emboss; `tfds_bench.corruptions`), ``m / max(m) *
  .6``, ``np.uint8(clip(x + m * (175, 238, 238) / 255, 0, 1) * 255)`` (x float32);
  then the liquid is smeared down (`spatter_liquid_layers`).
  """
  loc, scale, sigma, threshold, weight = _SPATTER
  n = num_frames("spatter")
  liquid = loc + scale * tf.cast(normals, tf.float64)
  liquid = filters.gaussian_2d(liquid[tf.newaxis], sigma, 4.0, "nearest")[0]
  liquid = tf.where(liquid < threshold, tf.zeros_like(liquid), liquid)
  layers = spatter_liquid_layers(liquid, n)
  m = weather.water_mask(layers)
  # A frame without liquid has m = 0 everywhere (the reference divides 0 by 0).
  m = tf.math.divide_no_nan(m, tf.reduce_max(m, axis=(1, 2), keepdims=True))
  m = (m * weight)[..., tf.newaxis]
  water = tf.constant(weather.WATER_RGB, tf.float32)
  x = ops.to_unit(_center_crop(image), tf.float32)
  return ops.unit_to_uint8(x[tf.newaxis] + m * water)


def _spatter(image: tf.Tensor, seed: int) -> tf.Tensor:
  normals = tf.random.stateless_normal([CROP_SIZE, CROP_SIZE], _seed(seed, "spatter"),
                                       dtype=tf.float64)
  return _spatter_from_draws(image, normals)


# --- public API ------------------------------------------------------------------------

_SEQUENCES: Dict[str, Callable[[tf.Tensor, int], tf.Tensor]] = {
    "motion_blur": lambda image, seed: _motion_blur(image),
    "zoom_blur": lambda image, seed: _zoom_blur(image),
    "snow": _snow,
    "brightness": lambda image, seed: _brightness(image),
    "translate": lambda image, seed: _translate(image),
    "rotate": lambda image, seed: _rotate(image),
    "tilt": lambda image, seed: _tilt(image),
    "scale": lambda image, seed: _scale(image),
    "gaussian_blur": lambda image, seed: _gaussian_blur(image),
    "spatter": _spatter,
    "shear": lambda image, seed: _shear(image),
}
_NOISE_SEQUENCES = {
    "gaussian_noise": _gaussian_noise,
    "shot_noise": _shot_noise,
    "speckle_noise": _speckle_noise,
}


def sequence(image, name: str, seed: int = 0, difficulty: int = 1) -> tf.Tensor:
  """The ImageNet-P sequence of one image.

  Args:
    image: uint8 ``[H, W, 3]`` with min(H, W) >= 224: the val image after
      ``Resize(256)`` (as the release: shorter side 256, bilinear),
      or an already cropped 224x224 image.
    name: one of `NAMES`.
    seed: seeds the random perturbations (noise, snow, spatter); the others
      are deterministic.
    difficulty: 1..3; selects the noise strength for the noise perturbations
      (the release's ``<name>_<d>`` sets). Other perturbations have one set of
      sequences (the difficulty is the scoring step) and accept only 1.

  Returns:
    uint8 ``[num_frames(name), 224, 224, 3]``.
  """
  _check_name(name)
  if difficulty not in DIFFICULTIES:
    raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty!r}")
  if difficulty != 1 and name not in NOISE_NAMES:
    raise ValueError(
        f"{name} has one set of sequences; its difficulty is the frame step "
        "when scoring (tfds_bench.metrics.flip_probability), not a sequence "
        "parameter")
  image = tf.convert_to_tensor(image)
  if image.dtype != tf.uint8:
    raise TypeError(f"image must be uint8, got {image.dtype.name}")
  if (image.shape.rank != 3 or image.shape[-1] != 3 or None in image.shape
      or min(image.shape[0], image.shape[1]) < CROP_SIZE):
    raise ValueError(
        f"image must be [H, W, 3] with H, W >= {CROP_SIZE}, got {image.shape}")
  if name in _NOISE_SEQUENCES:
    return _NOISE_SEQUENCES[name](image, int(seed), difficulty)
  return _SEQUENCES[name](image, int(seed))


__all__ = ["CROP_SIZE", "NAMES", "NOISE_NAMES", "num_frames", "sequence",
           "tilt_matrix", "torchvision_affine_coefficients"]
