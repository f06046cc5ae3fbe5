"""ImageNet-C noise corruptions as batched TensorFlow ops.

gaussian_noise, shot_noise, impulse_noise and speckle_noise. Reference:
hendrycks/robustness ``ImageNet-C/create_c/make_imagenet_c.py`` (the code that
produced the released 224x224 archives) and PyPI ``imagecorruptions`` 1.1.2
``imagecorruptions/corruptions.py`` (the same code adapted to any size).
Parameters per severity are the published ones. Every function takes a uint8
``[B, H, W, 3]`` tensor and returns uint8 of the same shape: the reference
returns floats in [0, 255] which the release saved after ``np.uint8(...)``,
i.e. *truncation* (`ops.to_uint8`).

Randomness: ``tf.random.stateless_*`` seeded by `ops.stateless_seed` with the
corruption's name as key, so results are deterministic for a seed, eagerly and
inside ``tf.function`` / ``tf.data``. Each corruption is split into a public
function (draws the randomness) and a private ``_*_from_draws`` function (all
the arithmetic), so the tests can feed the reference's own numpy draws and
require identical output.

Known, documented difference from the release: impulse_noise: skimage >= 0.19
draws the s&p masks with ``rng.random() <= p``, the release-era skimage with
``np.random.choice([True, False], p=[p, 1-p])``; both are independent
Bernoulli(p) per value (and Bernoulli(0.5) salt), which is what we draw.
Bit-exact numpy streams are not reproducible in TF anyway.

Precision: float64 like the reference, bit-identical to it given the same
draws (eager and in graph mode: ``x / 255`` is `ops.to_unit`'s table lookup).
The arithmetic runs in always-XLA-compiled helpers (``_*_xla``,
`xla_exact.xla_function`); the random draws stay in TF's kernels (faster on
CPU than XLA's).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions import ops
from tfds_bench.corruptions.xla_exact import negzero
from tfds_bench.corruptions.xla_exact import no_contract
from tfds_bench.corruptions.xla_exact import operand
from tfds_bench.corruptions.xla_exact import xla_function

_GAUSSIAN_NOISE = (.08, .12, 0.18, 0.26, 0.38)
_SHOT_NOISE = (60, 25, 12, 5, 3)
_IMPULSE_NOISE = (.03, .06, .09, 0.17, 0.27)
_SPECKLE_NOISE = (.15, .2, 0.35, 0.45, 0.6)


@xla_function
def _gaussian_noise_xla(images: tf.Tensor, noise: tf.Tensor, scale,
                        nz: tf.Tensor) -> tf.Tensor:
  # XLA fuses the lookup and arithmetic into one pass without reassociating;
  # no_contract keeps scale * noise rounded before the add, as numpy does.
  noise = tf.cast(noise, tf.float64)
  if scale is not None:  # None: the draws are already scaled.
    noise = no_contract(scale * noise, nz)
  return ops.unit_to_uint8(ops.to_unit(images) + noise)


def _gaussian_noise_from_draws(images, severity: int, noise) -> tf.Tensor:
  """``gaussian_noise``: clip(x / 255 + noise, 0, 1) * 255, noise ~ N(0, c^2).

  Float64 like the reference so identical draws give identical bytes.
  """
  del severity  # The scale is already in ``noise``.
  return _gaussian_noise_xla(images, tf.cast(noise, tf.float64), None, negzero())


def gaussian_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``gaussian_noise`` (make_imagenet_c.py / imagecorruptions)."""
  c = _GAUSSIAN_NOISE[severity - 1]
  # float32 draws (half the cost of float64 ones), arithmetic in float64:
  # noise = c * float64(z), as numpy's normal(scale=c) computes it.
  z = ops.standard_normal(tf.shape(images), seed, "gaussian_noise")
  return _gaussian_noise_xla(images, z, operand(c), negzero())


def shot_noise_levels(c: int) -> np.ndarray:
  """uint8 ``[c + 1]``: ``np.uint8(255 * np.clip(k / c, 0, 1))`` for counts k = 0..c.

  The output of shot noise with strength c for a Poisson count k; every count
  >= c gives 255, so min(count, c) indexes this table.
  """
  return np.floor(np.clip(np.arange(c + 1, dtype=np.float64) / float(c), 0, 1) * 255).astype(
      np.uint8)


def _shot_noise_from_draws(images, severity: int, counts) -> tf.Tensor:
  """``shot_noise``: clip(poisson(x / 255 * c) / c, 0, 1) * 255."""
  del images  # The rate x / 255 * c is already in ``counts``.
  c = _SHOT_NOISE[severity - 1]
  counts = tf.minimum(tf.cast(counts, tf.int32), c)
  return tf.gather(tf.constant(shot_noise_levels(c)), counts)


def _shot_noise_tables(c: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Walker alias tables of the clipped shot-noise output for every input value.

  For pixel value v the count is Poisson(v / 255 * c); the output depends on it
  only through min(count, c) (counts >= c clip to 255), so it takes n = c + 1
  values with probabilities pmf(0..c-1) and the tail P(count >= c). For each v
  (the rows: inputs are uint8, so 256 distributions cover every pixel) the alias
  method turns one uniform u into an exact draw: column j = floor(u * n), keep
  ``value[v, j]`` if the fraction u * n - j < ``keep[v, j]``, else take
  ``alias_value[v, j]``. Values are `shot_noise_levels`.

  Returns:
    keep float64 ``[256 * n]``, value and alias_value uint8 ``[256 * n]``.
  """
  n = c + 1
  k = np.arange(c)
  lgamma = np.array([math.lgamma(i + 1.0) for i in k])
  out = shot_noise_levels(c)
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


@xla_function
def shot_noise_from_uniforms(images: tf.Tensor, u: tf.Tensor, c: int) -> tf.Tensor:
  """``np.uint8(255 * clip(poisson(x / 255 * c) / c, 0, 1))`` from float64 uniforms.

  One uniform ``u`` (same shape as the uint8 ``images``) per value turns into
  an exact Poisson draw by the alias method (`_shot_noise_tables`). XLA fuses
  the whole per-value pipeline (table gathers included) into one loop.
  """
  keep, value, alias_value = (tf.constant(t) for t in _shot_noise_tables(c))
  n = c + 1
  t = u * float(n)
  j = tf.minimum(tf.floor(t), float(n - 1))
  idx = tf.cast(images, tf.int32) * n + tf.cast(j, tf.int32)
  return tf.where(t - j < tf.gather(keep, idx), tf.gather(value, idx),
                  tf.gather(alias_value, idx))


def shot_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``shot_noise``; Poisson counts with rate x / 255 * c.

  Exact Poisson draws by the alias method on per-pixel-value tables
  (`shot_noise_from_uniforms`), one float64 uniform per value: TF's Poisson
  sampler (Knuth's method, ~lambda uniforms per draw below lambda 10) was much
  slower.
  """
  c = _SHOT_NOISE[severity - 1]
  u = ops.standard_uniform(tf.shape(images), seed, "shot_noise")
  return shot_noise_from_uniforms(images, u, c)


@xla_function
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


@xla_function
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
  bits = ops.uniform_words(tf.shape(images), seed, "impulse_noise")
  return _impulse_noise_bits_xla(images, bits, c)


@xla_function
def _speckle_noise_xla(images: tf.Tensor, noise: tf.Tensor, scale,
                       nz: tf.Tensor) -> tf.Tensor:
  noise = tf.cast(noise, tf.float64)
  if scale is not None:  # None: the draws are already scaled.
    noise = scale * noise
  x = ops.to_unit(images)
  return ops.unit_to_uint8(x + no_contract(x * noise, nz))


def _speckle_noise_from_draws(images, severity: int, noise) -> tf.Tensor:
  """``speckle_noise``: clip(x + x * noise, 0, 1) * 255, noise ~ N(0, c^2)."""
  del severity
  return _speckle_noise_xla(images, tf.cast(noise, tf.float64), None, negzero())


def speckle_noise(images, severity: int, seed: int = 0) -> tf.Tensor:
  """Reference: ``speckle_noise``."""
  c = _SPECKLE_NOISE[severity - 1]
  z = ops.standard_normal(tf.shape(images), seed, "speckle_noise")
  return _speckle_noise_xla(images, z, operand(c), negzero())


CORRUPTIONS: Dict[str, Callable[..., tf.Tensor]] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "speckle_noise": speckle_noise,
}
