"""OOD metrics against sklearn and independent loop references."""

import numpy as np
import pytest
from sklearn import metrics as skm

from tfds_bench import label_spaces
from tfds_bench import metrics


def _ap_loop(scores, is_ood):
  # Step-wise AP: one threshold per distinct score, from high to low.
  positives = sum(is_ood)
  ap, tp, fp, previous_recall = 0.0, 0, 0, 0.0
  for threshold in sorted(set(scores.tolist()), reverse=True):
    for s, y in zip(scores, is_ood):
      if s == threshold:
        tp += int(y)
        fp += int(not y)
    recall = tp / positives
    ap += (recall - previous_recall) * tp / (tp + fp)
    previous_recall = recall
  return ap


def _auroc_loop(scores, is_ood):
  pos = [s for s, y in zip(scores, is_ood) if y]
  neg = [s for s, y in zip(scores, is_ood) if not y]
  wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
  return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("tied", [False, True])
def test_aupr_auroc_match_sklearn_and_loops(tied):
  rng = np.random.default_rng(0 + tied)
  n = 300
  is_ood = rng.random(n) < 0.3
  scores = rng.normal(size=n) + is_ood
  if tied:
    scores = np.round(scores, 1)
  ap = metrics.aupr(scores, is_ood)
  assert ap == pytest.approx(skm.average_precision_score(is_ood, scores), rel=1e-12)
  assert ap == pytest.approx(_ap_loop(scores, is_ood), rel=1e-12)
  roc = metrics.auroc(scores, is_ood)
  assert roc == pytest.approx(skm.roc_auc_score(is_ood, scores), rel=1e-12)
  assert roc == pytest.approx(_auroc_loop(scores, is_ood), rel=1e-12)


def test_hand_fixture():
  scores = np.array([0.9, 0.8, 0.8, 0.1])
  is_ood = np.array([1, 0, 1, 0])
  # Thresholds 0.9 (P=1, R=1/2), 0.8 (P=2/3, R=1): AP = 1/2 + 1/2 * 2/3.
  assert metrics.aupr(scores, is_ood) == pytest.approx(0.5 + 1 / 3)
  # Pairs: (0.9>0.8), (0.9>0.1), (0.8=0.8 -> 1/2), (0.8>0.1) = 3.5 / 4.
  assert metrics.auroc(scores, is_ood) == pytest.approx(3.5 / 4)
  with pytest.raises(ValueError):
    metrics.aupr(scores, np.zeros(4))
  with pytest.raises(ValueError):
    metrics.auroc(scores, np.ones(4))


def test_ood_scores_softmax_over_subset_only():
  subset = label_spaces.get("imagenet_o").imagenet_indices
  rng = np.random.default_rng(2)
  logits = rng.normal(size=(10, 1000)) * 2
  logits[:, 0] = 30.0  # dominant class outside ImageNet-O's 200
  assert 0 not in subset
  sub = logits[:, subset]
  expected = -(np.exp(sub).max(1) / np.exp(sub).sum(1))
  np.testing.assert_allclose(metrics.ood_scores(logits, from_logits=True, class_subset=subset),
                             expected, rtol=1e-13)
  np.testing.assert_allclose(metrics.ood_scores(sub, from_logits=True), expected, rtol=1e-13)
  assert np.all(expected < 0) and np.all(expected >= -1)


def test_histogram_equals_sklearn_on_quantised_scores():
  rng = np.random.default_rng(3)
  n, num_bins = 500, 64
  is_ood = rng.random(n) < 0.4
  confidence = rng.beta(2, 2, n)
  positives, negatives = metrics.confidence_histogram(confidence, is_ood, num_bins)
  quantised = -np.minimum(np.floor(confidence * num_bins), num_bins - 1)
  assert metrics.average_precision_from_histogram(positives, negatives) == pytest.approx(
      skm.average_precision_score(is_ood, quantised), rel=1e-12)
  assert metrics.auroc_from_histogram(positives, negatives) == pytest.approx(
      skm.roc_auc_score(is_ood, quantised), rel=1e-12)
