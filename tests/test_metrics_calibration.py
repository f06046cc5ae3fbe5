"""Calibration metrics against loop references and hand fixtures."""

import math

import numpy as np
import pytest

from tfds_bench import metrics


def _ece_loop(confidence, correct, num_bins=15):
  # robustness_metrics: bin = min(floor(num_bins * c), num_bins - 1).
  bins = [[] for _ in range(num_bins)]
  for c, ok in zip(confidence, correct):
    bins[min(int(math.floor(float(c) * num_bins)), num_bins - 1)].append((float(c), bool(ok)))
  total = len(confidence)
  ece = 0.0
  for members in bins:
    if members:
      accuracy = sum(ok for _, ok in members) / len(members)
      mean_conf = sum(c for c, _ in members) / len(members)
      ece += len(members) / total * abs(accuracy - mean_conf)
  return ece


def _rms_loop(confidence, correct, beta=100, include_last=False):
  # Hendrycks calib_err(p='2'), written as one pass over sorted examples.
  pairs = sorted(zip(confidence.tolist(), correct.tolist()), key=lambda p: p[0])
  n = len(pairs)
  num_bins = n // beta
  bin_of = [min(i // beta, num_bins - 1) for i in range(n)]
  sums = {}
  for (c, ok), b in zip(pairs, bin_of):
    s = sums.setdefault(b, [0, 0.0, 0.0])
    s[0] += 1
    s[1] += c
    s[2] += ok
  total = 0.0
  for b, (count, conf_sum, ok_sum) in sums.items():
    if b == num_bins - 1 and not include_last:
      continue
    total += count / n * (conf_sum / count - ok_sum / count) ** 2
  return math.sqrt(total)


def _random_case(seed, n=2345):
  rng = np.random.default_rng(seed)
  confidence = rng.beta(5, 2, n)
  correct = rng.random(n) < confidence ** 1.5
  return confidence, correct


def test_ece_matches_loop():
  confidence, correct = _random_case(0)
  for num_bins in (15, 10):
    assert metrics.expected_calibration_error(confidence, correct, num_bins) == pytest.approx(
        _ece_loop(confidence, correct, num_bins), rel=1e-12)


def test_ece_fixtures():
  assert metrics.expected_calibration_error(np.full(10, 0.95), np.ones(10, bool)) == (
      pytest.approx(0.05))
  # Perfectly calibrated within each bin.
  confidence = np.array([0.5, 0.5, 1.0, 1.0])
  assert metrics.expected_calibration_error(confidence, [True, False, True, True]) == 0.0
  assert np.isnan(metrics.expected_calibration_error(np.zeros(0), np.zeros(0, bool)))
  with pytest.raises(ValueError):
    metrics.expected_calibration_error(np.array([1.5]), np.array([True]))


def test_bin_edges_left_closed_last_bin_holds_one():
  np.testing.assert_array_equal(
      metrics.equal_width_bin_index(np.array([0.0, 0.5, 0.999, 1.0]), 15), [0, 7, 14, 14])
  np.testing.assert_array_equal(
      metrics.equal_width_bin_index(np.array([0.1, 0.2, 0.3]), 10), [1, 2, 3])


def test_reliability_diagram_consistent_with_ece():
  confidence, correct = _random_case(1)
  diagram = metrics.reliability_diagram(confidence, correct)
  assert diagram["bin_edges"].shape == (16,)
  assert diagram["bin_count"].sum() == confidence.size
  nonempty = diagram["bin_count"] > 0
  weights = diagram["bin_count"][nonempty] / confidence.size
  gaps = np.abs(diagram["bin_accuracy"] - diagram["bin_confidence"])[nonempty]
  assert np.sum(weights * gaps) == pytest.approx(
      metrics.expected_calibration_error(confidence, correct), rel=1e-12)
  assert np.isnan(diagram["bin_accuracy"][~nonempty]).all()


@pytest.mark.parametrize("n", [100, 199, 250, 2345])
def test_rms_matches_reference_loop(n):
  confidence, correct = _random_case(2, n)
  assert metrics.rms_calibration_error(confidence, correct) == pytest.approx(
      _rms_loop(confidence, correct), rel=1e-12, abs=1e-15)
  assert metrics.rms_calibration_error(confidence, correct, include_last_bin=True) == (
      pytest.approx(_rms_loop(confidence, correct, include_last=True), rel=1e-12))


def test_rms_fixture_skips_last_bin_like_reference():
  # 250 examples: bins [0, 100) and [100, 250); the reference sums only the first.
  confidence = np.concatenate([np.full(100, 0.3), np.full(150, 0.9)])
  correct = np.concatenate([np.zeros(100, bool), np.ones(150, bool)])
  assert metrics.rms_calibration_error(confidence, correct) == pytest.approx(
      math.sqrt(100 / 250 * 0.3 ** 2))
  assert metrics.rms_calibration_error(confidence, correct, include_last_bin=True) == (
      pytest.approx(math.sqrt(100 / 250 * 0.09 + 150 / 250 * 0.01)))
  with pytest.raises(ValueError, match="at least 100"):
    metrics.rms_calibration_error(np.full(99, 0.5), np.ones(99, bool))


def test_softmax_confidence_subset_and_probabilities():
  rng = np.random.default_rng(3)
  logits = rng.normal(size=(20, 30)) * 3
  subset = np.array([2, 5, 7, 11, 29])
  confidence, top1 = metrics.softmax_confidence(logits, from_logits=True, class_subset=subset)
  sub = logits[:, subset]
  expected = np.exp(sub).max(1) / np.exp(sub).sum(1)
  np.testing.assert_allclose(confidence, expected, rtol=1e-13)
  np.testing.assert_array_equal(top1, subset[np.argmax(sub, 1)])
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  confidence_p, top1_p = metrics.softmax_confidence(probs, from_logits=False,
                                                    class_subset=subset)
  np.testing.assert_allclose(confidence_p, expected, rtol=1e-12)
  np.testing.assert_array_equal(top1_p, top1)
  full, _ = metrics.softmax_confidence(probs, from_logits=False)
  np.testing.assert_array_equal(full, probs.max(1))
