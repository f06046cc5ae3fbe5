"""mCE, relative mCE, flip probability, top-5 distance, mFP and mT5D."""

import numpy as np
import pytest
from scipy.stats import rankdata

from tfds_bench import metrics

ALEXNET = metrics.alexnet_imagenet_c()


def test_alexnet_table_loaded():
  assert set(metrics.TEST_CORRUPTIONS) <= set(ALEXNET.errors)
  assert len(metrics.TEST_CORRUPTIONS) == 15
  assert ALEXNET.errors["gaussian_noise"] == 0.886428
  assert ALEXNET.clean_error == 0.4348


def test_mce_fixture():
  same = {c: [ALEXNET.errors[c]] * 5 for c in metrics.TEST_CORRUPTIONS}
  assert metrics.mce(same) == pytest.approx(1.0)
  half = {c: [e / 2 for e in v] for c, v in same.items()}
  half["speckle_noise"] = [0.9] * 5  # held-out corruptions are not in mCE
  assert metrics.mce(half) == pytest.approx(0.5)
  assert metrics.relative_mce(same, clean_error=ALEXNET.clean_error) == pytest.approx(1.0)


def test_mce_matches_sum_ratio_definition():
  rng = np.random.default_rng(0)
  errors = {c: list(rng.uniform(0.2, 0.9, 5)) for c in metrics.TEST_CORRUPTIONS}
  alexnet = {c: list(rng.uniform(0.5, 0.95, 5)) for c in metrics.TEST_CORRUPTIONS}
  clean, alexnet_clean = 0.25, 0.43
  # Paper: CE = sum_s E / sum_s E^AlexNet; relative with 5 * clean subtracted.
  ce = [sum(errors[c]) / sum(alexnet[c]) for c in metrics.TEST_CORRUPTIONS]
  assert metrics.mce(errors, alexnet) == pytest.approx(sum(ce) / 15, rel=1e-12)
  rel = [(sum(errors[c]) - 5 * clean) / (sum(alexnet[c]) - 5 * alexnet_clean)
         for c in metrics.TEST_CORRUPTIONS]
  assert metrics.relative_mce(errors, clean, alexnet, alexnet_clean) == pytest.approx(
      sum(rel) / 15, rel=1e-12)
  # Severities as a mapping give the same.
  as_map = {c: dict(zip(range(1, 6), v)) for c, v in errors.items()}
  assert metrics.mce(as_map, alexnet) == metrics.mce(errors, alexnet)


def test_mce_over_other_corruptions_needs_their_baseline():
  """ImageNet-C-bar's 10 (or any set): the same definitions with a given
  baseline; the shipped AlexNet errors are ImageNet-C's only."""
  from tfds_bench import corruptions  # pylint: disable=g-import-not-at-top
  names = corruptions.C_BAR_NAMES
  rng = np.random.default_rng(1)
  errors = {c: list(rng.uniform(0.2, 0.9, 5)) for c in names}
  baseline = {c: float(rng.uniform(0.5, 0.95)) for c in names}
  clean, baseline_clean = 0.3, 0.45
  ce = [np.mean(errors[c]) / baseline[c] for c in names]
  assert metrics.mce(errors, baseline, names) == pytest.approx(np.mean(ce), rel=1e-12)
  rel = [(np.mean(errors[c]) - clean) / (baseline[c] - baseline_clean) for c in names]
  assert metrics.relative_mce(errors, clean, baseline, baseline_clean, names) == pytest.approx(
      np.mean(rel), rel=1e-12)
  with pytest.raises(ValueError, match="shipped AlexNet errors are ImageNet-C's"):
    metrics.mce(errors, None, names)
  with pytest.raises(ValueError, match="baseline error missing for sparkles"):
    metrics.mce(errors, {c: v for c, v in baseline.items() if c != "sparkles"}, names)


def test_mce_missing_corruption_or_severity_raises():
  errors = {c: [0.5] * 5 for c in metrics.TEST_CORRUPTIONS}
  del errors["fog"]
  with pytest.raises(ValueError, match="fog"):
    metrics.mce(errors)
  errors["fog"] = [0.5] * 4
  with pytest.raises(ValueError, match="fog"):
    metrics.mce(errors)
  errors["fog"] = {1: 0.5, 2: 0.5, 3: 0.5, 5: 0.5, 6: 0.5}
  with pytest.raises(ValueError, match=r"missing severities \[4\]"):
    metrics.mce(errors)


def test_corruption_errors():
  labels = np.array([0, 1, 2, 3])
  predictions = np.array([[0, 1, 2, 3], [0, 1, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0],
                          [1, 0, 0, 0]])
  assert metrics.corruption_errors({"fog": predictions}, labels) == {
      "fog": [0.0, 0.25, 0.5, 0.75, 1.0]}
  with pytest.raises(ValueError):
    metrics.corruption_errors({"fog": predictions[:4]}, labels)


# ---- ImageNet-P: transcriptions of hendrycks/robustness ImageNet-P/test.py ----

def _reference_flip_prob(predictions, noise, difficulty):
  result = 0
  step_size = 1 if noise else difficulty
  for vid_preds in predictions:
    result_for_vid = []
    for i in range(step_size):
      prev_pred = vid_preds[i]
      for pred in vid_preds[i::step_size][1:]:
        result_for_vid.append(int(prev_pred != pred))
        if not noise:
          prev_pred = pred
    result += np.mean(result_for_vid) / len(predictions)
  return result


def _reference_ranking_dist(ranks, noise, difficulty, num_classes):
  cum_sum_top5 = np.cumsum(np.asarray([0] + [1] * 5 + [0] * (num_classes - 1 - 5)))

  def dist(sigma):
    return np.sum(np.abs(cum_sum_top5[:5] - cum_sum_top5[sigma - 1][:5]))

  result = 0
  step_size = 1 if noise else difficulty
  for vid_ranks in ranks:
    result_for_vid = []
    for i in range(step_size):
      perm1 = vid_ranks[i]
      perm1_inv = np.argsort(perm1)
      for rank in vid_ranks[i::step_size][1:]:
        perm2 = rank
        result_for_vid.append(dist(perm2[perm1_inv]))
        if not noise:
          perm1 = perm2
          perm1_inv = np.argsort(perm1)
    result += np.mean(result_for_vid) / len(ranks)
  return result


@pytest.mark.parametrize("perturbation", ["gaussian_noise", "speckle_noise", "rotate", "snow"])
@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_flip_probability_matches_reference(perturbation, difficulty):
  rng = np.random.default_rng(difficulty)
  predictions = rng.integers(0, 3, size=(7, 31))
  expected = _reference_flip_prob(predictions, "noise" in perturbation, difficulty)
  assert metrics.flip_probability(predictions, perturbation, difficulty) == pytest.approx(
      expected, rel=1e-12)


def test_flip_probability_fixture():
  video = np.array([[1, 2, 1, 1]])
  # Sequential: pairs (1,2) (2,1) (1,1) -> 2/3; noise: vs first: 2!=1, 1, 1 -> 1/3.
  assert metrics.flip_probability(video, "translate") == pytest.approx(2 / 3)
  assert metrics.flip_probability(video, "shot_noise") == pytest.approx(1 / 3)
  # Difficulty 2, sequential: pairs (0,2) (1,3) -> 1==1, 2!=1 -> 1/2.
  assert metrics.flip_probability(video, "tilt", difficulty=2) == pytest.approx(0.5)
  # Per-video mean first, then over videos (ragged videos allowed).
  videos = [np.array([1, 2]), np.array([1, 1, 1, 1, 1])]
  assert metrics.flip_probability(videos, "scale") == pytest.approx(0.5)
  with pytest.raises(ValueError, match="unknown perturbation"):
    metrics.flip_probability(video, "fog")


@pytest.mark.parametrize("perturbation", ["shot_noise", "zoom_blur"])
@pytest.mark.parametrize("difficulty", [1, 2])
def test_top5_distance_matches_reference_ranks(perturbation, difficulty):
  rng = np.random.default_rng(10 + difficulty)
  num_classes = 12
  # Few distinct logit values: plenty of ties, resolved like rankdata 'ordinal'.
  logits = rng.integers(0, 6, size=(5, 16, num_classes)).astype(np.float32)
  ranks = np.array([[rankdata(-frame, method="ordinal") for frame in vid] for vid in logits])
  expected = _reference_ranking_dist(ranks, "noise" in perturbation, difficulty, num_classes)
  top5 = np.stack([metrics.top_k_indices(vid, 5) for vid in logits])
  assert metrics.top5_distance(top5, perturbation, difficulty) == pytest.approx(
      expected, rel=1e-12)


def test_top5_pair_distance_fixture():
  same = np.array([[0, 1, 2, 3, 4]])
  assert metrics.top5_pair_distance(same, same)[0] == 0
  swapped = np.array([[1, 0, 2, 3, 4]])
  assert metrics.top5_pair_distance(same, swapped)[0] == 2
  disjoint = np.array([[5, 6, 7, 8, 9]])
  assert metrics.top5_pair_distance(same, disjoint)[0] == 5 + 4 + 3 + 2 + 1


def test_mean_flip_rate_and_mt5d():
  fp = {p: 0.1 * (i + 1) for i, p in enumerate(metrics.TEST_PERTURBATIONS)}
  fp["shear"] = 0.99  # held out: not in the mean
  assert metrics.mean_flip_rate(fp) == pytest.approx(0.55)
  alexnet = {p: 2 * fp[p] for p in metrics.TEST_PERTURBATIONS}
  assert metrics.mean_flip_rate(fp, alexnet) == pytest.approx(0.5)
  assert metrics.mt5d(fp, alexnet) == pytest.approx(0.5)
  assert metrics.mfp is metrics.mean_flip_rate
  del fp["tilt"]
  with pytest.raises(ValueError, match="tilt"):
    metrics.mean_flip_rate(fp)
  with pytest.raises(ValueError, match="AlexNet"):
    metrics.mean_top5_distance({p: 1.0 for p in metrics.TEST_PERTURBATIONS}, {"rotate": 1.0})
