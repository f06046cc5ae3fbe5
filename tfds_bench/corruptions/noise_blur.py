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

Speed: the gather-heavy and elementwise parts run in always-XLA-compiled
``tf.function(jit_compile=True)`` helpers (``_*_xla``), random draws stay in TF's
kernels (faster on CPU than XLA's). Being always compiled, they give the same
bytes eagerly, in graphs and in tf.data; XLA keeps IEEE float64 semantics, which
the bit-exact tests check.
"""

from __future__ import annotations

import math
import zlib
from typing import Callable, Dict, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions.xla_exact import negzero, no_contract

# /////////////// Shared helpers ///////////////


def _stateless_seed(seed, name: str) -> tf.Tensor:
  """Stateless RNG seed from the user seed and the corruption's name.

  Mixing in the name keeps e.g. gaussian_noise and speckle_noise draws
  independent for the same user seed. ``seed`` is a Python int or a scalar
  integer tensor (a per-image seed inside tf.data); both give the same draws.
  """
  salt = zlib.crc32(name.encode()) & 0x7FFFFFFF
  if isinstance(seed, int):
    return tf.constant([seed & 0x7FFFFFFF, salt], dtype=tf.int64)
  seed = tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), tf.constant(0x7FFFFFFF, tf.int64))
  return tf.stack([seed, tf.constant(salt, tf.int64)])


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


# /////////////// Noise ///////////////

_GAUSSIAN_NOISE = (.08, .12, 0.18, 0.26, 0.38)
_SHOT_NOISE = (60, 25, 12, 5, 3)
_IMPULSE_NOISE = (.03, .06, .09, 0.17, 0.27)
_SPECKLE_NOISE = (.15, .2, 0.35, 0.45, 0.6)


@tf.function(jit_compile=True)
def _gaussian_noise_xla(images: tf.Tensor, noise: tf.Tensor, scale: float,
                        nz: tf.Tensor) -> tf.Tensor:
  # XLA fuses the lookup and arithmetic into one pass without reassociating;
  # no_contract keeps scale * noise rounded before the add, as numpy does.
  noise = tf.cast(noise, tf.float64)
  if scale != 1.0:
    noise = no_contract(scale * noise, nz)
  return _unit_clip_to_uint8(_unit_float64(images) + noise)


def _gaussian_noise_from_draws(images, severity: int, noise) -> tf.Tensor:
  """``gaussian_noise``: clip(x / 255 + noise, 0, 1) * 255, noise ~ N(0, c^2).

  Float64 like the reference so identical draws give identical bytes.
  """
  del severity  # The scale is already in ``noise``.
  return _gaussian_noise_xla(images, tf.cast(noise, tf.float64), 1.0, negzero())


def gaussian_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``gaussian_noise`` (make_imagenet_c.py / imagecorruptions)."""
  c = _GAUSSIAN_NOISE[severity - 1]
  # float32 draws (half the cost of float64 ones), arithmetic in float64:
  # noise = c * float64(z), as numpy's normal(scale=c) computes it.
  z = tf.random.stateless_normal(tf.shape(images), _stateless_seed(seed, "gaussian_noise"))
  return _gaussian_noise_xla(images, z, c, negzero())


def _shot_noise_from_draws(images, severity: int, counts) -> tf.Tensor:
  """``shot_noise``: clip(poisson(x / 255 * c) / c, 0, 1) * 255."""
  c = _SHOT_NOISE[severity - 1]
  # count / c as a table lookup (see _unit_float64); counts >= c clip to 1 anyway.
  table = tf.constant(np.arange(c + 1, dtype=np.float64) / float(c))
  counts = tf.minimum(tf.cast(counts, tf.int32), c)
  return _unit_clip_to_uint8(tf.gather(table, counts))


def _shot_noise_tables(c: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Walker alias tables of the clipped shot-noise output for every input value.

  For pixel value v the count is Poisson(v / 255 * c); the output depends on it
  only through min(count, c) (counts >= c clip to 255), so it takes n = c + 1
  values with probabilities pmf(0..c-1) and the tail P(count >= c). For each v
  (the rows: inputs are uint8, so 256 distributions cover every pixel) the alias
  method turns one uniform u into an exact draw: column j = floor(u * n), keep
  ``value[v, j]`` if the fraction u * n - j < ``keep[v, j]``, else take
  ``alias_value[v, j]``. Values are ``_shot_noise_from_draws``' outputs.

  Returns:
    keep float64 ``[256 * n]``, value and alias_value uint8 ``[256 * n]``.
  """
  n = c + 1
  k = np.arange(c)
  lgamma = np.array([math.lgamma(i + 1.0) for i in k])
  out = np.floor(np.clip(np.arange(n, dtype=np.float64) / float(c), 0, 1) * 255).astype(np.uint8)
  keep = np.ones((256, n))
  alias = np.tile(np.arange(n), (256, 1))
  for v in range(256):
    lam = v / 255. * c
    if lam == 0:
      pmf = np.zeros(c)
      pmf[0] = 1.0
    else:
      pmf = np.exp(k * np.log(lam) - lam - lgamma)
    probs = np.append(pmf, max(0.0, 1.0 - pmf.sum()))
    probs /= probs.sum()
    # Vose's alias method.
    scaled = probs * n
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
      s_i, l_i = small.pop(), large.pop()
      keep[v, s_i] = scaled[s_i]
      alias[v, s_i] = l_i
      scaled[l_i] -= 1.0 - scaled[s_i]
      (small if scaled[l_i] < 1.0 else large).append(l_i)
    for i in small + large:  # Round-off leftovers: probability ~1.
      keep[v, i] = 1.0
  return keep.reshape(-1), np.tile(out, 256), out[alias].reshape(-1)


@tf.function(jit_compile=True)
def _shot_noise_alias_xla(images: tf.Tensor, u: tf.Tensor, c: int) -> tf.Tensor:
  # XLA fuses the whole per-value pipeline (table gathers included) into one loop.
  keep, value, alias_value = (tf.constant(t) for t in _shot_noise_tables(c))
  n = c + 1
  t = u * float(n)
  j = tf.minimum(tf.floor(t), float(n - 1))
  idx = tf.cast(images, tf.int32) * n + tf.cast(j, tf.int32)
  return tf.where(t - j < tf.gather(keep, idx), tf.gather(value, idx),
                  tf.gather(alias_value, idx))


def shot_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``shot_noise``; Poisson counts with rate x / 255 * c.

  Exact Poisson draws by the alias method on per-pixel-value tables (see
  ``_shot_noise_tables``), one float64 uniform per value: TF's Poisson sampler
  (Knuth's method, ~lambda uniforms per draw below lambda 10) was 10x slower.
  """
  c = _SHOT_NOISE[severity - 1]
  u = tf.random.stateless_uniform(tf.shape(images), _stateless_seed(seed, "shot_noise"),
                                  dtype=tf.float64)
  return _shot_noise_alias_xla(images, u, c)


@tf.function(jit_compile=True)
def _impulse_noise_xla(images: tf.Tensor, flipped: tf.Tensor, salted: tf.Tensor) -> tf.Tensor:
  # np.uint8(clip(v / 255) * 255) == v for every uint8 v (checked in float64),
  # so unflipped values pass through unchanged: no float arithmetic at all.
  return tf.where(flipped, tf.where(salted, tf.constant(255, tf.uint8), tf.constant(0, tf.uint8)),
                  images)


def _impulse_noise_from_draws(images, severity: int, flipped, salted) -> tf.Tensor:
  """``impulse_noise`` = skimage ``random_noise(x / 255, 's&p', amount=c)``.

  skimage: ``out[flipped & salted] = 1; out[flipped & ~salted] = 0`` with
  flipped ~ Bernoulli(c), salted ~ Bernoulli(0.5), independently per value
  (per channel too); then clip and * 255.
  """
  del severity  # The amount is already in ``flipped``.
  return _impulse_noise_xla(images, tf.cast(flipped, tf.bool), tf.cast(salted, tf.bool))


@tf.function(jit_compile=True)
def _impulse_noise_bits_xla(images: tf.Tensor, bits: tf.Tensor, amount: float) -> tf.Tensor:
  # One uint32 per value: bit 0 is the salt coin, bits 1..31 the flip draw,
  # flipped iff (bits >> 1) < round(c * 2^31): P = c to within 2^-32.
  threshold = tf.constant(int(round(amount * 2**31)), tf.uint32)
  flipped = tf.bitwise.right_shift(bits, tf.constant(1, tf.uint32)) < threshold
  salted = tf.bitwise.bitwise_and(bits, tf.constant(1, tf.uint32)) > 0
  return _impulse_noise_xla(images, flipped, salted)


def impulse_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``impulse_noise`` (skimage ``_bernoulli``: ``random() <= p``)."""
  c = _IMPULSE_NOISE[severity - 1]
  bits = tf.random.stateless_uniform(tf.shape(images), _stateless_seed(seed, "impulse_noise"),
                                     minval=None, maxval=None, dtype=tf.uint32)
  return _impulse_noise_bits_xla(images, bits, c)


@tf.function(jit_compile=True)
def _speckle_noise_xla(images: tf.Tensor, noise: tf.Tensor, scale: float,
                       nz: tf.Tensor) -> tf.Tensor:
  noise = tf.cast(noise, tf.float64)
  if scale != 1.0:
    noise = scale * noise
  x = _unit_float64(images)
  return _unit_clip_to_uint8(x + no_contract(x * noise, nz))


def _speckle_noise_from_draws(images, severity: int, noise) -> tf.Tensor:
  """``speckle_noise``: clip(x + x * noise, 0, 1) * 255, noise ~ N(0, c^2)."""
  del severity
  return _speckle_noise_xla(images, tf.cast(noise, tf.float64), 1.0, negzero())


def speckle_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``speckle_noise``."""
  c = _SPECKLE_NOISE[severity - 1]
  z = tf.random.stateless_normal(tf.shape(images), _stateless_seed(seed, "speckle_noise"))
  return _speckle_noise_xla(images, z, c, negzero())


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

  gaussian(x / 255) * 255 == gaussian(x) (linear), so the raw values are blurred
  in float32: the float64 reference differs only where its output sits within
  ~1e-4 of an integer (a 1-level truncation flip).
  """
  del seed
  _static_hw(images)
  return _to_uint8_truncate(_depthwise_gaussian(tf.cast(images, tf.float32),
                                                _GAUSSIAN_BLUR[severity - 1]))


def _gaussian_taps(sigma: float) -> np.ndarray:
  """scipy ``_gaussian_kernel1d`` weights (truncate 4.0), float64, length 2r+1."""
  radius = int(4.0 * float(sigma) + 0.5)
  x = np.arange(-radius, radius + 1).astype(np.float64)
  phi = np.exp(-0.5 / (float(sigma) * float(sigma)) * x**2)
  return phi / phi.sum()


def _edge_pad(x: tf.Tensor, r: int, axis: int) -> tf.Tensor:
  """Pads ``r`` values on both sides of ``axis`` by repeating the edge (scipy 'nearest')."""
  n = int(x.shape[axis])
  return tf.gather(x, np.clip(np.arange(-r, n + r), 0, n - 1).astype(np.int32), axis=axis)


def _depthwise_gaussian(x: tf.Tensor, sigma: float) -> tf.Tensor:
  """skimage ``gaussian(x, sigma, channel_axis=-1)`` on float32 ``[B, H, W, C]``.

  scipy's separable form: a (2r+1)-tap 1-D correlation per axis (r = int(4 sigma
  + 0.5)) with 'nearest' (edge-replicating) borders, here an edge-padding gather
  and a VALID depthwise convolution per axis: ~224 / (2r+1) times less work than
  the dense border-folded matrices of ``_skimage_gaussian``.
  """
  phi = _gaussian_taps(sigma).astype(np.float32)
  r = len(phi) // 2
  c = int(x.shape[-1])
  for axis, shape in ((1, [-1, 1, 1, 1]), (2, [1, -1, 1, 1])):
    kernel = tf.constant(np.tile(phi.reshape(shape), [1, 1, c, 1]))
    x = tf.nn.depthwise_conv2d(_edge_pad(x, r, axis), kernel, [1, 1, 1, 1], "VALID")
  return x


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


@tf.function(jit_compile=True)
def _glass_shuffle_xla(images: tf.Tensor, codes: tf.Tensor, severity: int) -> tf.Tensor:
  # One image at a time keeps every intermediate (<= 600 KB) in cache; XLA
  # compiles the loop body into a few fused loops (TF's own per-op kernels and
  # gathers are 4-6x slower here). Integer-only, so exact wherever it runs.
  return tf.map_fn(lambda a: _glass_shuffle_one(a[0], a[1], severity), (images, codes),
                   fn_output_signature=tf.uint8)


def _glass_blur_from_codes(images, severity: int, codes) -> tf.Tensor:
  sigma, _, _ = _GLASS_BLUR[severity - 1]
  _static_hw(images)
  # gaussian(x / 255) * 255 == gaussian(x) (linear): blur the raw values in
  # float32. The intermediate np.uint8 truncation then differs from the float64
  # reference by one level at ~1e-4 of the values.
  x = _to_uint8_truncate(_depthwise_gaussian(tf.cast(images, tf.float32), sigma))
  x = _glass_shuffle_xla(x, codes, severity)
  return _to_uint8_truncate(_depthwise_gaussian(tf.cast(x, tf.float32), sigma))


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
  _static_hw(images)
  offsets = tf.reverse(tf.cast(offsets, tf.int32), axis=[2, 3])  # Increasing scan order.
  codes = (offsets[..., 1] + d) * (2 * d) + (offsets[..., 0] + d)
  return _glass_blur_from_codes(images, severity, tf.cast(codes, tf.uint8))


def glass_blur(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``glass_blur``: gaussian, uint8, local pixel "shuffle", gaussian.

  Blurs in float32: the intermediate np.uint8 truncation then differs from the
  float64 reference by one level at ~1e-4 of the values.
  """
  _, d, iterations = _GLASS_BLUR[severity - 1]
  h, w = _static_hw(images)
  batch = tf.shape(images)[0]
  shape = [batch, iterations, h - 2 * d, w - 2 * d]
  seed = _stateless_seed(seed, "glass_blur")
  ncodes = 4 * d * d
  if 256 % ncodes == 0:
    # Every byte of a full-range uint32 draw is one uniform code (mod ncodes):
    # a quarter of the random words and no modulo.
    n = tf.reduce_prod(shape)
    words = tf.random.stateless_uniform([(n + 3) // 4], seed, minval=None, maxval=None,
                                        dtype=tf.uint32)
    codes = tf.reshape(tf.reshape(tf.bitcast(words, tf.uint8), [-1])[:n], shape)
  else:
    codes = tf.cast(tf.random.stateless_uniform(shape, seed, minval=0, maxval=ncodes,
                                                dtype=tf.int32), tf.uint8)
  return _glass_blur_from_codes(images, severity, codes)


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
  The disk (17x17 to 21x21, not separable) is applied as a product of float32
  FFTs of the reflect-padded image (3-4x faster than a depthwise convolution),
  on the raw 0..255 values (the filter is linear, so / 255 and * 255 cancel).
  Round-off stays ~1e-4 of a level: only values on a truncation boundary differ.
  """
  del seed
  radius, alias_blur = _DEFOCUS_BLUR[severity - 1]
  kernel = _disk(radius, alias_blur)
  r = kernel.shape[0] // 2
  _static_hw(images)
  x = tf.transpose(tf.cast(images, tf.float32), [0, 3, 1, 2])  # [B, 3, H, W]
  x = tf.pad(x, [[0, 0], [0, 0], [r, r], [r, r]], mode="REFLECT")
  hp, wp = int(x.shape[2]), int(x.shape[3])
  # Circular convolution with the flipped kernel at the origin = correlation;
  # output (i, j) of the VALID part lands at (i + 2r, j + 2r).
  flipped = np.zeros((hp, wp))
  flipped[:kernel.shape[0], :kernel.shape[1]] = kernel[::-1, ::-1].astype(np.float64)
  spectrum = tf.constant(np.fft.rfft2(flipped).astype(np.complex64))
  x = tf.signal.irfft2d(tf.signal.rfft2d(x) * spectrum, [hp, wp])[:, :, 2 * r:, 2 * r:]
  return _to_uint8_truncate(tf.transpose(x, [0, 2, 3, 1]))


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
  Each tap is a slice of an edge-padded copy of the image (``_motion_blur_xla``).
  """
  radius, _ = _MOTION_BLUR[severity - 1]
  width = 2 * radius + 1
  h, w = _static_hw(images)
  if min(h, w) <= width:
    raise ValueError(f"motion_blur needs images larger than {width} pixels, got {h}x{w}")
  dy, dx = _motion_shifts(angles, width)  # [B, width]; |dy|, |dx| < width.
  return _motion_blur_xla(images, dy, dx, severity, negzero())


@tf.function(jit_compile=True)
def _motion_blur_xla(images: tf.Tensor, dy: tf.Tensor, dx: tf.Tensor, severity: int,
                     nz: tf.Tensor) -> tf.Tensor:
  """Per image: the taps are slices of an edge-padded float64 copy at (-dy, -dx).

  One image at a time (channel-planar, so rows are contiguous) keeps the padded
  copy in cache. The reference accumulates ``out + k[i] * tap`` in order in
  float64; XLA keeps that order (no reassociation) and `no_contract` keeps
  each ``k[i] * tap`` rounded before the add (no FMA), so the sums are the
  reference's to the bit; the tests check the bytes.
  """
  radius, sigma = _MOTION_BLUR[severity - 1]
  width = 2 * radius + 1
  k = np.exp(-np.arange(width, dtype=np.float64)**2 / (2 * sigma**2)) / (
      np.sqrt(2 * np.pi) * sigma)
  k = k / k.sum()  # float64, as getMotionBlurKernel.
  h, w = _static_hw(images)
  p = width  # Edge padding that covers every shift.

  def one(args):
    image, dy, dx = args
    x = tf.transpose(tf.cast(image, tf.float64), [2, 0, 1])  # [3, H, W]
    x = _edge_pad(_edge_pad(x, p, 1), p, 2)
    out = tf.zeros([3, h, w], tf.float64)
    for i in range(width):
      tap = tf.slice(x, tf.stack([0, p - dy[i], p - dx[i]]), [3, h, w])
      out = out + no_contract(float(k[i]) * tap, nz)
    return tf.transpose(_to_uint8_truncate(out), [1, 2, 0])

  return tf.map_fn(one, (images, dy, dx), fn_output_signature=tf.uint8)


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
