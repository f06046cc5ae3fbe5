"""ImageNet-C digital corruptions as TensorFlow ops.

contrast, elastic_transform, pixelate, jpeg_compression and saturate, with
the per-severity parameters of the published release (hendrycks/robustness
`ImageNet-C/create_c/make_imagenet_c.py`, 224x224 inputs). The numerics
follow PyPI `imagecorruptions` 1.1.2; where the two differ for 224x224 inputs
this module follows the release:

* pixelate: BOX down, BOX up (imagecorruptions: BOX down, NEAREST up).
* elastic_transform: random affine (cv2.warpAffine) + displacement fields with
  the release's (244-based) parameters; imagecorruptions drops the affine and
  uses other parameters.

Every function returns ``np.uint8(float_output)`` (truncation) of the
reference, not the release's JPEG q85 file. elastic_transform's warp rounds
source coordinates to 1/32 pixel as OpenCV <= 4.10 did
(`resample.cv2_warp_affine(quantize=True)`; OpenCV >= 4.11 interpolates at
float coordinates). Randomness and XLA as in `weather`: draws seeded by
`ops.stateless_seed` (key ``"elastic/<k>"``), injected into
``_elastic_from_draws`` by the tests; arithmetic in always-XLA-compiled
helpers, shielded from FMA contraction (`no_contract`); contrast's mean stays
TF's reduction.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions import color
from tfds_bench.corruptions import filters
from tfds_bench.corruptions import ops
from tfds_bench.corruptions import resample
from tfds_bench.corruptions.xla_exact import materialize
from tfds_bench.corruptions.xla_exact import negzero
from tfds_bench.corruptions.xla_exact import no_contract
from tfds_bench.corruptions.xla_exact import operand
from tfds_bench.corruptions.xla_exact import xla_function

# Per-severity parameters (make_imagenet_c.py; identical in imagecorruptions
# unless stated).
_CONTRAST = (0.4, .3, .2, .1, .05)
_SATURATE = ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2))
_JPEG_QUALITY = (25, 18, 15, 10, 7)
_PIXELATE = (0.6, 0.5, 0.4, 0.3, 0.25)
# Release parameters; "244 should have been 224, but ultimately nothing is
# incorrect" (comment in make_imagenet_c.py): kept as published.
_ELASTIC = ((244 * 2, 244 * 0.7, 244 * 0.1),
            (244 * 2, 244 * 0.08, 244 * 0.2),
            (244 * 0.05, 244 * 0.01, 244 * 0.02),
            (244 * 0.07, 244 * 0.01, 244 * 0.02),
            (244 * 0.12, 244 * 0.01, 244 * 0.02))


@xla_function
def _contrast_xla(images, means, nz, c):
  x = ops.to_unit(images)
  return ops.unit_to_uint8(no_contract((x - means) * c, nz) + means)


def saturate(images: tf.Tensor, severity: int, seed: int = 0) -> tf.Tensor:
  """`saturate` of the reference: S = S * c0 + c1 in skimage HSV."""
  del seed
  c = _SATURATE[severity - 1]
  return color.hsv_adjust(images, 1, c[0], c[1])


def contrast(images: tf.Tensor, severity: int, seed: int = 0) -> tf.Tensor:
  """`contrast` of the reference: shrink towards the per-channel image mean."""
  del seed
  c = _CONTRAST[severity - 1]
  # The mean stays TF's reduction (its summation order); the rest is fused.
  # Its float64 input comes from XLA: TF's GatherV2 of the same table cost
  # more than all the rest of the corruption.
  means = tf.reduce_mean(_unit_xla(images), axis=(1, 2), keepdims=True)
  return _contrast_xla(images, means, negzero(), operand(c))


@xla_function
def _unit_xla(images):
  return ops.to_unit(images)


def pixelate(images: tf.Tensor, severity: int, seed: int = 0) -> tf.Tensor:
  """`pixelate` of make_imagenet_c.py: PIL BOX down by c, PIL BOX back up.

  imagecorruptions 1.1.2 upsamples with NEAREST instead; the release used BOX.
  """
  del seed
  return _pixelate_xla(images, negzero(), _PIXELATE[severity - 1])


@xla_function
def _pixelate_xla(images: tf.Tensor, nz: tf.Tensor, c: float) -> tf.Tensor:
  # Down and up in one XLA call instead of two, the small image materialized
  # between them so that the upsampling taps do not recompute the
  # downsampling's (fused, that made one call slower than two).
  h, w = images.shape[1], images.shape[2]
  x = materialize(resample.pil_box_resize(images, int(h * c), int(w * c)), nz)
  return resample.pil_box_resize(x, h, w)


def jpeg_compression(images: tf.Tensor, severity: int,
                     seed: int = 0) -> tf.Tensor:
  """`jpeg_compression` of the reference: JPEG round trip at quality c.

  PIL's `save(quality=c)` and tf.io.encode_jpeg both drive libjpeg(-turbo)
  with baseline-forced standard tables, 4:2:0 chroma and ISLOW DCT;
  INTEGER_ACCURATE decoding is PIL's default (ISLOW) decoder.
  """
  del seed
  quality = _JPEG_QUALITY[severity - 1]

  def one(image):
    return jpeg_round_trip(image, quality)

  if images.shape[0] is not None:
    # A known batch size (always, eagerly): the images one by one, without
    # map_fn's while loop, which cost more than the codec on one image.
    out = tf.stack([one(image) for image in tf.unstack(images)])
  else:
    out = tf.map_fn(one, images, fn_output_signature=tf.TensorSpec(
        images.shape[1:], tf.uint8))
  return tf.ensure_shape(out, images.shape)


def jpeg_round_trip(image: tf.Tensor, quality: int) -> tf.Tensor:
  """One uint8 image ``[H, W, 3]`` JPEG-encoded at ``quality`` and decoded as PIL would."""
  data = tf.io.encode_jpeg(image, quality=quality, chroma_downsampling=True)
  return tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")


def _jpeg_compression_one_image(image: tf.Tensor, severity: int, seed: int) -> tf.Tensor:
  del seed
  return jpeg_round_trip(image, _JPEG_QUALITY[severity - 1])


def _affine_points(h: int, w: int) -> np.ndarray:
  """pts1 of the release: three points around the image centre (x, y)."""
  center = np.float32((h, w)) // 2
  square = min(h, w) // 3
  return np.float32([center + square,
                     [center[0] + square, center[1] - square],
                     center - square])


def _elastic_from_draws(images: tf.Tensor, severity: int,
                        affine_u: tf.Tensor, dx_u: tf.Tensor,
                        dy_u: tf.Tensor, quantize: bool = True) -> tf.Tensor:
  """`elastic_transform` of make_imagenet_c.py with injected draws.

  affine_u: [B, 3, 2] standard uniforms behind
  np.random.uniform(-c2, c2, (3, 2)); dx_u, dy_u: [B, H, W] standard uniforms
  behind np.random.uniform(-1, 1, (H, W)).
  """
  c = _ELASTIC[severity - 1]
  h, w = images.shape[1], images.shape[2]
  pts1 = _affine_points(h, w)
  jitter = tf.cast(-c[2] + (c[2] - -c[2]) * affine_u, tf.float32)
  pts2 = tf.constant(pts1) + jitter
  inv = resample.cv2_inverse_affine(pts1, pts2)
  images = tf.convert_to_tensor(images)
  dx_u = tf.convert_to_tensor(dx_u, tf.float64)
  dy_u = tf.convert_to_tensor(dy_u, tf.float64)
  if filters.gaussian_is_banded(h, w, c[1], 3., "reflect"):
    # Severities 3-5: the fields' gaussians run in the warp's program.
    return _elastic_banded_xla(images, inv, dx_u, dy_u, negzero(), severity,
                               quantize)
  # Severities 1-2: dense matmuls in TF's kernels (their summation order).
  dx = filters.gaussian_2d(_unit_to_signed_xla(dx_u, negzero()), c[1], 3., "reflect")
  dy = filters.gaussian_2d(_unit_to_signed_xla(dy_u, negzero()), c[1], 3., "reflect")
  return _elastic_warp_xla(images, inv, dx, dy, negzero(), severity, quantize)


def _unit_to_signed(u, nz):
  """np.random.uniform(-1, 1) from a standard uniform: -1 + 2 u (2 u is exact)."""
  return -1. + no_contract(2. * u, nz)


_unit_to_signed_xla = xla_function(_unit_to_signed)


@xla_function
def _elastic_banded_xla(images, inv, dx_u, dy_u, nz, severity, quantize):
  """`_elastic_from_draws` after the affine inversion, in one program."""
  c = _ELASTIC[severity - 1]
  # Materialized: the warp's gathers would recompute the gaussians per tap.
  dx = materialize(filters.gaussian_2d(_unit_to_signed(dx_u, nz), c[1], 3., "reflect", nz), nz)
  dy = materialize(filters.gaussian_2d(_unit_to_signed(dy_u, nz), c[1], 3., "reflect", nz), nz)
  return _elastic_warp(images, inv, dx, dy, nz, severity, quantize)


def _elastic_warp(images, inv, dx, dy, nz, severity, quantize):
  """Affine warp + displacement resampling of `_elastic_from_draws`, fused.

  dx, dy: the blurred fields (float64), before the scale by c[0].
  """
  c = _ELASTIC[severity - 1]
  h, w = images.shape[1], images.shape[2]
  # float64 * c[0], stored float32 as the reference's fields; back to float64.
  dx = tf.cast(tf.cast(dx * c[0], tf.float32), tf.float64)
  dy = tf.cast(tf.cast(dy * c[0], tf.float32), tf.float64)
  x = ops.to_unit(images, tf.float32)
  # Materialized: else XLA recomputes the warp's 4 taps per displacement tap.
  x = materialize(resample.cv2_warp_affine(x, inv, quantize, nz), nz)
  yy = tf.range(h, dtype=tf.float64)[:, tf.newaxis] + dy
  xx = tf.range(w, dtype=tf.float64)[tf.newaxis, :] + dx
  return ops.unit_to_uint8(resample.map_coordinates_reflect(x, yy, xx, nz))


_elastic_warp_xla = xla_function(_elastic_warp)


def elastic_transform(images: tf.Tensor, severity: int,
                      seed: int = 0) -> tf.Tensor:
  """Seeded `elastic_transform` (release parameters, with the affine)."""
  b = ops.static_batch_size(images)
  hw = [images.shape[1], images.shape[2]]
  affine_u, dx_u, dy_u = ops.standard_uniforms([[b, 3, 2], [b] + hw, [b] + hw], seed,
                                               ["elastic/0", "elastic/1", "elastic/2"])
  return _elastic_from_draws(images, severity, affine_u, dx_u, dy_u)


CORRUPTIONS: Dict[str, Callable[[tf.Tensor, int, int], tf.Tensor]] = {
    "contrast": contrast,
    "elastic_transform": elastic_transform,
    "pixelate": pixelate,
    "jpeg_compression": jpeg_compression,
    "saturate": saturate,
}

# Corruptions whose eager one-image call (`corruptions.apply` with a Python-int
# seed) runs their kernels directly, ``fn(image [H, W, 3], severity, seed)``,
# instead of a traced program: a JPEG round trip is two kernels, which cost
# less dispatched one by one than a program's fixed call cost
# (benchmarks/README.md, corruption_speed.py's eager column).
ONE_IMAGE_EAGER: Dict[str, Callable[[tf.Tensor, int, int], tf.Tensor]] = {
    "jpeg_compression": _jpeg_compression_one_image,
}
