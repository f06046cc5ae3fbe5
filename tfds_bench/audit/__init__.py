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

Modules: `search` (the constants above, thresholds and flags, distances,
SSIM and the blocked top-k search; numpy only), `features` (thumbnails and
embeddings via tf.data and the model registry), `outputs` (CSV and contact
sheet); this package runs the audit (`find_near_duplicates`, `run_audit`)
and re-exports their public names. Importing it loads neither TensorFlow nor
matplotlib.
"""

from __future__ import annotations

import dataclasses
import heapq
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from tfds_bench import benchmark_table, errors, progress, sources
# The submodules' public names, used by callers as `tfds_bench.audit.<name>`.
from tfds_bench.audit.features import Embedder
from tfds_bench.audit.features import Features
from tfds_bench.audit.features import featurize
from tfds_bench.audit.features import reblock
from tfds_bench.audit.outputs import CONTACT_SHEET_NAME
from tfds_bench.audit.outputs import CSV_FIELDS
from tfds_bench.audit.outputs import CSV_NAME
from tfds_bench.audit.outputs import FLAG_SEPARATOR
from tfds_bench.audit.outputs import read_csv
from tfds_bench.audit.outputs import write_contact_sheet
from tfds_bench.audit.outputs import write_csv
from tfds_bench.audit.search import block_candidates
from tfds_bench.audit.search import blocked_top_k
from tfds_bench.audit.search import brute_force_top_k
from tfds_bench.audit.search import CandidatePair
from tfds_bench.audit.search import cosine_block
from tfds_bench.audit.search import DEFAULT_TOP_K
from tfds_bench.audit.search import EMBEDDING
from tfds_bench.audit.search import EMBEDDING_COSINE_THRESHOLD
from tfds_bench.audit.search import EMBEDDING_LAYER
from tfds_bench.audit.search import flags
from tfds_bench.audit.search import IMAGENET_PIXEL_STD
from tfds_bench.audit.search import L2_PIXEL
from tfds_bench.audit.search import L2_PIXEL_THRESHOLD
from tfds_bench.audit.search import l2_block
from tfds_bench.audit.search import l2_normalize
from tfds_bench.audit.search import pair_score
from tfds_bench.audit.search import PIXEL_SIDE
from tfds_bench.audit.search import REFERENCE_DSSIM_TARGET
from tfds_bench.audit.search import REFERENCE_FC7_SQUARED_TARGET
from tfds_bench.audit.search import REFERENCE_IMAGE_SIDE
from tfds_bench.audit.search import REFERENCE_L2_SQUARED_TARGET
from tfds_bench.audit.search import REFERENCE_RMS_TARGET
from tfds_bench.audit.search import REFERENCE_SSIM_WINDOW
from tfds_bench.audit.search import REFERENCE_TOP_K
from tfds_bench.audit.search import squared_norms
from tfds_bench.audit.search import SSIM
from tfds_bench.audit.search import SSIM_SIDE
from tfds_bench.audit.search import SSIM_THRESHOLD
from tfds_bench.audit.search import SSIM_WINDOW
from tfds_bench.audit.search import ssim_batch
from tfds_bench.audit.search import Thresholds
from tfds_bench.audit.search import TopK


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


# --- the audit ---------------------------------------------------------------------

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
                         skip_same_file_name: bool = True,
                         progress_factory=None) -> AuditResult:
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
    progress_factory: ``factory(description, total) -> (update(n), close())``
      (`tfds_bench.progress`): test images featurized, then pairs compared out
      of test x reference (the hours-long part at ImageNet scale); None for
      silence.

  Returns:
    AuditResult: the candidate pairs, closest first within each test image.
  """
  from tfds_bench import input_pipeline  # lazy: tensorflow
  if isinstance(embedder, str):
    embedder = Embedder.from_registry(embedder)
  with progress.progress(progress_factory, "audit: test images featurized",
                         input_pipeline.dataset_size(test_ds)) as update:
    test_batches = []
    for batch in featurize(test_ds, embedder, batch_size):
      test_batches.append(batch)
      update(len(batch))
  test = Features.concatenate(test_batches)
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
  num_reference = input_pipeline.dataset_size(reference_ds)
  with progress.progress(progress_factory, "audit: pairs compared",
                         None if num_reference is None else num_test * num_reference
                         ) as update:
    for block in reblock(featurize(reference_ds, embedder, batch_size), reference_block):
      _compare_block(block, offset, test, test_pixels, test_norms, test_row_of_name,
                     by_pixel, by_embedding, top_k, test_block, thresholds, pool)
      reference_names.extend(block.file_name.tolist())
      offset += len(block)
      update(num_test * len(block))

  pairs = _collect_pairs(test, reference_names, [t for t in (by_pixel, by_embedding) if t],
                         thresholds, pool)
  return AuditResult(pairs, num_test, offset, thresholds, top_k)


def _compare_block(block, offset, test, test_pixels, test_norms, test_row_of_name, by_pixel,
                   by_embedding, top_k, test_block, thresholds, pool) -> None:
  """Merges one block of reference images into the running top-k of every test image."""
  num_test = len(test)
  use_embedding = by_embedding is not None
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
    pool.offer(pair_score(float(a), float(b), float(c), thresholds), int(t), int(r),
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
        rows.append((pair_score(*values, thresholds), r, values))
    for _, r, (l2, embedding, ssim) in sorted(rows, key=lambda x: (x[0], x[1])):
      pair = CandidatePair(str(test.file_name[i]), str(reference_names[r]), l2, embedding, ssim,
                           flags(l2, embedding, ssim, thresholds))
      if (i, r) in pool.thumbnails:
        pair.test_image = test.thumbnail[i]
        pair.reference_image = pool.thumbnails[(i, r)]
      pairs.append(pair)
  return pairs


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
