"""ImageNet-C-bar's 10 corruptions as batched TensorFlow ops.

Reference: facebookresearch/augmentation-corruption ``imagenet_c_bar/``
(commit ba4d5a5e9132fe98fcd4be1ac90abedbbb188794, MIT licence):
``corrupt.py`` (the transforms), ``utils/image.py`` (bilinear lookup),
``utils/perlin_noise.py``, ``imagenet_c_bar.csv`` (the five levels of each
corruption) and ``make_imagenet_c_bar.py`` (Resize(256), CenterCrop(224),
transform, JPEG quality 85). Each transform there has ``sample_parameters``
(numpy's global stream) and ``transform`` (per-pixel Python loops, some of
them with a second ``RandomState`` seeded from a drawn integer); here every
corruption is a public ``fn(images, severity, seed)`` that draws the same
parameters from ``ops``' keyed stateless streams (key ``"c_bar/<name>"``,
``"c_bar/<name>/<k>"``) and a private ``_*_from_params`` that does all the
arithmetic, so the tests can feed one set of parameters to both sides.

Severity s in 1..5 is the s-th level of the release's csv; the transforms
turn a level into their strength with ``level * max / 10``
(`float_parameter`). The release works on 224x224 images; on an H x W image
the engine computes the pattern the reference would draw for a square of side
S = max(H, W) (the ``im_size`` of every parameter) and keeps its top-left
H x W window, so a 224x224 image gets the reference exactly.

Quirks kept: checkerboard_cutout's negative grid indices wrap around (Python
indexing) and ``int()`` truncates toward zero; perlin_noise's table shuffle is
the release's biased one (each of 256 swaps picks any slot); caustic_refraction's
"north/south" neighbours are the left/right ones, its gaussian softening
reflects at the border, and its bilinear blend runs in float32 when all four
neighbours are inside the image (release-era numpy's value-based casting) and
in float64 otherwise; sparkles rounds the image to float32 between its five
sparkles; plasma_noise's iteration count varies per image; perlin_noise's rare
zero gradient (probability 2^-18 per table entry) gives NaN, which numpy's
uint8 cast turns into 0 on x86, as here.

Draws are equal in distribution to the release's (its Mersenne Twister
streams are not reproducible in TF). Arithmetic is float64 like numpy's.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions import ops
from tfds_bench.corruptions.xla_exact import materialize
from tfds_bench.corruptions.xla_exact import negzero
from tfds_bench.corruptions.xla_exact import xla_function

# imagenet_c_bar.csv: the five levels of each corruption, severity 1..5.
LEVELS: Dict[str, Tuple[float, ...]] = {
    "blue_noise_sample": (0.8, 1.6, 2.4, 4.0, 5.6),
    "brownish_noise": (1.0, 2.0, 3.0, 4.0, 5.0),
    "caustic_refraction": (2.35, 3.2, 4.9, 6.6, 9.15),
    "checkerboard_cutout": (2.0, 3.0, 4.0, 5.0, 6.0),
    "cocentric_sine_waves": (3.0, 5.0, 8.0, 9.0, 10.0),
    "inverse_sparkles": (1.0, 2.0, 4.0, 9.0, 10.0),
    "perlin_noise": (4.6, 5.2, 5.8, 7.6, 8.8),
    "plasma_noise": (4.75, 7.0, 8.5, 9.25, 10.0),
    "single_frequency_greyscale": (1.0, 1.5, 2.0, 4.5, 5.0),
    "sparkles": (1.0, 2.0, 3.0, 5.0, 6.0),
}

_F64 = tf.float64
_LUMA = (0.2126, 0.7152, 0.0722)
# Caps of per-image counts that the release draws: static draw shapes.
_MAX_RAYS = 199  # randint(50, 200)
_MAX_GRID = 40  # int(4 * S // scale) with scale >= 0.1 * S
_PLASMA_MAX_ITERATIONS = 6  # randint(4, 7)


def float_parameter(level: float, maxval: float) -> float:
  """The release's strength of a level: ``float(level) * maxval / 10.``."""
  return float(level) * maxval / 10.


def level(name: str, severity: int) -> float:
  return LEVELS[name][severity - 1]


def _side(images) -> int:
  h, w = ops.static_hw(images)
  return max(h, w)


def _grid(images):
  """float64 row (y) ``[1, H, 1]`` and column (x) ``[1, 1, W]`` coordinates."""
  h, w = ops.static_hw(images)
  y = tf.reshape(tf.range(h, dtype=_F64), [1, h, 1])
  x = tf.reshape(tf.range(w, dtype=_F64), [1, 1, w])
  return y, x


def _per_image(p):
  """``[B]`` -> ``[B, 1, 1]`` for broadcasting over rows and columns."""
  return tf.reshape(p, [-1, 1, 1])


def _uniforms(images, seed, name: str, count: int, key_suffix: str = "") -> tf.Tensor:
  """float64 U[0, 1) ``[B, count]``, the stream ``c_bar/<name><suffix>``."""
  return ops.standard_uniform([ops.static_batch_size(images), count], seed,
                              f"c_bar/{name}{key_suffix}", tf.float64)


def _uniform(u, low: float, high: float):
  """numpy's ``uniform(low, high)`` of a U[0, 1) value: ``low + (high - low) * u``."""
  return low + (high - low) * u


def _randint(u, low: int, high: int):
  """numpy's ``randint(low, high)``, equal in distribution, from U[0, 1)."""
  return low + tf.cast(tf.floor(u * (high - low)), tf.int32)


def _fill(shape, value: float) -> tf.Tensor:
  """A float64 ``[B]`` of a per-severity value (``tf.fill`` of a Python float is float32)."""
  return tf.fill(shape, tf.constant(value, _F64))


def _to_uint8(x):
  """``np.clip(x, 0, 255).astype(np.uint8)``; NaN -> 0 as numpy's cast gives on x86."""
  return ops.to_uint8(tf.where(tf.math.is_nan(x), tf.zeros_like(x), x))


def _crop(noise, images):
  """The top-left H x W window of an S x S pattern ``[B, S, S, ...]``."""
  h, w = ops.static_hw(images)
  return noise[:, :h, :w]


# --- single_frequency_greyscale -------------------------------------------


@xla_function
def _single_frequency_xla(images, freq_x, freq_y, phase, intensity):
  y, x = _grid(images)
  noise = tf.sin(x * _per_image(freq_x) + y * _per_image(freq_y) + _per_image(phase))
  out = tf.cast(images, _F64) + _per_image(intensity)[..., None] * noise[..., None]
  return _to_uint8(out)


def _single_frequency_greyscale_from_params(images, freq_x, freq_y, phase, intensity):
  """``clip(image + intensity * sin(x * freq[0] + y * freq[1] + phase))``."""
  return _single_frequency_xla(images, *(tf.cast(p, _F64) for p in
                                         (freq_x, freq_y, phase, intensity)))


def single_frequency_greyscale(images, severity: int, seed=0):
  u = _uniforms(images, seed, "single_frequency_greyscale", 4)
  freq_mag = _uniform(u[:, 0], -np.pi, np.pi)
  freq_2 = -tf.abs(freq_mag) + (tf.abs(freq_mag) - -tf.abs(freq_mag)) * u[:, 1]
  swap = u[:, 2] < 0.5  # np.random.permutation(2)
  freq_x = tf.where(swap, freq_2, freq_mag)
  freq_y = tf.where(swap, freq_mag, freq_2)
  phase = _uniform(u[:, 3], 0., 2 * np.pi)
  b = ops.static_batch_size(images)
  intensity = _fill([b], float_parameter(level("single_frequency_greyscale", severity), 196))
  return _single_frequency_greyscale_from_params(images, freq_x, freq_y, phase, intensity)


# --- cocentric_sine_waves -------------------------------------------------


@xla_function
def _cocentric_xla(images, x0, y0, freq, amplitude, ring_width, intensity):
  y, x = _grid(images)
  dx = x - _per_image(x0)
  dy = y - _per_image(y0)
  angle = tf.atan2(dx, dy) * _per_image(freq)
  ring = _per_image(ring_width)
  distance = tf.math.floormod(tf.sqrt(dx * dx + dy * dy) + tf.sin(angle) * _per_image(amplitude),
                              ring) / ring - 0.5
  out = tf.cast(images, _F64) + _per_image(intensity)[..., None] * distance[..., None]
  return _to_uint8(out)


def _cocentric_sine_waves_from_params(images, offset_x, offset_y, freq, amplitude, ring_width,
                                      intensity):
  """Rings around (offset_x, offset_y): ``((r + sin(freq * atan2) * amp) % w) / w - 1/2``."""
  return _cocentric_xla(images, *(tf.cast(p, _F64) for p in
                                  (offset_x, offset_y, freq, amplitude, ring_width, intensity)))


def cocentric_sine_waves(images, severity: int, seed=0):
  s = _side(images)
  u = _uniforms(images, seed, "cocentric_sine_waves", 5)
  offset_x = _uniform(u[:, 0], 0., float(s))
  offset_y = _uniform(u[:, 1], 0., float(s))
  freq = _uniform(u[:, 2], 0., 10.)
  amplitude = _uniform(u[:, 3], 0., s / 10)
  ring_width = _uniform(u[:, 4], 0., s / 10)
  intensity = _fill([ops.static_batch_size(images)],
                      float_parameter(level("cocentric_sine_waves", severity), 128))
  return _cocentric_sine_waves_from_params(images, offset_x, offset_y, freq, amplitude,
                                           ring_width, intensity)


# --- plasma_noise ----------------------------------------------------------


@xla_function
def _plasma_xla(images, time, iterations, sharpness, scale, intensity):
  y, x = _grid(images)
  rand = _per_image(time)
  x = x / _per_image(scale)
  y = y / _per_image(scale)
  ones = tf.ones_like(rand)
  i0, i1, i2, i3 = ones, ones, ones, tf.zeros_like(rand)
  iterations = _per_image(iterations)
  for step in range(_PLASMA_MAX_ITERATIONS):
    r0 = tf.cos(y * i0 - i3 + rand / i1) / i2
    r1 = tf.sin(x * i0 - i3 + rand / i1) / i2
    r0, r1 = r0 + -r1 * 0.3, r1 + r0 * 0.3
    active = step < iterations
    x = tf.where(active, x + r0, x)
    y = tf.where(active, y + r1, y)
    i0, i1, i2, i3 = (i0 * 1.93, i1 * 1.15, i2 * (2.25 - _per_image(sharpness)),
                      i3 * (rand * i1))
  noise = tf.stack([tf.sin(x - rand), tf.sin((x + y + tf.sin(rand)) * 0.5), tf.sin(y + rand)],
                   axis=-1)
  c = _per_image(intensity)[..., None]
  out = (1 - c / 255) * tf.cast(images, _F64) + c * noise
  return _to_uint8(out)


def _plasma_noise_from_params(images, time, iterations, sharpness, scale, intensity):
  """The release's plasma kernel (a shader's iterated warp) per pixel."""
  return _plasma_xla(images, tf.cast(time, _F64), tf.cast(iterations, tf.int32),
                     *(tf.cast(p, _F64) for p in (sharpness, scale, intensity)))


def plasma_noise(images, severity: int, seed=0):
  s = _side(images)
  u = _uniforms(images, seed, "plasma_noise", 4)
  time = _uniform(u[:, 0], 0., 6 * np.pi)
  iterations = _randint(u[:, 1], 4, 7)
  sharpness = _uniform(u[:, 2], 0.5, 1.0)
  scale = _uniform(u[:, 3], 0.075, 0.2) * s
  intensity = _fill([ops.static_batch_size(images)],
                      float_parameter(level("plasma_noise", severity), 64))
  return _plasma_noise_from_params(images, time, iterations, sharpness, scale, intensity)


# --- caustic_refraction ----------------------------------------------------


def _gaussian_taps(sigma: float) -> np.ndarray:
  """scipy.ndimage.gaussian_filter's 1-D weights (truncate 4)."""
  radius = int(4.0 * sigma + 0.5)
  k = np.arange(-radius, radius + 1, dtype=np.float64)
  w = np.exp(-0.5 / (sigma * sigma) * k * k)
  return w / w.sum()


def _reflect_index(n: int, radius: int) -> np.ndarray:
  """scipy's 'reflect' border (d c b a | a b c d | d c b a) for taps -radius..radius: ``[n, 2r+1]``."""
  idx = np.arange(n)[:, None] + np.arange(-radius, radius + 1)[None, :]
  idx = np.mod(idx, 2 * n)
  return np.where(idx >= n, 2 * n - 1 - idx, idx)


def _soften(noise, sigma: float, nz=None):
  """``gaussian_filter(noise[..., None] * [1, 1, 1], sigma)[..., 0]`` of ``[B, H, W]``.

  scipy filters the three equal channels too: along rows, columns, then
  channels, each a symmetric correlate1d summed as scipy does (centre tap,
  then pairs from the outermost in).
  """
  taps = _gaussian_taps(sigma)
  radius = len(taps) // 2
  h, w = noise.shape[1], noise.shape[2]
  for axis, n in ((1, h), (2, w)):
    gathered = tf.gather(noise, tf.constant(_reflect_index(n, radius)), axis=axis)
    tap = (lambda k, a=axis: tf.gather(gathered, k, axis=a + 1))
    out = tap(radius) * taps[radius]
    for j in range(radius, 0, -1):
      out = out + (tap(radius - j) + tap(radius + j)) * taps[radius - j]
    noise = out if nz is None else materialize(out, nz)
  out = noise * taps[radius]  # the channel axis: every tap reads the same value
  for j in range(radius, 0, -1):
    out = out + (noise + noise) * taps[radius - j]
  return out


def _caustic_pattern(images, time, size):
  """The caustic kernel's value ``[B, H, W]`` at each pixel (point = [y, x])."""
  y, x = _grid(images)
  size = _per_image(size)
  p0 = tf.math.floormod(y / size, 1.) * 6.28318530718 - 250
  p1 = tf.math.floormod(x / size, 1.) * 6.28318530718 - 250
  p0, p1 = p0 + tf.zeros_like(p1), p1 + tf.zeros_like(p0)
  i0, i1 = p0, p1
  c = tf.ones_like(p0)
  inten = 0.005
  time = _per_image(time)
  for n in range(5):
    t = time * (1.0 - (3.5 / (n + 1)))
    i0, i1 = (p0 + (tf.cos(t - i0) + tf.sin(t + i1)), p1 + (tf.sin(t - i1) + tf.cos(t + i0)))
    a = p0 / (tf.sin(i0 + t) / inten)
    b = p1 / (tf.cos(i1 + t) / inten)
    length = tf.sqrt(a * a + b * b)
    c = c + 1.0 / length
  c = c / 5.0
  c = 1.17 - tf.pow(c, 1.4)
  return tf.clip_by_value(tf.pow(tf.abs(c), 8.0), 0., 1.)


def _shifted(x, dy: int, dx: int):
  """``x[:, y + dy, x + dx]`` with zeros outside ``[B, H, W]``."""
  h, w = x.shape[1], x.shape[2]
  padded = tf.pad(x, [[0, 0], [1, 1], [1, 1]])
  return padded[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]


def _round3(x):
  """``np.round(x, 3)``: rint(x * 1000) / 1000."""
  return tf.math.round(x * 1000.) / tf.constant(1000., _F64)


@xla_function
def _caustic_xla(images, time, size, lens_scale, lighting_amount, nz):
  b = tf.shape(images)[0]
  h, w = ops.static_hw(images)
  # materialize: each filter tap and neighbour would otherwise recompute its producer.
  pattern = _soften(materialize(_caustic_pattern(images, time, size), nz), 1.0, nz)
  luma = materialize(pattern * _LUMA[0] + pattern * _LUMA[1] + pattern * _LUMA[2], nz)
  # The release's neighbours of point (y, x): "north" (y, x-1), "south" (y, x+1),
  # "west" (y-1, x), "east" (y+1, x).
  north, south = _shifted(luma, 0, -1), _shifted(luma, 0, 1)
  west, east = _shifted(luma, -1, 0), _shifted(luma, 1, 0)
  n0, n1 = east - west, south - north
  norm = tf.sqrt(n0 * n0 + n1 * n1 + 1.0)
  n0, n1, n2 = n0 / norm, n1 / norm, 1.0 / norm
  # refract([0, 0, 1], n, eta): the incident ray rotated towards the normal's frame.
  eta = 4.0
  out_angle = tf.asin(tf.sin(tf.acos(n2)) / eta)
  m = tf.sqrt(n0 * n0 + n1 * n1)
  safe_m = tf.where(m > 0, m, tf.ones_like(m))
  along = tf.cos(out_angle) - n2 * tf.sin(out_angle) / safe_m
  straight = tf.abs(n2) >= 1.0 - 1e-3
  lens = _per_image(lens_scale)
  dy = tf.where(straight, tf.zeros_like(n0), _round3(n0 * along * lens))
  dx = tf.where(straight, tf.zeros_like(n1), _round3(n1 * along * lens))
  y, x = _grid(images)
  py, px = y + dy, x + dx
  fl, fu = tf.floor(py), tf.floor(px)
  l, u = tf.cast(fl, tf.int32), tf.cast(fu, tf.int32)
  r, d = l + 1, u + 1
  image = ops.to_unit(images, tf.float32)  # image.astype(np.float32) / 255

  def at(row, col):
    inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
    flat = (tf.reshape(tf.range(b), [-1, 1, 1]) * h + tf.clip_by_value(row, 0, h - 1)) * w + \
        tf.clip_by_value(col, 0, w - 1)
    values = tf.gather(tf.reshape(image, [-1, 3]), flat)
    return tf.where(inside[..., None], values, tf.zeros_like(values)), inside

  # Release-era numpy (value-based casting): a float32 neighbour times a float64
  # scalar is float32, an outside neighbour (int zeros) makes float64, and a sum
  # is float32 only if both terms are. Values carry a float32 flag.
  def mul(value, is32, scalar):
    single = tf.cast(tf.cast(value, tf.float32) * tf.cast(scalar, tf.float32), _F64)
    return tf.where(is32, single, value * scalar), is32

  def add(a, b):
    (va, a32), (vb, b32) = a, b
    both = a32 & b32
    single = tf.cast(tf.cast(va, tf.float32) + tf.cast(vb, tf.float32), _F64)
    return tf.where(both, single, va + vb), both

  def add_in_place(a, scalar):  # out += float64 scalar keeps out's dtype
    va, a32 = a
    single = tf.cast(tf.cast(va, tf.float32) + tf.cast(scalar, tf.float32), _F64)
    return tf.where(a32, single, va + scalar), a32

  def neighbour(row, col):
    values, inside = at(row, col)
    return tf.cast(values, _F64), tf.broadcast_to(inside[..., None], tf.shape(values))

  lu, ld, ru, rd = neighbour(l, u), neighbour(l, d), neighbour(r, u), neighbour(r, d)
  wu = (1.0 - px + fu)[..., None]
  wd = (1.0 - (fu + 1.) + px)[..., None]
  wl = (1.0 - py + fl)[..., None]
  wr = (1.0 - (fl + 1.) + py)[..., None]
  al = add(mul(*lu, wu), mul(*ld, wd))
  ar = add(mul(*ru, wu), mul(*rd, wd))
  out = add(mul(*al, wl), mul(*ar, wr))
  out = add_in_place(out, ((north - south) * _per_image(lighting_amount))[..., None])
  out = add_in_place(out, ((east - west) * _per_image(lighting_amount))[..., None])
  value, is32 = out
  value = tf.clip_by_value(value, 0., 1.)
  # np.array of the pixels is float32 only if every pixel is; then so is * 255.
  all32 = tf.reduce_all(is32, axis=[1, 2, 3], keepdims=True)
  scaled = tf.where(all32, tf.cast(tf.cast(value, tf.float32) * 255., _F64), value * 255.)
  return ops.to_uint8(scaled)


def _caustic_refraction_from_params(images, time, size, lens_scale, lighting_amount):
  """Refraction through a softened caustic height map, plus its lighting."""
  return _caustic_xla(images, *(tf.cast(p, _F64) for p in
                                (time, size, lens_scale, lighting_amount)), negzero())


def caustic_refraction(images, severity: int, seed=0):
  s = _side(images)
  u = _uniforms(images, seed, "caustic_refraction", 2)
  time = _uniform(u[:, 0], 0.5, 2.0)
  size = _uniform(u[:, 1], 0.75, 1.25) * s
  lv = level("caustic_refraction", severity)
  bsz = ops.static_batch_size(images)
  lens_scale = _fill([bsz], float_parameter(lv, 0.5 * s))
  lighting = _fill([bsz], float_parameter(lv, 2.0))
  return _caustic_refraction_from_params(images, time, size, lens_scale, lighting)


# --- checkerboard_cutout ---------------------------------------------------


def _python_floordiv(a, b):
  """Python's float ``a // b`` (fmod-based, as CPython computes it), b > 0."""
  mod = tf.math.floormod(a, b)
  div = (a - mod) / b
  floor = tf.floor(div)
  return tf.where(div - floor > 0.5, floor + 1., floor)


@xla_function
def _checkerboard_xla(images, angle, scale, cells):
  """``cells``: bool ``[B, 40, 40]``, the top-left n x n of which is the release's grid."""
  s = float(max(ops.static_hw(images)))
  y, x = _grid(images)
  angle = _per_image(angle)
  scale_ = _per_image(scale)
  n = tf.cast(_python_floordiv(tf.constant(4. * s, _F64), scale_), tf.int32)  # int(4 * S // scale)
  nx = (tf.cos(angle) * y + tf.sin(angle) * x) / scale_
  ny = (-tf.sin(angle) * y + tf.cos(angle) * x) / scale_
  parity_x = tf.cast(tf.math.floormod(nx, 2.), tf.int32)
  parity_y = tf.cast(tf.math.floormod(ny, 2.), tf.int32)
  ix, iy = tf.cast(nx, tf.int32), tf.cast(ny, tf.int32)  # int(): toward zero
  ix = tf.where(ix < 0, ix + n, ix)  # Python's negative indices
  iy = tf.where(iy < 0, iy + n, iy)
  b = tf.shape(images)[0]
  flat = (tf.reshape(tf.range(b), [-1, 1, 1]) * _MAX_GRID + ix) * _MAX_GRID + iy
  cut = tf.gather(tf.reshape(cells, [-1]), flat)
  keep = (parity_x != parity_y) | tf.logical_not(cut)
  return tf.where(keep[..., None], images, tf.constant(128, tf.uint8))


def _checkerboard_cutout_from_params(images, angle, scale, cells):
  """Grey (128) squares of a rotated checkerboard where the drawn grid says so."""
  return _checkerboard_xla(images, tf.cast(angle, _F64), tf.cast(scale, _F64),
                           tf.cast(cells, tf.bool))


def checkerboard_cutout(images, severity: int, seed=0):
  s = _side(images)
  u = _uniforms(images, seed, "checkerboard_cutout", 2)
  angle = _uniform(u[:, 0], 0., 2 * np.pi)
  scale = tf.maximum(_uniform(u[:, 1], 0.1, 0.25) * s, 1.)
  fraction = float_parameter(level("checkerboard_cutout", severity), 1.0)
  grid = ops.standard_uniform([ops.static_batch_size(images), _MAX_GRID, _MAX_GRID], seed,
                              "c_bar/checkerboard_cutout/1", tf.float64)
  return _checkerboard_cutout_from_params(images, angle, scale, grid < fraction)


# --- sparkles and inverse_sparkles ------------------------------------------


def _ray_factor(y, x, center_y, center_x, ray_lengths, rays, exponent):
  """The release's sparkle kernel's ``f`` (clipped to [0, 1]) for each pixel.

  ``ray_lengths`` ``[B, 199]`` (the first ``rays`` used), ``rays`` ``[B]``.
  """
  dp0 = y - _per_image(center_y)
  dp1 = x - _per_image(center_x)
  dist = tf.sqrt(dp0 * dp0 + dp1 * dp1)
  angle = tf.atan2(dp1, dp0)
  rays_f = _per_image(tf.cast(rays, _F64))
  d = (angle + np.pi) / (2 * np.pi) * rays_f
  i = tf.cast(d, tf.int32)
  f = d - tf.cast(i, _F64)
  rays_i = _per_image(rays)
  lo = tf.gather(ray_lengths, tf.math.floormod(i, rays_i), batch_dims=1)
  hi = tf.gather(ray_lengths, tf.math.floormod(i + 1, rays_i), batch_dims=1)
  length = lo + f * (hi - lo)
  g = length * length / (dist * dist + 1e-4)
  if exponent is not None:  # sparkles' (100 - 50) / 50 is 1: g ** 1.0 == g
    g = tf.pow(g, _per_image(exponent))
  f = f - 0.5
  f = 1 - f * f
  f = f * g
  return tf.clip_by_value(f, 0., 1.)[..., None]


@xla_function
def _sparkles_xla(images, centers, ray_lengths, rays):
  y, x = _grid(images)
  value = tf.cast(images, _F64)
  for k in range(5):
    if k:
      value = tf.cast(tf.cast(value, tf.float32), _F64)  # image[y, x].astype(np.float32)
    f = _ray_factor(y, x, centers[:, k, 0], centers[:, k, 1], ray_lengths[:, k], rays[:, k],
                    None)
    value = value + f * (255. - value)
  return _to_uint8(value)


def _sparkles_from_params(images, centers, ray_lengths, rays):
  """Five white star bursts, one after the other.

  ``centers`` ``[B, 5, 2]`` (y, x), ``ray_lengths`` ``[B, 5, 199]`` (already
  ``max(1, radius + radius / 4 * z)``), ``rays`` ``[B, 5]`` in 50..199.
  """
  return _sparkles_xla(images, tf.cast(centers, _F64), tf.cast(ray_lengths, _F64),
                       tf.cast(rays, tf.int32))


def sparkles(images, severity: int, seed=0):
  s = _side(images)
  bsz = ops.static_batch_size(images)
  u = _uniforms(images, seed, "sparkles", 15)
  centers = tf.reshape(_uniform(u[:, :10], 0., float(s)), [-1, 5, 2])
  rays = _randint(u[:, 10:], 50, 200)
  radius = float_parameter(level("sparkles", severity), 0.1) * s
  z = ops.standard_normal([bsz, 5, _MAX_RAYS], seed, "c_bar/sparkles/1", tf.float64)
  ray_lengths = tf.maximum(radius + 25 / 100.0 * radius * z, 1.)
  return _sparkles_from_params(images, centers, ray_lengths, rays)


@xla_function
def _inverse_sparkles_xla(images, center, ray_lengths, rays, exponent):
  y, x = _grid(images)
  value = tf.cast(images, _F64)
  f = _ray_factor(y, x, center[:, 0], center[:, 1], ray_lengths, rays, exponent)
  return _to_uint8(255. + f * (value - 255.))


def _inverse_sparkles_from_params(images, center, ray_lengths, rays, amount):
  """White everywhere but a star burst of the image around ``center`` (y, x)."""
  exponent = (100 - tf.cast(amount, _F64)) / 50.0
  return _inverse_sparkles_xla(images, tf.cast(center, _F64), tf.cast(ray_lengths, _F64),
                               tf.cast(rays, tf.int32), exponent)


def inverse_sparkles(images, severity: int, seed=0):
  s = _side(images)
  bsz = ops.static_batch_size(images)
  u = _uniforms(images, seed, "inverse_sparkles", 3)
  center = _uniform(u[:, :2], 0.25, 0.75) * s
  rays = _randint(u[:, 2], 50, 200)
  radius = 0.25 * s
  amount = 100 - float_parameter(level("inverse_sparkles", severity), 65)
  z = ops.standard_normal([bsz, _MAX_RAYS], seed, "c_bar/inverse_sparkles/1", tf.float64)
  ray_lengths = radius + 25 / 100.0 * radius * z
  return _inverse_sparkles_from_params(images, center, ray_lengths, rays,
                                       _fill([bsz], amount))


# --- perlin_noise ----------------------------------------------------------


@xla_function
def _perlin_table_xla(gradient_words, swap_words):
  """The release's PerlinNoiseGenerator tables from its integer draws.

  ``gradient_words`` uint32 ``[B, 256, 2]`` (randint(0, 2**31) % 512),
  ``swap_words`` uint32 ``[B, 256]`` (the j of the swap at i = 255 - k is
  word k, mod 256). Returns the permutation int32 ``[B, 256]`` and unit
  gradients float64 ``[B, 256, 2]`` (index 256 + i repeats i, so 256 cover it).
  """
  g = (tf.cast(tf.bitwise.bitwise_and(gradient_words, 511), _F64) - 256) / 256
  g = g / tf.sqrt(g[..., :1] * g[..., :1] + g[..., 1:] * g[..., 1:])
  js = tf.cast(tf.bitwise.bitwise_and(swap_words, 255), tf.int32)
  b = tf.shape(js)[0]
  slots = tf.range(256)[None, :]
  perm = tf.tile(slots, [b, 1])

  def body(k, perm):
    i = 255 - k
    j = tf.gather(js, [k], axis=1)
    pi = tf.gather(perm, [i], axis=1)
    pj = tf.gather(perm, j, batch_dims=1)
    perm = tf.where(slots == i, pj, tf.where(slots == j, pi, perm))
    return k + 1, perm

  _, perm = tf.while_loop(lambda k, _: k < 256, body, (tf.constant(0), perm))
  return perm, g


def _perlin_noise2(perm, g, x, y):
  """The release's ``noise(x, y)`` for each pixel; x, y >= 0 ``[B, H, W]``."""
  n = 16 * 256

  def lattice(v):
    t = v + n
    b0 = tf.math.floormod(tf.cast(t, tf.int32), 256)
    return b0, tf.math.floormod(b0 + 1, 256), tf.math.floormod(t, 1.)

  bx0, bx1, rx0 = lattice(x)
  by0, by1, ry0 = lattice(y)
  rx1, ry1 = rx0 - 1.0, ry0 - 1.0
  shape = tf.shape(bx0)
  flat = lambda v: tf.reshape(v, [shape[0], -1])
  p = lambda idx: tf.reshape(tf.gather(perm, flat(tf.math.floormod(idx, 256)), batch_dims=1), shape)
  i, j = p(bx0), p(bx1)
  b00, b10, b01, b11 = p(i + by0), p(j + by0), p(i + by1), p(j + by1)

  def grad(idx):
    v = tf.reshape(tf.gather(g, flat(idx), batch_dims=1), tf.concat([shape, [2]], 0))
    return v[..., 0], v[..., 1]

  s_curve = lambda t: t * t * (3.0 - 2.0 * t)
  sx, sy = s_curve(rx0), s_curve(ry0)
  g0, g1 = grad(b00)
  u = rx0 * g0 + ry0 * g1
  g0, g1 = grad(b10)
  v = rx1 * g0 + ry0 * g1
  a = u + sx * (v - u)
  g0, g1 = grad(b01)
  u = rx0 * g0 + ry1 * g1
  g0, g1 = grad(b11)
  v = rx1 * g0 + ry1 * g1
  bb = u + sx * (v - u)
  return 1.5 * (a + sy * (bb - a))


@xla_function
def _perlin_xla(images, perm, g, inv_period, alpha):
  y, x = _grid(images)
  # npoint = [y, x] @ (I / (32 * S / 224)); point[0] (the row) is the noise's x.
  zeros = tf.zeros_like(images[..., 0], _F64)  # [B, H, W]
  nx = y * inv_period + zeros
  ny = x * inv_period + zeros
  t = tf.zeros_like(nx)
  f = 1.0
  while f <= 16.0:  # turbulence(..., 16): octaves 1, 2, 4, 8, 16
    t = t + tf.abs(_perlin_noise2(perm, g, f * nx, f * ny)) / f
    f *= 2
  value = tf.clip_by_value(0.5 * t + 0.5, 0., 1.)[..., None]
  alpha = _per_image(alpha)[..., None]
  # (1 - alpha) * image.astype(np.float32): a float32 product.
  kept = tf.cast(tf.cast(1 - alpha, tf.float32) * tf.cast(images, tf.float32), _F64)
  return _to_uint8(kept + 255 * alpha * value)


def _perlin_noise_from_params(images, perm, gradients, alpha):
  """Blend with Perlin turbulence: ``(1 - a) * image + 255 * a * clip(t / 2 + 1 / 2)``."""
  s = _side(images)
  inv_period = tf.constant(1 / (32 * s / 224), _F64)
  return _perlin_xla(images, tf.cast(perm, tf.int32), tf.cast(gradients, _F64), inv_period,
                     tf.cast(alpha, _F64))


def perlin_noise(images, severity: int, seed=0):
  bsz = ops.static_batch_size(images)
  gradient_words = ops.uniform_words([bsz, 256, 2], seed, "c_bar/perlin_noise/1")
  swap_words = ops.uniform_words([bsz, 256], seed, "c_bar/perlin_noise/2")
  perm, gradients = _perlin_table_xla(gradient_words, swap_words)
  alpha = _fill([bsz], float_parameter(level("perlin_noise", severity), 0.50))
  return _perlin_noise_from_params(images, perm, gradients, alpha)


# --- blue_noise_sample and brownish_noise -------------------------------------


def spectral_power(s: int, brownish: bool) -> np.ndarray:
  """The release's amplitude per frequency ``[S, S]`` (before its roll)."""
  c = s / 2
  dx = np.arange(s, dtype=np.float64)[None, :] - c
  dy = np.arange(s, dtype=np.float64)[:, None] - c
  norm = np.sqrt(dx * dx + dy * dy)
  return 1 / (norm ** 2 + 1) if brownish else norm


def spectral_phases(phases, centre):
  """The release's phase layout ``[B, S, S]`` from its draws.

  ``phases`` ``[B, S, S // 2]`` in [0, 2 pi); ``centre`` ``[B, S // 2]``
  (odd S only, else None): even S mirrors the drawn half (flipped both ways)
  to the right; odd S puts ``[centre; 0; centre reversed]`` between the halves.
  """
  mirrored = tf.reverse(phases, [1, 2])
  if centre is None:
    return tf.concat([phases, mirrored], axis=2)
  zero = tf.zeros_like(centre[:, :1])
  column = tf.concat([centre, zero, tf.reverse(centre, [1])], axis=1)[..., None]
  return tf.concat([phases, column, mirrored], axis=2)


def _spectral_noise(phases, power: np.ndarray):
  """``real(ifft2(roll(power * e^{i phase})))`` normalised by its (population) std."""
  s = power.shape[0]
  power = tf.constant(power)
  spectrum = tf.complex(power * tf.cos(phases), power * tf.sin(phases))
  spectrum = tf.roll(spectrum, shift=[s // 2, s // 2], axis=[1, 2])
  noise = tf.math.real(tf.signal.ifft2d(spectrum))
  mean = tf.reduce_mean(noise, axis=[1, 2], keepdims=True)
  std = tf.sqrt(tf.reduce_mean(tf.square(noise - mean), axis=[1, 2], keepdims=True))
  return noise / std


def _draw_phases(images, seed, name: str, count: int):
  """``count`` phase layouts ``[B, S, S]`` each, in the release's draw order."""
  s = _side(images)
  bsz = ops.static_batch_size(images)
  layouts = []
  for k in range(count):
    u = ops.standard_uniform([bsz, s, s // 2], seed, f"c_bar/{name}/{2 * k}", tf.float64)
    centre = None
    if s % 2:
      centre = ops.standard_uniform([bsz, s // 2], seed, f"c_bar/{name}/{2 * k + 1}",
                                    tf.float64) * (2 * np.pi)
    layouts.append(spectral_phases(u * (2 * np.pi), centre))
  return layouts


def _blue_noise_sample_from_params(images, phases, threshold):
  """Keep the pixels where blue noise (power ~ |f|) exceeds ``threshold``; others black."""
  noise = _crop(_spectral_noise(tf.cast(phases, _F64), spectral_power(_side(images), False)),
                images)
  mask = noise > _per_image(tf.cast(threshold, _F64))
  return images * tf.cast(mask, tf.uint8)[..., None]


def blue_noise_sample(images, severity: int, seed=0):
  (phases,) = _draw_phases(images, seed, "blue_noise_sample", 1)
  threshold = float_parameter(level("blue_noise_sample", severity), 3.0) - 2.5
  return _blue_noise_sample_from_params(images, phases,
                                        _fill([ops.static_batch_size(images)], threshold))


@xla_function
def _add_noise_xla(images, noise, intensity):
  return _to_uint8(tf.cast(images, _F64) + _per_image(intensity)[..., None] * noise)


def _brownish_noise_from_params(images, phases, intensity):
  """``clip(image + intensity * noise)``, an independent 1/(|f|^2 + 1) noise per channel.

  ``phases``: three layouts ``[B, S, S]``, red, green, blue.
  """
  power = spectral_power(_side(images), True)
  noise = tf.stack([_crop(_spectral_noise(tf.cast(p, _F64), power), images) for p in phases],
                   axis=-1)
  return _add_noise_xla(images, noise, tf.cast(intensity, _F64))


def brownish_noise(images, severity: int, seed=0):
  phases = _draw_phases(images, seed, "brownish_noise", 3)
  intensity = float_parameter(level("brownish_noise", severity), 64)
  return _brownish_noise_from_params(images, phases,
                                     _fill([ops.static_batch_size(images)], intensity))


CORRUPTIONS: Dict[str, Callable[..., tf.Tensor]] = {
    "blue_noise_sample": blue_noise_sample,
    "brownish_noise": brownish_noise,
    "caustic_refraction": caustic_refraction,
    "checkerboard_cutout": checkerboard_cutout,
    "cocentric_sine_waves": cocentric_sine_waves,
    "inverse_sparkles": inverse_sparkles,
    "perlin_noise": perlin_noise,
    "plasma_noise": plasma_noise,
    "single_frequency_greyscale": single_frequency_greyscale,
    "sparkles": sparkles,
}
