"""Linear filters of the corruptions: Gaussian, motion blur, small kernels.

Two Gaussians, because the references need two behaviours:

* `depthwise_gaussian`: float32 separable taps (scipy's kernel, truncate 4,
  'nearest' borders) for the blurs of uint8 images (gaussian_blur,
  glass_blur), which only need the truncated output right up to ~1e-4 of a
  level;
* `gaussian_2d`: skimage ``gaussian`` on float64 single-channel planes with
  the boundary folded into a matrix (radii larger than the image work), summed
  in the float64 matmul's order: bit-exact, as elastic_transform, spatter and
  ImageNet-P's gaussian_blur need. Short kernels run as banded taps inside XLA
  (`banded_pass`), long ones as the dense matmul in TF's kernel.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Tuple

import numpy as np
import tensorflow as tf

from tfds_bench.corruptions.xla_exact import dynamic_slice
from tfds_bench.corruptions.xla_exact import materialize
from tfds_bench.corruptions.xla_exact import negzero
from tfds_bench.corruptions.xla_exact import no_contract
from tfds_bench.corruptions.xla_exact import xla_function

# /////////////// Index extension ///////////////


def edge_pad(x: tf.Tensor, r: int, axis: int) -> tf.Tensor:
  """Pads ``r`` values on both sides of ``axis`` by repeating the edge (scipy 'nearest')."""
  n = int(x.shape[axis])
  return tf.gather(x, np.clip(np.arange(-r, n + r), 0, n - 1).astype(np.int32), axis=axis)


def extend_index(idx: np.ndarray, n: int, mode: str) -> np.ndarray:
  """Maps out-of-range indices like scipy.ndimage's line extension."""
  if mode == "nearest":
    return np.clip(idx, 0, n - 1)
  if mode == "reflect":  # half-sample symmetric: d c b a | a b c d | d c b a
    m = np.mod(idx, 2 * n)
    return np.where(m >= n, 2 * n - 1 - m, m)
  if mode == "reflect101":  # cv2 BORDER_REFLECT_101: c b | a b c d | c b
    if n == 1:
      return np.zeros_like(idx)
    m = np.mod(idx, 2 * n - 2)
    return np.where(m >= n, 2 * n - 2 - m, m)
  raise ValueError(mode)


# /////////////// Banded matrices as taps ///////////////


@functools.lru_cache(maxsize=None)
def matrix_taps(key: Tuple, mat_fn: Callable) -> Tuple[np.ndarray, np.ndarray]:
  """The banded [out, in] matrix ``mat_fn(*key)`` as (indices, weights), both [out, max taps].

  Nonzero entries in ascending input index, zero weights as padding; summed
  in that order, acc = w0 * x0 + w1 * x1 + ..., they give the float64 matmul's
  bytes (Eigen accumulates the contraction in ascending index order, adding
  exact zeros for the other entries).
  """
  mat = mat_fn(*key)
  taps = max(int((row != 0).sum()) for row in mat)
  idx = np.zeros((mat.shape[0], taps), np.int32)
  wts = np.zeros((mat.shape[0], taps))
  for o, row in enumerate(mat):
    nz = np.flatnonzero(row)
    idx[o, :nz.size], wts[o, :nz.size] = nz, row[nz]
  return idx, wts


def _uniform_block(idx: np.ndarray, wts: np.ndarray) -> Tuple[int, int]:
  """Longest run [lo, hi) of outputs whose taps are x[o + off + t] * w[t].

  There (the interior of a convolution) the taps are static slices, which XLA
  fuses far better than gathers; the border outputs keep the gathers.
  """
  n, k = idx.shape
  best = (0, 0)
  o = 0
  while o < n:
    hi = o
    while (hi < n and np.array_equal(idx[hi] - idx[o], np.arange(k) + hi - o)
           and np.array_equal(wts[hi], wts[o])):
      hi += 1
    if hi - o > best[1] - best[0]:
      best = (o, hi)
    o = max(hi, o + 1)
  return best


def banded_pass(x: tf.Tensor, idx: np.ndarray, wts: np.ndarray,
                axis: int, nz) -> tf.Tensor:
  """sum_j mat[i, j] * x[..., j, ...] along `axis` of a 3-D x, as taps.

  Terms are added in ascending j (`matrix_taps`), whichever way they are
  fetched, so all outputs are the matmul's bytes.
  """
  lo, hi = _uniform_block(idx, wts)
  if hi - lo < 8:
    lo = hi = 0

  def gathered(rows):
    shape = [1, 1, 1]
    shape[axis] = len(rows)
    acc = None
    for t in range(idx.shape[1]):
      term = tf.gather(x, idx[rows, t], axis=axis) * tf.constant(
          wts[rows, t].reshape(shape), x.dtype)
      acc = term if acc is None else acc + no_contract(term, nz)
    return acc

  parts = []
  if lo > 0:
    parts.append(gathered(np.arange(lo)))
  if hi > lo:
    acc = None
    for t in range(idx.shape[1]):
      begin = [0, 0, 0]
      size = [-1, -1, -1]
      begin[axis], size[axis] = int(idx[lo, t]), hi - lo
      term = tf.slice(x, begin, size) * float(wts[lo, t])
      acc = term if acc is None else acc + no_contract(term, nz)
    parts.append(acc)
  if hi < idx.shape[0]:
    parts.append(gathered(np.arange(hi, idx.shape[0])))
  return parts[0] if len(parts) == 1 else tf.concat(parts, axis=axis)


# /////////////// Gaussian ///////////////


def gaussian_taps(sigma: float, truncate: float = 4.0) -> np.ndarray:
  """scipy ``_gaussian_kernel1d`` weights, float64, length 2r+1, r = int(truncate sigma + .5)."""
  radius = int(truncate * float(sigma) + 0.5)
  x = np.arange(-radius, radius + 1).astype(np.float64)
  phi = np.exp(-0.5 / (float(sigma) * float(sigma)) * x**2)
  return phi / phi.sum()


def depthwise_gaussian(x: tf.Tensor, sigma: float) -> tf.Tensor:
  """skimage ``gaussian(x, sigma, channel_axis=-1)`` on ``[B, H, W, C]`` (uint8 or float32).

  scipy's separable form: a (2r+1)-tap 1-D correlation per axis (r = int(4 sigma
  + 0.5)) with 'nearest' (edge-replicating) borders, here an edge-padding gather
  and a VALID depthwise convolution per axis, in float32 (not bit-exact: see
  the module docstring).
  """
  phi = gaussian_taps(sigma).astype(np.float32)
  r = len(phi) // 2
  c = int(x.shape[-1])
  for axis, shape in ((1, [-1, 1, 1, 1]), (2, [1, -1, 1, 1])):
    kernel = tf.constant(np.tile(phi.reshape(shape), [1, 1, c, 1]))
    # The padding (a copy) in XLA: TF's gather kernel was a large share of
    # glass_blur's time; the convolution stays TF's (its round-off is the output's).
    x = tf.nn.depthwise_conv2d(_float32_edge_pad_xla(x, r, axis), kernel, [1, 1, 1, 1],
                               "VALID")
  return x


@xla_function
def _float32_edge_pad_xla(x, r, axis):
  return edge_pad(tf.cast(x, tf.float32), r, axis)


@functools.lru_cache(maxsize=None)
def gaussian_matrix(n: int, sigma: float, truncate: float,
                    mode: str) -> np.ndarray:
  """[n, n] matrix of scipy.ndimage.gaussian_filter1d (skimage `gaussian`).

  Same kernel as scipy's `_gaussian_kernel1d` (`gaussian_taps`); boundary
  folded in with `extend_index`, so radii larger than the image work.
  """
  w = gaussian_taps(sigma, truncate)
  radius = w.size // 2
  taps = np.arange(-radius, radius + 1)
  src = extend_index(np.arange(n)[:, None] + taps[None, :], n, mode)
  mat = np.zeros((n, n))
  np.add.at(mat, (np.repeat(np.arange(n), taps.size), src.ravel()),
            np.tile(w, n))
  return mat


# Longer kernels (elastic severities 1-2: sigma 170.8 and 19.5) stay dense
# matmuls in TF's kernel: as many taps would be slower than the BLAS product.
_MAX_BANDED_TAPS = 40


def gaussian_is_banded(h: int, w: int, sigma: float, truncate: float,
                       mode: str) -> bool:
  """Whether `gaussian_2d` of ``[B, h, w]`` runs as banded taps (XLA) rather than matmuls."""
  taps_h = matrix_taps((h, sigma, truncate, mode), gaussian_matrix)
  taps_w = matrix_taps((w, sigma, truncate, mode), gaussian_matrix)
  return max(taps_h[0].shape[1], taps_w[0].shape[1]) <= _MAX_BANDED_TAPS


def gaussian_2d(x: tf.Tensor, sigma: float, truncate: float,
                mode: str, nz=None) -> tf.Tensor:
  """skimage.filters.gaussian on [B, H, W] single-channel images, bit-exact.

  scipy filters axis 0 then axis 1 and stores each pass in the input dtype;
  we do the same (the sums themselves are float64 in both). Inside an XLA
  function pass ``nz`` (its `negzero` argument): the taps then run in the
  caller's program, which needs a banded kernel (`gaussian_is_banded`).
  """
  h, w = x.shape[1], x.shape[2]
  banded = gaussian_is_banded(h, w, sigma, truncate, mode)
  if nz is not None:
    if not banded:
      raise ValueError(f"gaussian_2d inside XLA needs a banded kernel (sigma {sigma})")
    return _gaussian_2d_banded(x, nz, sigma, truncate, mode)
  if banded:
    return _gaussian_2d_banded_xla(tf.convert_to_tensor(x), negzero(), sigma,
                                   truncate, mode)
  mh = tf.constant(gaussian_matrix(h, sigma, truncate, mode))
  mw = tf.constant(gaussian_matrix(w, sigma, truncate, mode))
  dtype = x.dtype
  y = tf.einsum("ij,bjk->bik", mh, tf.cast(x, tf.float64))
  y = tf.cast(tf.cast(y, dtype), tf.float64)
  y = tf.einsum("bik,lk->bil", y, mw)
  return tf.cast(y, dtype)


def _gaussian_2d_banded(x, nz, sigma, truncate, mode):
  """`gaussian_2d` as banded taps (same sums, same order, same bytes), inside XLA."""
  h, w = x.shape[1], x.shape[2]
  dtype = x.dtype
  idx, wts = matrix_taps((h, sigma, truncate, mode), gaussian_matrix)
  y = banded_pass(tf.cast(x, tf.float64), idx, wts, 1, nz)
  # Materialized: else XLA recomputes the first pass inside each tap of the second.
  y = materialize(tf.cast(tf.cast(y, dtype), tf.float64), nz)
  idx, wts = matrix_taps((w, sigma, truncate, mode), gaussian_matrix)
  return tf.cast(banded_pass(y, idx, wts, 2, nz), dtype)


_gaussian_2d_banded_xla = xla_function(_gaussian_2d_banded)


def cv2_gaussian_blur(kernel: np.ndarray, ksize: int, sigma: float) -> np.ndarray:
  """``cv2.GaussianBlur(kernel, (ksize, ksize), sigma)`` on a float32 2-D numpy array.

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


# /////////////// 3x3 kernels (cv2) ///////////////


def conv3x3(x: tf.Tensor, kernel: np.ndarray, pad_mode: str) -> tf.Tensor:
  """3x3 correlation of [B, H, W] (cv2 filters correlate, anchor centre)."""
  xp = tf.pad(x, [[0, 0], [1, 1], [1, 1]], mode=pad_mode)
  h, w = x.shape[1], x.shape[2]
  out = tf.zeros_like(x)
  for i in range(3):
    for j in range(3):
      if kernel[i, j] != 0:
        out = out + kernel[i, j] * xp[:, i:i + h, j:j + w]
  return out


def box3(x: tf.Tensor, dtype) -> tf.Tensor:
  """cv2.blur(x, (3, 3)) with BORDER_REFLECT_101, sums in float64."""
  # tf.pad "REFLECT" excludes the edge pixel: cv2's BORDER_REFLECT_101.
  s = conv3x3(tf.cast(x, tf.float64), np.ones((3, 3)), "REFLECT")
  s = s * (1. / 9.)
  if dtype == tf.uint8:
    return tf.cast(tf.round(s), tf.uint8)  # saturate_cast: never a .5 tie
  return tf.cast(s, dtype)


# /////////////// Motion blur (imagecorruptions `_motion_blur`) ///////////////


def motion_blur_kernel(radius: int, sigma: float) -> np.ndarray:
  """imagecorruptions ``getMotionBlurKernel(2 * radius + 1, sigma)``, float64."""
  width = radius * 2 + 1
  x = np.arange(width, dtype=np.float64)
  k = np.exp(-x**2 / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
  return k / np.sum(k)


def motion_shifts(angles: tf.Tensor, width: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """Per-tap shifts (dy, dx), each int32 ``[B, width]``, of ``_motion_blur``.

  ``angles``: ``[B]`` degrees. Float64 as the reference, in TF's kernels
  (outside XLA).
  """
  angles = tf.cast(angles, tf.float64)[:, tf.newaxis]
  rad = angles * (math.pi / 180.0)  # np.deg2rad
  p0, p1 = width * tf.sin(rad), width * tf.cos(rad)
  hypot = tf.sqrt(p0 * p0 + p1 * p1)
  i = tf.range(width, dtype=tf.float64)[tf.newaxis, :]
  dy = -tf.math.ceil(i * p0 / hypot - 0.5)
  dx = -tf.math.ceil(i * p1 / hypot - 0.5)
  return tf.cast(dy, tf.int32), tf.cast(dx, tf.int32)


def motion_blur_planes(image: tf.Tensor, kernel: np.ndarray, dy: tf.Tensor,
                       dx: tf.Tensor, nz=None) -> tf.Tensor:
  """imagecorruptions ``_motion_blur`` of ONE float64 image ``[..., H, W]``.

  ``sum_i kernel[i] * shift(image, dx[i], dy[i])`` accumulated in order, where
  ``shift`` replicates the edge: ``image[clip(r - dy), clip(c - dx)]``. The
  image is edge-padded once by the kernel width (>= every shift, |dy|, |dx| <
  width), so each tap is a slice. The reference's break when a shift leaves
  the image never triggers for images larger than the kernel. ``nz``: inside
  XLA, see `no_contract`; in order, with products rounded, the sums are the
  reference's to the bit.

  Args:
    image: float64 ``[..., H, W]`` (channel planes first, rows contiguous).
    kernel: float64 ``[width]`` (`motion_blur_kernel`), numpy or a tensor.
    dy: int32 ``[width]`` (one image's row of `motion_shifts`).
    dx: int32 ``[width]``.
    nz: `negzero` inside XLA, else None.

  Returns:
    float64, the shape of ``image``.
  """
  lead = image.shape.rank - 2
  h, w = int(image.shape[-2]), int(image.shape[-1])
  p = int(kernel.shape[0])
  xp = edge_pad(edge_pad(image, p, lead), p, lead + 1)
  size = image.shape[:lead].as_list() + [h, w]
  out = tf.zeros_like(image)
  for i in range(p):
    begin = tf.stack([0] * lead + [p - dy[i], p - dx[i]])
    # Inside XLA a tf.slice's begin is a compile-time constant (one program per
    # drawn angle); XLA's dynamic slice takes it at run time.
    tap = tf.slice(xp, begin, size) if nz is None else dynamic_slice(xp, begin, size)
    out = out + no_contract(tf.cast(kernel[i], image.dtype) * tap, nz)
  return out


def motion_blur(x: tf.Tensor, kernel: np.ndarray, dy: tf.Tensor, dx: tf.Tensor,
                nz=None) -> tf.Tensor:
  """`motion_blur_planes` of each float64 ``[H, W]`` plane of ``x`` ``[B, H, W]``.

  One image at a time keeps the padded copy in cache. ``dy``, ``dx``: ``[B,
  width]`` (`motion_shifts`).
  """
  return tf.map_fn(lambda a: motion_blur_planes(a[0], kernel, a[1], a[2], nz),
                   (x, dy, dx), fn_output_signature=x.dtype)
