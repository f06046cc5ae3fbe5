"""Accuracy metrics against independent loop references and hand fixtures."""

import numpy as np
import pytest

from tfds_bench import labels as labels_lib
from tfds_bench import label_spaces
from tfds_bench import metrics


def _ranked_loop(row, k):
  # Reference ranking: sort (score desc, index asc) with Python's sort.
  return [i for _, i in sorted(((-float(s), i) for i, s in enumerate(row)))][:k]


def _tied_scores(rng, n, c):
  # Few distinct values, so ties are everywhere.
  return rng.integers(0, 4, size=(n, c)).astype(np.float32)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_indices_matches_loop_with_ties(k):
  rng = np.random.default_rng(0)
  scores = _tied_scores(rng, 60, 12)
  expected = np.array([_ranked_loop(row, k) for row in scores])
  np.testing.assert_array_equal(metrics.top_k_indices(scores, k), expected)


def test_top_k_tie_rule_lower_index_wins():
  scores = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
  np.testing.assert_array_equal(metrics.top_k_indices(scores, 2), [[1, 2], [0, 1]])
  np.testing.assert_array_equal(metrics.top_k_indices(scores, 1), [[1], [0]])


def test_topk_correct_matches_loop():
  rng = np.random.default_rng(1)
  scores = rng.normal(size=(300, 20))
  labels = rng.integers(0, 20, 300)
  for k in (1, 5):
    expected = [labels[i] in _ranked_loop(scores[i], k) for i in range(300)]
    np.testing.assert_array_equal(metrics.topk_correct(scores, labels, k), expected)
    # Top-k indices given directly give the same answer; [N, 1] labels too.
    topk = metrics.top_k_indices(scores, 5)
    np.testing.assert_array_equal(metrics.topk_correct(topk, labels[:, None], k), expected)


def test_topk_correct_needs_enough_indices():
  with pytest.raises(ValueError, match="top-5"):
    metrics.topk_correct(np.zeros((3, 1), np.int64), np.zeros(3, np.int64), 5)


def test_real_correct_fixture():
  topk = np.array([[3, 1, 2, 0, 4],
                   [3, 1, 2, 0, 4],
                   [3, 1, 2, 0, 4],
                   [9, 8, 7, 6, 5]])
  label_lists = [[3], [1, 7], [], [5]]
  correct1, valid = metrics.real_correct(topk, label_lists, 1)
  np.testing.assert_array_equal(valid, [True, True, False, True])
  np.testing.assert_array_equal(correct1, [True, False, False, False])
  correct5, _ = metrics.real_correct(topk, labels_lib.pad_label_lists(label_lists, 4), 5)
  np.testing.assert_array_equal(correct5, [True, True, False, True])
  assert correct1.sum() / valid.sum() == pytest.approx(1 / 3)


def test_real_correct_on_shipped_labels_matches_readme_definition():
  rng = np.random.default_rng(2)
  real = labels_lib.real_labels()[:2000]
  scores = rng.normal(size=(len(real), 1000)).astype(np.float32)
  # Put the first ReaL label on top for about half the images.
  for i, lst in enumerate(real):
    if lst and i % 2 == 0:
      scores[i, lst[0]] = 100.0
  predictions = np.argmax(scores, -1)
  # The README: [pred in real_labels[i] for i, pred in enumerate(predictions) if real_labels[i]]
  is_correct = [pred in real[i] for i, pred in enumerate(predictions) if real[i]]
  correct, valid = metrics.real_correct(scores, labels_lib.pad_label_lists(real), 1)
  assert valid.sum() == len(is_correct)
  assert correct.sum() / valid.sum() == np.mean(is_correct)
  top5 = metrics.top_k_indices(scores, 5)
  expected5 = [any(p in real[i] for p in top5[i]) for i in range(len(real)) if real[i]]
  correct5, _ = metrics.real_correct(scores, labels_lib.pad_label_lists(real), 5)
  assert correct5[valid].tolist() == expected5


def test_subset_top_k_ranks_only_subset_logits():
  subset = label_spaces.get("imagenet_a").imagenet_indices
  rng = np.random.default_rng(3)
  scores = rng.normal(size=(50, 1000))
  outside = np.setdiff1d(np.arange(1000), subset)
  scores[:, outside[0]] = 50.0  # 1000-way argmax lies outside the subset
  for k in (1, 5):
    got = metrics.subset_top_k(scores, subset, k)
    expected = [[subset[j] for j in _ranked_loop(row[subset], k)] for row in scores]
    np.testing.assert_array_equal(got, expected)
    assert np.isin(got, subset).all()
  # Ties inside the subset: lower 1000-class index first.
  tied = np.zeros((1, 1000))
  np.testing.assert_array_equal(metrics.subset_top_k(tied, subset, 2), [subset[:2]])


def _multilabel_loop(top1, correct, unclear, original, problematic, lenient=True):
  # Transcription of the TFDS imagenet2012_multilabel README snippet.
  num_correct, num_images = {}, {}
  for i in range(len(top1)):
    if problematic[i]:
      continue
    c = original[i]
    num_correct.setdefault(c, 0)
    num_images[c] = num_images.get(c, 0) + 1
    accepted = list(correct[i]) + (list(unclear[i]) if lenient else [])
    if top1[i] in accepted:
      num_correct[c] += 1
  return np.mean([num_correct[c] / num_images[c] for c in num_images]), num_correct, num_images


def test_multilabel_fixture_known_answer():
  top1 = np.array([5, 6, 7, 5, 9, 9])
  correct = [[5], [5], [8], [5, 9], [9], [1]]
  unclear = [[], [6], [], [], [], []]
  original = np.array([0, 0, 1, 1, 1, 2])
  problematic = np.array([False, False, False, False, False, True])
  result = metrics.multilabel_accuracy(top1, correct, unclear, original, problematic)
  # class 0: 2/2 (one via unclear), class 1: 2/3, class 2: only problematic -> absent.
  assert result["class_mean"] == pytest.approx((1.0 + 2 / 3) / 2)
  assert result["image_mean"] == pytest.approx(4 / 5)
  assert result["correct_only_class_mean"] == pytest.approx((0.5 + 2 / 3) / 2)
  assert result["n"] == 5


def test_multilabel_matches_tfds_snippet_random():
  rng = np.random.default_rng(4)
  n, c = 400, 30
  original = rng.integers(0, c, n)
  top1 = np.where(rng.random(n) < 0.5, original, rng.integers(0, c, n))
  correct = [sorted(set([o] + list(rng.integers(0, c, rng.integers(0, 3))))) for o in original]
  unclear = [list(rng.integers(0, c, rng.integers(0, 2))) for _ in range(n)]
  problematic = rng.random(n) < 0.2
  result = metrics.multilabel_accuracy(top1, correct, unclear, original, problematic)
  expected, num_correct, num_images = _multilabel_loop(top1, correct, unclear, original,
                                                       problematic)
  assert result["class_mean"] == pytest.approx(expected, rel=1e-12)
  assert result["image_mean"] == pytest.approx(
      sum(num_correct.values()) / sum(num_images.values()), rel=1e-12)
  strict, _, _ = _multilabel_loop(top1, correct, unclear, original, problematic, lenient=False)
  assert result["correct_only_class_mean"] == pytest.approx(strict, rel=1e-12)
  assert result["n"] == int((~problematic).sum())
  # Scores instead of top-1 indices give the same.
  scores = np.zeros((n, c))
  scores[np.arange(n), top1] = 1.0
  assert metrics.multilabel_accuracy(scores, correct, unclear, original,
                                     problematic) == result


def test_multilabel_all_problematic_is_nan():
  result = metrics.multilabel_accuracy(np.array([1]), [[1]], [[]], np.array([1]),
                                       np.array([True]))
  assert result["n"] == 0 and np.isnan(result["class_mean"])


def test_encode_multilabel_targets_layout():
  encoded = metrics.encode_multilabel_targets(
      np.array([3, 4]), np.array([False, True]), [[3, 5], [4]], [[6], []], width=6)
  np.testing.assert_array_equal(encoded, [[3, 0, 3, 5, 1006, -1], [4, 1, 4, -1, -1, -1]])
