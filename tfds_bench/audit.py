"""Near-duplicate audit: which test images nearly duplicate a reference image?

The check follows the ImageNetV2 creation pipeline (Recht et al. 2019, "Do
ImageNet Classifiers Generalize to ImageNet?"; modestyachts/ImageNetV2
``code/near_duplicate_checker.py``), which compared every candidate test image
with ImageNet train/val images under three distances and kept, per candidate
and distance, the ``top_k`` nearest references:

* ``l2``: squared l2 distance (``blas_l2_distance``, no square root) between
  raw uint8 RGB pixels of the images scaled to 256x256 (196,608 values).
* ``dssim``: ``(1 - SSIM) / 2`` with skimage's ``compare_ssim(...,
  multichannel=True, win_size=35)`` on the same 256x256 images (computed
  only against references of the 6 most similar classes, as it is slow).
* ``fc7``: squared l2 distance between VGG-16 fc7 features (4096-d).

``code/sample_dataset.py`` then treated as "needing review" every candidate
whose nearest unreviewed neighbour is within ``review_targets = {'l2': 1.2e8,
'dssim': 0.2205, 'fc7': 1.32e4}``; reviewers decided by eye. Those are
review thresholds, not automatic verdicts, and so are ours: ``flagged_by``
names the distances under which a pair is close enough to look at.

What we do, and how it maps to the reference (constants below):

* Pixel l2 on 32x32 RGB thumbnails (the whole image squashed, as the
  reference's ``scaled_256``), each NORMALISED to zero mean and unit l2 norm
  over its 3,072 values, so ``l2_pixel = ||x' - y'||`` in [0, 2] equals the
  RMS difference of the two standardised images (``sqrt(2 (1 - r))`` for
  their pixel correlation r). Why not raw pixels as the reference did: at
  32x32, textures average out to flat grey, and raw distances between
  unrelated low-contrast images (gravel vs grass, dark scenes) fall under the
  reference bound (measured: 0.074 RMS vs the bound 0.097); normalising
  removes that and makes brightness / contrast shifts free. Threshold: the
  reference's raw bound, ``sqrt(1.2e8 / 196608) / 255 = 0.0969`` RMS in
  [0, 1] units, in units of the pixel standard deviation of ImageNet (0.226,
  the mean of torchvision's (0.229, 0.224, 0.225)): 0.0969 / 0.226 = 0.429.
* Embedding distance: cosine distance ``1 - cos`` between the penultimate
  features (layer ``avg_pool``, 1280-d) of the default EfficientNet-Lite0
  (instead of VGG-16 fc7, which needs a download). The fc7 threshold does not
  transfer to another network; ``EMBEDDING_COSINE_THRESHOLD`` was calibrated
  on planted duplicates of scikit-image photos (see tests/test_audit.py).
* SSIM on 64x64 RGB thumbnails with window 9 (the reference's 35/256 of the
  side), skimage's defaults otherwise (uniform window, sample covariance,
  K1 = 0.01, K2 = 0.03, mean over channels). The reference DSSIM bound
  0.2205 is SSIM >= 1 - 2 * 0.2205 = 0.559. Computed only for the pairs in
  some test image's top-k by pixel l2 or by embedding distance.

Scale (50k test x 1.28M reference on one machine): reference images are read
once, featurised in streaming blocks and compared with blocks of the test
features by matrix products (``||x||^2 + ||y||^2 - 2 x.y`` as in
``blas_l2_distance``); each block keeps only its top-k per test image
(``np.argpartition``) and merges them into the running top-k, so no
test x reference matrix is ever held. Memory: the test set's thumbnails and
features (about 12 KB + 5 KB per image: ~0.9 GB for 50k) plus one block
pair. ``benchmarks/audit_speed.py`` measures the search speed.
"""

from __future__ import annotations

import csv
import dataclasses
import heapq
import math
import os
from typing import (Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from tfds_bench import benchmark_table, errors, models, sources

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
FLAG_SEPARATOR = "+"
CSV_NAME = "near_duplicates.csv"
CONTACT_SHEET_NAME = "near_duplicates.png"
CSV_FIELDS = ("test_file", "reference_file", "l2_pixel", "embedding_distance", "ssim",
              "flagged_by")


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
    return _pair_score(self.l2_pixel, self.embedding_distance, self.ssim, Thresholds())


@dataclasses.dataclass
class AuditResult:
  """Candidate pairs (top-k per test image by pixel l2 and by embedding)."""
  pairs: List[CandidatePair]
  num_test: int
  num_reference: int
  thresholds: Thresholds
  top_k: int

  def flagged(self) -> List[CandidatePair]:
    return [p for p in self.pairs if p.flagged_by]

  def flagged_test_files(self) -> List[str]:
    return sorted({p.test_file for p in self.pairs if p.flagged_by})


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


# --- features ----------------------------------------------------------------------

@dataclasses.dataclass
class Features:
  """One block of featurised images.

  Attributes:
    file_name: str [B].
    thumbnail: uint8 [B, 64, 64, 3] (SSIM and the contact sheet).
    embedding: float32 [B, D] l2-normalised, or None without a model.
  """
  file_name: np.ndarray
  thumbnail: np.ndarray
  embedding: Optional[np.ndarray]

  def __len__(self) -> int:
    return len(self.file_name)

  def pixels(self) -> np.ndarray:
    """float32 [B, 32*32*3]: 2x2 means of the thumbnail, zero mean, unit l2 norm.

    A flat image (standard deviation under one grey level) maps to about
    the zero vector, at distance ~1 from every textured image.
    """
    t = self.thumbnail.astype(np.float32) / 255.0
    b = len(t)
    factor = SSIM_SIDE // PIXEL_SIDE
    t = t.reshape(b, PIXEL_SIDE, factor, PIXEL_SIDE, factor, 3).mean(axis=(2, 4)).reshape(b, -1)
    t -= t.mean(axis=1, keepdims=True)
    floor = math.sqrt(t.shape[1]) / 255.0
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), floor)

  @staticmethod
  def concatenate(parts: Sequence["Features"]) -> "Features":
    embedding = None
    if parts and parts[0].embedding is not None:
      embedding = np.concatenate([p.embedding for p in parts])
    return Features(np.concatenate([p.file_name for p in parts]),
                    np.concatenate([p.thumbnail for p in parts]), embedding)


@dataclasses.dataclass
class Embedder:
  """A Keras model cut at its penultimate layer, with the model's preprocessing."""
  model: object
  preprocessing: object

  @classmethod
  def from_registry(cls, name: str = "efficientnet", layer: str = EMBEDDING_LAYER,
                    model=None) -> "Embedder":
    """``tfds_bench.models`` entry ``name`` cut at ``layer``.

    ``model`` may pass the already built Keras model of that entry (saves a
    rebuild).
    """
    import keras  # pylint: disable=g-import-not-at-top
    spec = models.get(name)
    model = model if model is not None else spec.build(None)
    try:
      output = model.get_layer(layer).output
    except ValueError:
      raise errors.UserError(f"model {name!r} has no layer {layer!r} to take "
                             "embeddings from") from None
    return cls(keras.Model(model.inputs, output, name=f"{model.name}_{layer}"),
               spec.preprocessing)


def _decode_full(image_bytes):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def decode_jpeg():
    return tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE")

  def decode_other():
    return tf.io.decode_image(image_bytes, channels=3, expand_animations=False)

  image = tf.cond(tf.io.is_jpeg(image_bytes), decode_jpeg, decode_other)
  image.set_shape([None, None, 3])
  return image


def featurize(dataset, embedder: Optional[Embedder] = None,
              batch_size: int = 64) -> Iterator[Features]:
  """Examples with encoded ``image`` and ``file_name`` -> Features per batch.

  The thumbnail is the WHOLE image squashed to 64x64 (area resize), like the
  reference's ``scaled_256``; the embedding sees the model's own
  preprocessing (center crop, resize, normalise).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tfds_bench import preprocessing  # lazy: tensorflow

  def prepare(example):
    image = _decode_full(example["image"])
    thumbnail = tf.image.resize(tf.cast(image, tf.float32), (SSIM_SIDE, SSIM_SIDE),
                                method="area")
    out = {"file_name": example["file_name"],
           "thumbnail": tf.cast(tf.round(tf.clip_by_value(thumbnail, 0, 255)), tf.uint8)}
    if embedder is not None:
      spec = embedder.preprocessing
      window = preprocessing.center_crop_window(tf.shape(image)[0], tf.shape(image)[1],
                                                spec.crop_fraction)
      crop = tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])
      out["model_input"] = preprocessing.resize_and_normalize(crop, spec)
    return out

  batched = (dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
             .batch(batch_size).prefetch(tf.data.AUTOTUNE))
  for batch in batched:
    embedding = None
    if embedder is not None:
      raw = np.asarray(embedder.model(batch["model_input"], training=False))
      embedding = l2_normalize(raw.reshape(len(raw), -1))
    names = np.array([n.decode("utf-8") for n in batch["file_name"].numpy()], dtype=object)
    yield Features(names, batch["thumbnail"].numpy(), embedding)


def _reblock(batches: Iterable[Features], block_size: int) -> Iterator[Features]:
  """Regroups feature batches into blocks of ``block_size`` (the last may be short)."""
  pending: List[Features] = []
  count = 0
  for batch in batches:
    pending.append(batch)
    count += len(batch)
    while count >= block_size:
      merged = Features.concatenate(pending)
      head = Features(merged.file_name[:block_size], merged.thumbnail[:block_size],
                      None if merged.embedding is None else merged.embedding[:block_size])
      tail = Features(merged.file_name[block_size:], merged.thumbnail[block_size:],
                      None if merged.embedding is None else merged.embedding[block_size:])
      yield head
      pending, count = ([tail] if len(tail) else []), len(tail)
  if count:
    yield Features.concatenate(pending)


# --- the audit ---------------------------------------------------------------------

def _pair_score(l2_pixel: float, embedding: float, ssim: float, thresholds: Thresholds) -> float:
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


class _SheetPool:
  """The best ``size`` pairs by score seen so far, with their reference thumbnails.

  Keeping the thumbnails of only these pairs is what lets the contact sheet be
  drawn without a second pass over the reference images.
  """

  def __init__(self, size: int):
    self.size = size
    self._heap: List[Tuple[float, int, int]] = []  # (-score, test, reference)
    self.thumbnails: Dict[Tuple[int, int], np.ndarray] = {}

  def offer(self, score: float, test: int, reference: int, thumbnail: np.ndarray) -> None:
    key = (test, reference)
    if key in self.thumbnails or self.size <= 0:
      return
    if len(self._heap) < self.size:
      heapq.heappush(self._heap, (-score, test, reference))
    elif -self._heap[0][0] > score:
      _, old_test, old_reference = heapq.heappushpop(self._heap, (-score, test, reference))
      del self.thumbnails[(old_test, old_reference)]
    else:
      return
    self.thumbnails[key] = thumbnail.copy()


def find_near_duplicates(test_ds, reference_ds, *, embedder: Union[Embedder, str, None] = "efficientnet",
                         top_k: int = DEFAULT_TOP_K, thresholds: Thresholds = Thresholds(),
                         batch_size: int = 64, reference_block: int = 2048,
                         test_block: int = 4096, sheet_size: int = 24,
                         skip_same_file_name: bool = True) -> AuditResult:
  """Flags test images that nearly duplicate reference images.

  Args:
    test_ds: tf.data dataset of examples with encoded ``image`` and
      ``file_name`` (``input_pipeline.load_split`` / ``load_image_folder``).
      Its features are held in memory.
    reference_ds: the same kind of dataset; streamed once, in blocks.
    embedder: an `Embedder`, a model registry name (cut at ``avg_pool``), or
      None to skip the embedding distance.
    top_k: nearest references kept per test image for each of pixel l2 and
      embedding distance; SSIM is computed for these pairs only.
    thresholds: flagging bounds (default: the documented constants).
    batch_size: images per model call.
    reference_block: reference images per block.
    test_block: test images per matrix product.
    sheet_size: pairs whose thumbnails are kept for the contact sheet.
    skip_same_file_name: ignore pairs whose file names are equal (auditing a
      set against itself).

  Returns:
    AuditResult: the candidate pairs, closest first within each test image.
  """
  if isinstance(embedder, str):
    embedder = Embedder.from_registry(embedder)
  test = Features.concatenate(list(featurize(test_ds, embedder, batch_size)))
  num_test = len(test)
  if num_test == 0:
    raise ValueError("the test dataset is empty")
  test_pixels = test.pixels()
  test_norms = squared_norms(test_pixels)
  use_embedding = test.embedding is not None
  test_row_of_name = {n: i for i, n in enumerate(test.file_name)} if skip_same_file_name else {}

  payload = (L2_PIXEL, EMBEDDING, SSIM)
  by_pixel = TopK(num_test, top_k, payload)
  by_embedding = TopK(num_test, top_k, payload) if use_embedding else None
  reference_names: List[str] = []
  pool = _SheetPool(sheet_size)
  offset = 0
  for block in _reblock(featurize(reference_ds, embedder, batch_size), reference_block):
    block_pixels = block.pixels()
    block_norms = squared_norms(block_pixels)
    same_name = [(test_row_of_name[n], j) for j, n in enumerate(block.file_name)
                 if n in test_row_of_name]
    for start in range(0, num_test, test_block):
      rows = slice(start, min(start + test_block, num_test))
      pixel = l2_block(test_pixels[rows], block_pixels, test_norms[rows], block_norms)
      embedding = cosine_block(test.embedding[rows], block.embedding) if use_embedding else None
      for i, j in same_name:
        if rows.start <= i < rows.stop:
          pixel[i - rows.start, j] = np.inf
          if embedding is not None:
            embedding[i - rows.start, j] = np.inf
      tops = [(by_pixel, pixel)] + ([(by_embedding, embedding)] if use_embedding else [])
      for top, distance in tops:
        values, columns = block_candidates(distance, top_k)
        candidate_payload = {L2_PIXEL: np.take_along_axis(pixel, columns, axis=1)}
        if use_embedding:
          candidate_payload[EMBEDDING] = np.take_along_axis(embedding, columns, axis=1)
        is_new = top.update(rows, values, columns + offset, candidate_payload)
        _fill_ssim(top, rows, is_new, test.thumbnail, block.thumbnail, offset, thresholds, pool)
    reference_names.extend(block.file_name.tolist())
    offset += len(block)

  pairs = _collect_pairs(test, reference_names, [t for t in (by_pixel, by_embedding) if t],
                         thresholds, pool)
  return AuditResult(pairs, num_test, offset, thresholds, top_k)


def _fill_ssim(top: TopK, rows: slice, is_new: np.ndarray, test_thumbnails: np.ndarray,
               block_thumbnails: np.ndarray, offset: int, thresholds: Thresholds,
               pool: _SheetPool) -> None:
  """SSIM of the entries that just entered the top-k (the only SSIMs computed)."""
  local_row, column = np.nonzero(is_new)
  if not len(local_row):
    return
  test_index = local_row + rows.start
  reference_index = top.index[test_index, column]
  # Drop padding entries (index -1: fewer references than k so far).
  real = reference_index >= 0
  test_index, column, reference_index = test_index[real], column[real], reference_index[real]
  reference_local = reference_index - offset
  values = ssim_batch(test_thumbnails[test_index], block_thumbnails[reference_local])
  top.payload[SSIM][test_index, column] = values
  l2 = top.payload[L2_PIXEL][test_index, column]
  embedding = top.payload[EMBEDDING][test_index, column]
  for t, r, r_local, a, b, c in zip(test_index, reference_index, reference_local, l2,
                                     embedding, values):
    pool.offer(_pair_score(float(a), float(b), float(c), thresholds), int(t), int(r),
               block_thumbnails[r_local])


def _collect_pairs(test: Features, reference_names: Sequence[str], tops: Sequence[TopK],
                   thresholds: Thresholds, pool: _SheetPool) -> List[CandidatePair]:
  seen = set()
  pairs = []
  sorted_tops = [top.sorted() for top in tops]
  for i in range(len(test)):
    rows = []
    for _, index, payload in sorted_tops:
      for j in range(index.shape[1]):
        r = int(index[i, j])
        if r < 0 or (i, r) in seen:
          continue
        seen.add((i, r))
        values = [float(payload[name][i, j]) for name in (L2_PIXEL, EMBEDDING, SSIM)]
        rows.append((_pair_score(*values, thresholds), r, values))
    for _, r, (l2, embedding, ssim) in sorted(rows, key=lambda x: (x[0], x[1])):
      pair = CandidatePair(str(test.file_name[i]), str(reference_names[r]), l2, embedding, ssim,
                           flags(l2, embedding, ssim, thresholds))
      if (i, r) in pool.thumbnails:
        pair.test_image = test.thumbnail[i]
        pair.reference_image = pool.thumbnails[(i, r)]
      pairs.append(pair)
  return pairs


# --- outputs ---------------------------------------------------------------------

def write_csv(pairs: Sequence[CandidatePair], path: str) -> str:
  """One row per candidate pair (``CSV_FIELDS``); ``flagged_by`` joined with '+'."""
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(CSV_FIELDS)
    for p in pairs:
      writer.writerow([p.test_file, p.reference_file, f"{p.l2_pixel:.6f}",
                       "" if math.isnan(p.embedding_distance) else f"{p.embedding_distance:.6f}",
                       "" if math.isnan(p.ssim) else f"{p.ssim:.6f}",
                       FLAG_SEPARATOR.join(p.flagged_by)])
  return path


def read_csv(path: str) -> List[CandidatePair]:
  """Pairs back from `write_csv` (without thumbnails)."""
  as_float = lambda s: float(s) if s else float("nan")
  with open(path, newline="", encoding="utf-8") as f:
    return [CandidatePair(r["test_file"], r["reference_file"], float(r["l2_pixel"]),
                          as_float(r["embedding_distance"]), as_float(r["ssim"]),
                          tuple(x for x in r["flagged_by"].split(FLAG_SEPARATOR) if x))
            for r in csv.DictReader(f)]


def write_contact_sheet(pairs: Sequence[CandidatePair], path: str, max_pairs: int = 24,
                        pairs_per_row: int = 3) -> Optional[str]:
  """A PNG grid of the closest pairs (test | reference) with their distances.

  Pairs without thumbnails are skipped; the closest (lowest score) come
  first. Returns ``path``, or None when no pair has thumbnails.
  """
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  shown = sorted((p for p in pairs if p.test_image is not None and p.reference_image is not None),
                 key=lambda p: p.score)[:max_pairs]
  if not shown:
    return None
  rows = math.ceil(len(shown) / pairs_per_row)
  columns = min(len(shown), pairs_per_row)
  figure = Figure(figsize=(3.6 * columns, 2.3 * rows), dpi=100)
  FigureCanvasAgg(figure)
  grid = figure.add_gridspec(rows, 2 * columns, wspace=0.04, hspace=0.55)
  for n, pair in enumerate(shown):
    row, col = divmod(n, pairs_per_row)
    for side, (image, name) in enumerate(((pair.test_image, pair.test_file),
                                          (pair.reference_image, pair.reference_file))):
      axes = figure.add_subplot(grid[row, 2 * col + side])
      axes.imshow(image, interpolation="nearest")
      axes.set_xticks([])
      axes.set_yticks([])
      axes.set_xlabel(_short(name), fontsize=6)
      if pair.flagged_by:
        for spine in axes.spines.values():
          spine.set_edgecolor("red")
          spine.set_linewidth(2)
    caption = (f"l2 {pair.l2_pixel:.3f}  emb {pair.embedding_distance:.3f}  "
               f"ssim {pair.ssim:.2f}\n{FLAG_SEPARATOR.join(pair.flagged_by) or 'not flagged'}")
    anchor = figure.add_subplot(grid[row, 2 * col:2 * col + 2], frameon=False)
    anchor.set_xticks([])
    anchor.set_yticks([])
    anchor.set_title(caption, fontsize=7)
  figure.suptitle("Near-duplicate candidates (test | reference); red = flagged", fontsize=9)
  figure.savefig(path, format="png")
  return path


def _short(name: str, width: int = 28) -> str:
  return name if len(name) <= width else "..." + name[-(width - 3):]


# --- CLI entry ---------------------------------------------------------------------

def load_source(spec: str, data_dir: Optional[str] = None, manual_dir: Optional[str] = None):
  """A source spec -> tf.data dataset of examples with encoded ``image`` and ``file_name``.

  A spec is one of:
    * a folder path (an existing directory, or containing ``/``): an
      ImageNet-layout folder read with ``input_pipeline.load_image_folder``;
    * ``tfds:NAME[/CONFIG]:SPLIT``, e.g. ``tfds:imagenet2012:train`` (the
      reference set ImageNetV2 was checked against);
    * a benchmark id (``bench_main --list``), e.g.
      ``imagenet_v2/matched-frequency``: its first source's split.
  """
  from tfds_bench import input_pipeline  # lazy: tensorflow
  if spec.startswith("tfds:"):
    parts = spec.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
      raise errors.UserError(f"bad source {spec!r}: expected tfds:NAME[/CONFIG]:SPLIT")
    return input_pipeline.load_split(parts[1], parts[2], data_dir, manual_dir)
  if os.path.isdir(os.path.expanduser(spec)) or (
      os.sep in spec and spec not in benchmark_table.by_id()):
    return input_pipeline.load_image_folder(spec)
  source = benchmark_table.get(spec).sources[0]
  if isinstance(source, sources.ImageFolderSource):
    raise errors.UserError(f"source {spec!r} has no dataset of its own: give the folder path")
  return source.load(sources.DataOptions(data_dir=data_dir, manual_dir=manual_dir))


def run_audit(test_spec: str, reference_spec: str, output_dir: str, *,
              data_dir: Optional[str] = None, manual_dir: Optional[str] = None,
              model: Optional[str] = "efficientnet", **kwargs) -> AuditResult:
  """Audits ``test_spec`` against ``reference_spec`` (see `load_source`).

  Writes ``output_dir/near_duplicates.csv`` (every candidate pair) and
  ``output_dir/near_duplicates.png`` (contact sheet of the closest pairs).
  ``kwargs`` go to `find_near_duplicates`.
  """
  os.makedirs(output_dir, exist_ok=True)
  result = find_near_duplicates(load_source(test_spec, data_dir, manual_dir),
                                load_source(reference_spec, data_dir, manual_dir),
                                embedder=model, **kwargs)
  write_csv(result.pairs, os.path.join(output_dir, CSV_NAME))
  write_contact_sheet(result.pairs, os.path.join(output_dir, CONTACT_SHEET_NAME))
  return result
