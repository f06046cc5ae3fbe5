"""The near-duplicate audit's distances, thresholds and blocked top-k search.

Pure numpy (scipy for SSIM): the constants that map the ImageNetV2 review
thresholds to ours and how they are derived (see the `tfds_bench.audit`
docstring), the flagging rule (`Thresholds`, `flags`, `pair_score`), the
candidate pair record, the distances (`l2_block`, `cosine_block`,
`ssim_batch`) and the streaming top-k search (`TopK`, `blocked_top_k`, with
`brute_force_top_k` as the baseline).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np

# --- reference values: modestyachts/ImageNetV2 code/sample_dataset.py -----------
REFERENCE_L2_SQUARED_TARGET = 1.2e8  # squared l2, uint8 pixels, 256x256x3
REFERENCE_DSSIM_TARGET = 0.2205  # (1 - SSIM) / 2, win_size 35 on 256x256
REFERENCE_FC7_SQUARED_TARGET = 1.32e4  # VGG-16 fc7, squared l2 (not transferable)
REFERENCE_IMAGE_SIDE = 256
REFERENCE_SSIM_WINDOW = 35
REFERENCE_TOP_K = 10  # near_duplicate_checker.py --top_k default

# --- ours ----------------------------------------------------------------------
PIXEL_SIDE = 32
SSIM_SIDE = 64
# 35/256 of the side, rounded to odd: 8.75 -> 9.
SSIM_WINDOW = 9
# The reference's squared-l2 target as an RMS difference of [0, 1] pixels...
REFERENCE_RMS_TARGET = math.sqrt(
    REFERENCE_L2_SQUARED_TARGET / (REFERENCE_IMAGE_SIDE ** 2 * 3)) / 255.0
# ...in units of ImageNet's pixel standard deviation (torchvision's
# normalisation (0.229, 0.224, 0.225), averaged): our pixel vectors are
# standardised per image.
IMAGENET_PIXEL_STD = 0.226
L2_PIXEL_THRESHOLD = REFERENCE_RMS_TARGET / IMAGENET_PIXEL_STD
SSIM_THRESHOLD = 1.0 - 2.0 * REFERENCE_DSSIM_TARGET
# Calibrated on planted duplicates with EfficientNet-Lite0 ``avg_pool``:
# resized (0.5x), JPEG q=40 re-encoded and brightness-shifted (+25) copies of
# skimage photos score <= 0.048, different photos >= 0.58 (tests/test_audit.py).
EMBEDDING_COSINE_THRESHOLD = 0.15
EMBEDDING_LAYER = "avg_pool"
DEFAULT_TOP_K = 5

L2_PIXEL = "l2_pixel"
EMBEDDING = "embedding"
SSIM = "ssim"


# --- thresholds, flags and the pair record ----------------------------------------

@dataclasses.dataclass(frozen=True)
class Thresholds:
  """A pair is flagged by a distance when it is within that distance's bound.

  Attributes:
    l2_pixel: flagged if the normalised pixel distance is ``<=`` this.
    embedding: flagged if the cosine distance is ``<=`` this.
    ssim: flagged if SSIM is ``>=`` this.
  """
  l2_pixel: float = L2_PIXEL_THRESHOLD
  embedding: float = EMBEDDING_COSINE_THRESHOLD
  ssim: float = SSIM_THRESHOLD


@dataclasses.dataclass
class CandidatePair:
  """A test image and one of its nearest reference images.

  ``test_image`` / ``reference_image`` (uint8 64x64x3 thumbnails) are filled
  for the pairs the contact sheet shows, None otherwise.
  """
  test_file: str
  reference_file: str
  l2_pixel: float
  embedding_distance: float
  ssim: float
  flagged_by: Tuple[str, ...]
  test_image: Optional[np.ndarray] = None
  reference_image: Optional[np.ndarray] = None

  @property
  def score(self) -> float:
    """Closeness relative to the thresholds: < 1 means flagged by something."""
    return pair_score(self.l2_pixel, self.embedding_distance, self.ssim, Thresholds())


def pair_score(l2_pixel: float, embedding: float, ssim: float, thresholds: Thresholds) -> float:
  """min over distances of distance / threshold (DSSIM for SSIM); NaN-safe."""
  ratios = [l2_pixel / thresholds.l2_pixel]
  if not math.isnan(embedding):
    ratios.append(embedding / thresholds.embedding)
  if not math.isnan(ssim):
    ratios.append((1.0 - ssim) / max(1.0 - thresholds.ssim, 1e-12))
  return min(ratios)


def flags(l2_pixel: float, embedding: float, ssim: float,
          thresholds: Thresholds) -> Tuple[str, ...]:
  """Names of the distances under whose threshold the pair falls."""
  out = []
  if l2_pixel <= thresholds.l2_pixel:
    out.append(L2_PIXEL)
  if not math.isnan(embedding) and embedding <= thresholds.embedding:
    out.append(EMBEDDING)
  if not math.isnan(ssim) and ssim >= thresholds.ssim:
    out.append(SSIM)
  return tuple(out)


# --- blocked top-k search (pure numpy) -------------------------------------------

class TopK:
  """Running k smallest distances per query, merged block by block.

  Each ``update`` takes one block's candidates (at most a few per query),
  concatenates them with the current k and keeps the k smallest with
  ``np.argpartition``: memory is O(queries x k) whatever the number of
  references. Optional payload columns (e.g. another distance) travel with
  the entries.
  """

  def __init__(self, num_queries: int, k: int, payload: Sequence[str] = ()):
    if k < 1:
      raise ValueError(f"k must be >= 1, got {k}")
    self.k = k
    self.distance = np.full((num_queries, k), np.inf, dtype=np.float32)
    self.index = np.full((num_queries, k), -1, dtype=np.int64)
    self.payload = {name: np.full((num_queries, k), np.nan, dtype=np.float32)
                    for name in payload}

  def update(self, rows: slice, distance: np.ndarray, index: np.ndarray,
             payload: Optional[Mapping[str, np.ndarray]] = None) -> np.ndarray:
    """Merges candidates ``[len(rows), c]`` into the rows' top-k.

    Returns:
      bool ``[len(rows), k]``: True where the entry now held came from these
      candidates (so the caller can compute expensive payloads only there).
    """
    payload = dict(payload or {})
    merged_distance = np.concatenate([self.distance[rows], distance.astype(np.float32)], axis=1)
    merged_index = np.concatenate([self.index[rows], index], axis=1)
    if merged_distance.shape[1] > self.k:
      keep = np.argpartition(merged_distance, self.k - 1, axis=1)[:, :self.k]
    else:
      keep = np.broadcast_to(np.arange(merged_distance.shape[1]), merged_distance.shape)
    self.distance[rows] = np.take_along_axis(merged_distance, keep, axis=1)
    self.index[rows] = np.take_along_axis(merged_index, keep, axis=1)
    for name, values in self.payload.items():
      incoming = payload.get(name)
      if incoming is None:
        incoming = np.full(distance.shape, np.nan, dtype=np.float32)
      merged = np.concatenate([values[rows], incoming.astype(np.float32)], axis=1)
      values[rows] = np.take_along_axis(merged, keep, axis=1)
    return keep >= self.k

  def sorted(self) -> Tuple[np.ndarray, np.ndarray, Dict[str, np.ndarray]]:
    """(distance, index, payload), each row in ascending distance (ties: lower index)."""
    # A stable sort on distance after a sort on index puts ties in index order.
    by_index = np.argsort(self.index, axis=1, kind="stable")
    distance = np.take_along_axis(self.distance, by_index, axis=1)
    order = np.take_along_axis(by_index, np.argsort(distance, axis=1, kind="stable"), axis=1)
    take = lambda a: np.take_along_axis(a, order, axis=1)
    return take(self.distance), take(self.index), {n: take(v) for n, v in self.payload.items()}


def block_candidates(distance: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
  """The k smallest entries of each row of a block: (distances, column indices)."""
  if distance.shape[1] <= k:
    columns = np.broadcast_to(np.arange(distance.shape[1]), distance.shape)
    return distance, np.array(columns)
  columns = np.argpartition(distance, k - 1, axis=1)[:, :k]
  return np.take_along_axis(distance, columns, axis=1), columns


def squared_norms(vectors: np.ndarray) -> np.ndarray:
  return np.einsum("ij,ij->i", vectors, vectors)


def l2_block(queries: np.ndarray, references: np.ndarray,
             query_norms: Optional[np.ndarray] = None,
             reference_norms: Optional[np.ndarray] = None) -> np.ndarray:
  """Euclidean distances ``[Q, R]`` by one matrix product.

  ``||x||^2 + ||y||^2 - 2 x.y`` (ImageNetV2 ``blas_l2_distance``), clipped
  at 0 before the square root (float rounding can make it slightly negative).
  """
  if query_norms is None:
    query_norms = squared_norms(queries)
  if reference_norms is None:
    reference_norms = squared_norms(references)
  squared = queries @ references.T
  squared *= -2.0
  squared += query_norms[:, None]
  squared += reference_norms[None, :]
  np.maximum(squared, 0.0, out=squared)
  return np.sqrt(squared, out=squared)


def cosine_block(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
  """``1 - cos`` ``[Q, R]`` of rows that are already l2-normalised."""
  distance = queries @ references.T
  np.subtract(1.0, distance, out=distance)
  return distance


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
  vectors = np.asarray(vectors, dtype=np.float32)
  norms = np.linalg.norm(vectors, axis=1, keepdims=True)
  return vectors / np.maximum(norms, 1e-12)


def _distance_fn(metric: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
  if metric == "l2":
    return l2_block
  if metric == "cosine":
    return cosine_block
  raise ValueError(f"metric must be 'l2' or 'cosine', got {metric!r}")


def blocked_top_k(queries: np.ndarray, reference_blocks: Iterable[np.ndarray], k: int,
                  metric: str = "l2",
                  query_block: int = 4096) -> Tuple[np.ndarray, np.ndarray]:
  """k nearest references of each query, streaming over reference blocks.

  Args:
    queries: float ``[Q, D]``.
    reference_blocks: float ``[R_b, D]`` arrays, in reference order (an
      iterator is fine: each block is read once).
    k: neighbours to keep.
    metric: ``"l2"`` (Euclidean) or ``"cosine"`` (``1 - cos``; inputs are
      normalised here).
    query_block: queries per matrix product (bounds the block's memory at
      ``query_block x R_b`` floats).

  Returns:
    ``(distances, indices)``, float32 and int64 ``[Q, k]``, ascending
    (ties: lower reference index first); index -1 / distance inf where fewer
    than k references exist.
  """
  _distance_fn(metric)  # validates the name
  queries = np.asarray(queries, dtype=np.float32)
  if metric == "cosine":
    queries = l2_normalize(queries)
  query_norms = squared_norms(queries)
  top = TopK(len(queries), k)
  offset = 0
  for block in reference_blocks:
    block = np.asarray(block, dtype=np.float32)
    if metric == "cosine":
      block = l2_normalize(block)
    else:
      block_norms = squared_norms(block)
    for start in range(0, len(queries), query_block):
      rows = slice(start, start + query_block)
      if metric == "l2":
        distance = l2_block(queries[rows], block, query_norms[rows], block_norms)
      else:
        distance = cosine_block(queries[rows], block)
      values, columns = block_candidates(distance, k)
      top.update(rows, values, columns + offset)
    offset += len(block)
  distance, index, _ = top.sorted()
  return distance, index


def brute_force_top_k(queries: np.ndarray, references: np.ndarray, k: int,
                      metric: str = "l2") -> Tuple[np.ndarray, np.ndarray]:
  """The same as `blocked_top_k` from the full distance matrix (tests, baselines)."""
  queries = np.asarray(queries, dtype=np.float32)
  references = np.asarray(references, dtype=np.float32)
  if metric == "cosine":
    queries, references = l2_normalize(queries), l2_normalize(references)
  distance = _distance_fn(metric)(queries, references)
  order = np.argsort(distance, axis=1, kind="stable")[:, :k]
  return np.take_along_axis(distance, order, axis=1), order.astype(np.int64)


# --- SSIM ------------------------------------------------------------------------

def ssim_batch(images_a: np.ndarray, images_b: np.ndarray, win_size: int = SSIM_WINDOW,
               data_range: float = 255.0) -> np.ndarray:
  """Mean SSIM of image pairs ``[B, H, W, C]`` (uint8 or float), vectorised.

  Equals ``skimage.metrics.structural_similarity(a, b, channel_axis=-1,
  win_size=win_size, data_range=data_range)`` per pair (Wang et al. 2004 with
  skimage's defaults: uniform window, sample covariance, K1 = 0.01, K2 =
  0.03; the map is cropped by (win_size - 1) // 2 at the borders, averaged
  over pixels and channels).
  """
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  a = np.asarray(images_a, dtype=np.float64)
  b = np.asarray(images_b, dtype=np.float64)
  if a.shape != b.shape or a.ndim != 4:
    raise ValueError(f"expected two [B, H, W, C] batches of one shape, got {a.shape}, {b.shape}")
  if len(a) == 0:
    return np.zeros(0)
  size = (1, win_size, win_size, 1)
  mean = lambda x: ndimage.uniform_filter(x, size=size)
  num_points = win_size ** 2
  cov_norm = num_points / (num_points - 1)
  ux, uy = mean(a), mean(b)
  vx = cov_norm * (mean(a * a) - ux * ux)
  vy = cov_norm * (mean(b * b) - uy * uy)
  vxy = cov_norm * (mean(a * b) - ux * uy)
  c1 = (0.01 * data_range) ** 2
  c2 = (0.03 * data_range) ** 2
  ssim_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
  pad = (win_size - 1) // 2
  return ssim_map[:, pad:-pad or None, pad:-pad or None, :].mean(axis=(1, 2, 3))
