"""ReaL at any operating point (tfds_bench.real_scores) against real.json."""

import numpy as np
import pytest

from tfds_bench import labels, metrics, real_scores

# Measured: at the default threshold every one of the 50,000 sets equals
# real.json's (rated images: classes with score >= 0.8; unrated images: the
# original label). The margin only absorbs a future re-release of the files.
MEASURED_AGREEMENT = 1.0
MARGIN = 1e-4

VAL_FILES = [f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(50000)]


def _as_sets(padded):
  return [frozenset(row[row >= 0].tolist()) for row in padded]


@pytest.fixture(scope="module")
def real_sets():
  return [frozenset(l) for l in labels.real_labels()]


@pytest.fixture(scope="module")
def predictions():
  """Top-5 indices that are often the original label, else random classes."""
  rng = np.random.default_rng(0)
  original = labels.val_labels()
  top5 = rng.integers(0, 1000, size=(50000, 5))
  top5[:, 0] = np.where(rng.random(50000) < 0.7, original, top5[:, 0])
  top5[:, 3] = np.where(rng.random(50000) < 0.5, original, top5[:, 3])
  return top5


def test_default_threshold_reproduces_real_json(real_sets):
  sets = _as_sets(real_scores.label_sets_at())
  agreement = np.mean([a == b for a, b in zip(sets, real_sets)])
  assert agreement >= MEASURED_AGREEMENT - MARGIN
  assert sum(not s for s in sets) == 3163  # README: 3163 empty lists.


def test_unrated_images_keep_the_original_label():
  table = real_scores._score_table()  # pylint: disable=protected-access
  unrated = np.flatnonzero(~table.rated)
  sets = real_scores.label_sets_at(0.99, [VAL_FILES[i] for i in unrated[:100]])
  np.testing.assert_array_equal(sets[:, 0], labels.val_labels()[unrated[:100]])
  assert (sets[:, 1:] == -1).all()


def test_sets_shrink_as_threshold_rises():
  low, high = real_scores.label_sets_at(0.3), real_scores.label_sets_at(0.95)
  for a, b in zip(_as_sets(low[:5000]), _as_sets(high[:5000])):
    assert b <= a


def test_file_names_select_rows_with_any_prefix():
  names = ["val/ILSVRC2012_val_00000003.JPEG", "ILSVRC2012_val_00000001.JPEG"]
  full = real_scores.label_sets_at(0.5)
  sub = real_scores.label_sets_at(0.5, names)
  assert _as_sets(sub) == [_as_sets(full[2:3])[0], _as_sets(full[0:1])[0]]


def test_bad_inputs_raise():
  with pytest.raises(ValueError, match="threshold"):
    real_scores.label_sets_at(1.5)
  with pytest.raises(ValueError, match="validation file name"):
    real_scores.label_sets_at(0.8, ["cat.jpg"])
  with pytest.raises(ValueError, match="unrated"):
    real_scores.soft_accuracy(np.zeros(1, int), VAL_FILES[:1], unrated="zero")


@pytest.mark.parametrize("threshold", [0.2, 0.8, 0.95])
@pytest.mark.parametrize("k", [1, 5])
def test_accuracy_at_matches_real_correct_on_the_sets(predictions, threshold, k):
  sets = real_scores.label_sets_at(threshold)
  correct, valid = metrics.real_correct(predictions, sets, k)
  expected = correct.sum() / valid.sum()
  assert real_scores.real_accuracy_at(predictions, VAL_FILES, threshold, k) == pytest.approx(
      expected, abs=1e-12)


def test_default_accuracy_is_real_accuracy(predictions):
  correct, valid = metrics.real_correct(predictions, labels.pad_label_lists(labels.real_labels()), 1)
  assert valid.sum() == 46837
  assert real_scores.real_accuracy_at(predictions, VAL_FILES) == correct.sum() / valid.sum()


def test_soft_accuracy_definition(predictions):
  table = real_scores._score_table()  # pylint: disable=protected-access
  lookup = {(int(key // 1000), int(key % 1000)): s for key, s in zip(table.keys, table.scores)}
  rows = np.arange(0, 50000, 7)
  top1 = predictions[rows, 0]
  names = [VAL_FILES[i] for i in rows]
  rated = table.rated[rows]
  expected = np.mean([lookup.get((int(i), int(c)), 0.0) for i, c in zip(rows[rated], top1[rated])])
  assert real_scores.soft_accuracy(top1, names) == pytest.approx(expected, abs=1e-12)
  original = labels.val_labels()[rows]
  with_unrated = np.where(rated, [lookup.get((int(i), int(c)), 0.0) for i, c in zip(rows, top1)],
                          top1 == original).mean()
  assert real_scores.soft_accuracy(top1, names, unrated="original_label") == pytest.approx(
      with_unrated, abs=1e-12)


def test_soft_accuracy_of_a_perfect_rater_is_high():
  # Predicting each image's best-scored class: the mean of the max scores.
  table = real_scores._score_table()  # pylint: disable=protected-access
  best = np.full(50000, -1)
  order = np.argsort(table.scores, kind="stable")
  best[table.keys[order] // 1000] = table.keys[order] % 1000
  rated = np.flatnonzero(table.rated)
  value = real_scores.soft_accuracy(best[rated], [VAL_FILES[i] for i in rated])
  assert value == pytest.approx(table.max_score[rated].mean())


def test_accuracy_curve_and_plot(predictions, tmp_path):
  thresholds = [0.1, 0.5, 0.8]
  curve = real_scores.accuracy_curve(predictions, VAL_FILES, thresholds)
  assert list(curve) == ["thresholds", "accuracy", "n"]
  np.testing.assert_allclose(curve["thresholds"], thresholds)
  assert curve["n"][2] == 46837
  assert np.all(np.diff(curve["n"]) <= 0)
  for t, a in zip(thresholds, curve["accuracy"]):
    assert a == pytest.approx(real_scores.real_accuracy_at(predictions, VAL_FILES, t))
  path = real_scores.plot_accuracy_curve({"model": curve}, str(tmp_path / "curve.png"))
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
