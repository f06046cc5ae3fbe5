"""Near-duplicate audit (tfds_bench.audit): planted duplicates, blocked search."""

import io
import os

import numpy as np
import pytest

from tfds_bench import audit
from tfds_bench.audit import search as audit_search

# Reference photos, and the planted copies of four of them in the test set.
REFERENCE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon",
                    "brick", "grass", "hubble_deep_field", "immunohistochemistry", "text",
                    "clock")
# Distractors: photos absent from the reference set (low-contrast textures
# among them, which raw-pixel l2 at 32x32 would confuse).
DISTRACTOR_PHOTOS = ("horse", "logo", "colorwheel", "cell", "page", "gravel", "microaneurysms",
                     "checkerboard")
PLANTED = {  # test file -> reference file
    "test/astronaut_exact.jpg": "ref/astronaut.jpg",
    "test/coffee_resized.jpg": "ref/coffee.jpg",
    "test/chelsea_recompressed.jpg": "ref/chelsea.jpg",
    "test/rocket_brighter.jpg": "ref/rocket.jpg",
}


def _rgb(image):
  image = np.asarray(image)
  if image.dtype == bool:
    image = image.astype(np.uint8) * 255
  if image.ndim == 2:
    image = np.stack([image] * 3, axis=-1)
  return image[..., :3].astype(np.uint8)


def _photo(name):
  import skimage.data
  return _rgb(getattr(skimage.data, name)())


def _jpeg(image, quality=95):
  from PIL import Image
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
  return buffer.getvalue()


def _decode(data):
  from PIL import Image
  return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _resized(image, factor):
  from PIL import Image
  height, width = image.shape[:2]
  return np.asarray(Image.fromarray(image).resize(
      (int(width * factor), int(height * factor)), Image.BICUBIC))


@pytest.fixture(scope="module")
def photo_sets():
  """(test items, reference items): lists of (file name, JPEG bytes)."""
  reference = [(f"ref/{n}.jpg", _jpeg(_photo(n))) for n in REFERENCE_PHOTOS]
  by_name = dict(reference)
  test = [
      ("test/astronaut_exact.jpg", by_name["ref/astronaut.jpg"]),
      ("test/coffee_resized.jpg", _jpeg(_resized(_photo("coffee"), 0.5))),
      ("test/chelsea_recompressed.jpg", _jpeg(_decode(by_name["ref/chelsea.jpg"]), quality=40)),
      ("test/rocket_brighter.jpg",
       _jpeg(np.clip(_photo("rocket").astype(int) + 15, 0, 255).astype(np.uint8))),
  ] + [(f"test/{n}.jpg", _jpeg(_photo(n))) for n in DISTRACTOR_PHOTOS]
  return test, reference


def _dataset(items):
  import tensorflow as tf
  return tf.data.Dataset.from_tensor_slices(
      {"file_name": [n for n, _ in items], "image": [b for _, b in items]})


@pytest.fixture(scope="module")
def embedder(lite0_model):
  return audit.Embedder.from_registry("efficientnet", model=lite0_model)


@pytest.fixture(scope="module")
def audit_result(photo_sets, embedder):
  test, reference = photo_sets
  # Small blocks so that the merge across blocks is exercised.
  return audit.find_near_duplicates(_dataset(test), _dataset(reference), embedder=embedder,
                                    top_k=3, reference_block=5, test_block=4, batch_size=8)


def test_planted_duplicates_found_by_all_three_distances(audit_result):
  flagged = {(p.test_file, p.reference_file): p.flagged_by for p in audit_result.flagged()}
  for test_file, reference_file in PLANTED.items():
    assert flagged.get((test_file, reference_file)) == (audit.L2_PIXEL, audit.EMBEDDING,
                                                        audit.SSIM), test_file


def test_distractors_not_flagged(audit_result):
  assert audit_result.flagged_test_files() == sorted(PLANTED)
  assert {(p.test_file, p.reference_file) for p in audit_result.flagged()} == set(PLANTED.items())


def test_result_shape(audit_result):
  assert audit_result.num_test == 4 + len(DISTRACTOR_PHOTOS)
  assert audit_result.num_reference == len(REFERENCE_PHOTOS)
  # Every test image has its top-3 by each distance (union, so 3..6 pairs).
  per_test = {}
  for p in audit_result.pairs:
    per_test[p.test_file] = per_test.get(p.test_file, 0) + 1
    assert not np.isnan(p.ssim)
  assert all(3 <= n <= 6 for n in per_test.values())
  # The planted pair is each planted image's first (closest) row.
  first = {}
  for p in audit_result.pairs:
    first.setdefault(p.test_file, p.reference_file)
  for test_file, reference_file in PLANTED.items():
    assert first[test_file] == reference_file


def test_csv_and_contact_sheet(audit_result, tmp_path):
  path = audit.write_csv(audit_result.pairs, str(tmp_path / "pairs.csv"))
  with open(path) as f:
    assert f.readline().strip() == ",".join(audit.CSV_FIELDS)
  back = audit.read_csv(path)
  assert [(p.test_file, p.reference_file, p.flagged_by) for p in back] == [
      (p.test_file, p.reference_file, p.flagged_by) for p in audit_result.pairs]
  np.testing.assert_allclose([p.ssim for p in back], [p.ssim for p in audit_result.pairs],
                             atol=1e-6)
  sheet = audit.write_contact_sheet(audit_result.pairs, str(tmp_path / "sheet.png"))
  with open(sheet, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  shown = [p for p in audit_result.pairs if p.test_image is not None]
  assert {(p.test_file, p.reference_file) for p in audit_result.flagged()} <= {
      (p.test_file, p.reference_file) for p in shown}


def test_run_audit_on_folders_without_a_model(photo_sets, tmp_path):
  test, reference = photo_sets
  for root, items in (("test_folder", test[:6]), ("reference_folder", reference)):
    for name, data in items:
      path = tmp_path / root / "n01440764" / os.path.basename(name)
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_bytes(data)
  result = audit.run_audit(str(tmp_path / "test_folder"), str(tmp_path / "reference_folder"),
                           str(tmp_path / "out"), model=None, top_k=2)
  assert os.path.isfile(tmp_path / "out" / audit.CSV_NAME)
  assert os.path.isfile(tmp_path / "out" / audit.CONTACT_SHEET_NAME)
  flagged = {(p.test_file, p.reference_file) for p in result.flagged()}
  assert flagged == {("n01440764/" + os.path.basename(t), "n01440764/" + os.path.basename(r))
                     for t, r in PLANTED.items()}
  assert all(np.isnan(p.embedding_distance) for p in result.pairs)


class RecordingProgress:
  """A `tfds_bench.progress` factory that records what each display was told."""

  def __init__(self):
    self.displays = []  # [description, total, counted, closed]

  def __call__(self, description, total):
    display = [description, total, 0, False]
    self.displays.append(display)

    def update(n):
      display[2] += n

    def close():
      display[3] = True
    return update, close


def test_audit_progress_counts_pairs_against_a_known_total(photo_sets):
  test, reference = photo_sets
  recorder = RecordingProgress()
  result = audit.find_near_duplicates(_dataset(test), _dataset(reference), embedder=None,
                                      top_k=2, reference_block=5, progress_factory=recorder)
  pairs = result.num_test * result.num_reference
  assert recorder.displays == [
      ["audit: test images featurized", result.num_test, result.num_test, True],
      ["audit: pairs compared", pairs, pairs, True]]


@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("k,block", [(5, 97), (7, 3), (1, 1000)])
def test_blocked_top_k_equals_brute_force(metric, k, block):
  rng = np.random.default_rng(k * block)
  queries = rng.normal(size=(230, 48)).astype(np.float32)
  references = rng.normal(size=(1000, 48)).astype(np.float32)
  blocks = (references[s:s + block] for s in range(0, len(references), block))
  distance, index = audit.blocked_top_k(queries, blocks, k, metric, query_block=64)
  expected_distance, expected_index = audit.brute_force_top_k(queries, references, k, metric)
  np.testing.assert_array_equal(index, expected_index)
  np.testing.assert_allclose(distance, expected_distance, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_distances_and_neighbours_equal_scipy(metric):
  """The audit's distances against scipy's cdist, not against
  `brute_force_top_k` (which shares `l2_block` / `cosine_block`)."""
  from scipy.spatial import distance as scipy_distance
  rng = np.random.default_rng(11)
  queries = rng.normal(size=(40, 24)).astype(np.float32)
  references = rng.normal(loc=0.3, size=(300, 24)).astype(np.float32)
  expected = scipy_distance.cdist(queries.astype(np.float64), references.astype(np.float64),
                                  "euclidean" if metric == "l2" else "cosine")
  if metric == "l2":
    block = audit_search.l2_block(queries, references, audit_search.squared_norms(queries),
                                  audit_search.squared_norms(references))
  else:
    block = audit_search.cosine_block(audit_search.l2_normalize(queries),
                                      audit_search.l2_normalize(references))
  np.testing.assert_allclose(block, expected, rtol=1e-5, atol=1e-5)
  k = 6
  blocks = (references[s:s + 37] for s in range(0, len(references), 37))
  distance, index = audit.blocked_top_k(queries, blocks, k, metric, query_block=16)
  expected_index = np.argsort(expected, axis=1, kind="stable")[:, :k]
  np.testing.assert_array_equal(index, expected_index)
  np.testing.assert_allclose(distance, np.take_along_axis(expected, expected_index, axis=1),
                             rtol=1e-5, atol=1e-5)


def test_blocked_top_k_with_fewer_references_than_k():
  distance, index = audit.blocked_top_k(np.eye(3, dtype=np.float32), [np.eye(3)[:2]], k=4)
  assert (index[:, 2:] == -1).all() and np.isinf(distance[:, 2:]).all()
  assert index[0, 0] == 0 and index[1, 0] == 1


def test_ssim_batch_equals_skimage():
  from skimage.metrics import structural_similarity
  rng = np.random.default_rng(0)
  a = rng.integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
  b = np.clip(a.astype(int) + rng.integers(-40, 40, size=a.shape), 0, 255).astype(np.uint8)
  expected = [structural_similarity(x, y, channel_axis=-1, win_size=audit.SSIM_WINDOW,
                                    data_range=255) for x, y in zip(a, b)]
  np.testing.assert_allclose(audit.ssim_batch(a, b), expected, rtol=1e-10, atol=1e-12)


def test_thresholds_follow_the_reference():
  # ImageNetV2 review targets: l2 1.2e8 (squared, 256x256x3 uint8), DSSIM 0.2205.
  assert audit.REFERENCE_RMS_TARGET == pytest.approx(0.0969, abs=1e-4)
  assert audit.L2_PIXEL_THRESHOLD == pytest.approx(0.0969 / 0.226, abs=1e-3)
  assert audit.SSIM_THRESHOLD == pytest.approx(0.559)
