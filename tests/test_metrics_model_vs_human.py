"""model-vs-human metrics against independent computations on synthetic trials."""

import json

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from tfds_bench import labels
from tfds_bench import metrics
from tfds_bench.metrics import model_vs_human

LABEL_SPACE = labels.data_path("label_spaces/model_vs_human_16.json")


def _members():
  with open(LABEL_SPACE) as f:
    space = json.load(f)
  return [c["imagenet_indices"] for c in space["classes"]]


def test_label_space_file():
  with open(LABEL_SPACE) as f:
    space = json.load(f)
  names = [c["name"] for c in space["classes"]]
  assert names == sorted(names) and len(names) == 16
  members = _members()
  assert sum(len(m) for m in members) == 207
  flat = [i for m in members for i in m]
  assert len(set(flat)) == 207 and 0 <= min(flat) and max(flat) < 1000
  wnids = labels.wnids()
  # Spot checks in the sorted-wnid convention: knife, oven, airplane.
  assert [wnids[i] for i in members[names.index("knife")]] == ["n03041632"]
  assert [wnids[i] for i in members[names.index("oven")]] == ["n04111531"]
  assert [wnids[i] for i in members[names.index("airplane")]] == ["n02690373"]


def _probabilities(n, seed=0):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(n, 1000)) * 2
  probabilities = np.exp(logits)
  return (probabilities / probabilities.sum(axis=1, keepdims=True)).astype(np.float32)


def test_decisions_equal_a_direct_loop():
  members = _members()
  probabilities = _probabilities(50)
  got = metrics.sixteen_class_decisions(probabilities, members)
  for row, decision in zip(probabilities, got):
    means = [float(np.mean([row[i] for i in m])) for m in members]
    assert decision == int(np.argmax(means))
    np.testing.assert_allclose(
        metrics.category_probabilities(row[None], members)[0], means, rtol=1e-6)


def test_mean_not_max_and_not_sum():
  members = [[0], [1, 2]]
  probabilities = np.zeros((1, 1000))
  probabilities[0, :3] = [0.3, 0.5, 0.0]
  assert metrics.sixteen_class_decisions(probabilities, members).tolist() == [0]


def _direct_shape_bias(decisions, shapes, textures):
  shape_hits = texture_hits = 0
  for d, s, t in zip(decisions, shapes, textures):
    if s == t:
      continue
    shape_hits += d == s
    texture_hits += d == t
  return shape_hits / (shape_hits + texture_hits)


def test_shape_bias_equals_direct_count():
  rng = np.random.default_rng(1)
  names = np.array(["cat", "dog", "car", "knife", "na"])
  shapes = rng.choice(names[:4], 300)
  textures = rng.choice(names[:4], 300)
  decisions = rng.choice(names, 300)
  assert metrics.shape_bias(decisions, shapes, textures) == pytest.approx(
      _direct_shape_bias(decisions, shapes, textures), abs=1e-15)
  per_category = metrics.shape_bias_per_category(decisions, shapes, textures,
                                                 ["car", "cat", "dog", "knife"])
  for value, category in zip(per_category, ["car", "cat", "dog", "knife"]):
    keep = shapes == category
    assert value == pytest.approx(_direct_shape_bias(decisions[keep], shapes[keep],
                                                     textures[keep]), abs=1e-15)


def test_shape_bias_edge_cases():
  assert metrics.shape_bias([0, 1], [0, 1], [1, 0]) == 1.0
  assert metrics.shape_bias([1, 0], [0, 1], [1, 0]) == 0.0
  # No conflict trials (shape == texture): undefined.
  assert np.isnan(metrics.shape_bias([0], [0], [0]))
  with pytest.raises(ValueError, match="one length"):
    metrics.shape_bias([0, 1], [0], [1])


def test_error_consistency_is_cohens_kappa():
  rng = np.random.default_rng(2)
  for p_a, p_b in [(0.5, 0.5), (0.9, 0.3), (0.2, 0.7)]:
    a = rng.random(200) < p_a
    b = np.where(rng.random(200) < 0.5, a, rng.random(200) < p_b)
    expected = sk_metrics.cohen_kappa_score(a, b)
    assert metrics.error_consistency(a, b) == pytest.approx(expected, abs=1e-12)
    direct_obs = sum(x == y for x, y in zip(a, b)) / 200
    assert metrics.observed_consistency(a, b) == pytest.approx(direct_obs, abs=1e-15)
    assert metrics.accuracy_difference(a, b) == pytest.approx(
        (a.mean() - b.mean()) ** 2, abs=1e-15)


def test_error_consistency_edges():
  same = np.array([True, False, True])
  assert metrics.error_consistency(same, same) == 1.0
  assert metrics.error_consistency(np.ones(4, bool), np.ones(4, bool)) == 1.0
  assert metrics.error_consistency(same, ~same) == pytest.approx(
      sk_metrics.cohen_kappa_score(same, ~same))
  with pytest.raises(ValueError, match="boolean"):
    metrics.error_consistency([1, 0], [1, 0])
  with pytest.raises(ValueError, match="same trials"):
    metrics.error_consistency(np.ones(3, bool), np.ones(2, bool))


def test_pairwise_equals_pair_functions():
  rng = np.random.default_rng(3)
  a = rng.random((3, 40)) < 0.6
  b = rng.random((4, 40)) < 0.4
  b[0] = a[0]
  for name, function in model_vs_human.PAIR_METRICS.items():
    matrix = metrics.pairwise(name, a, b)
    for i in range(3):
      for j in range(4):
        assert matrix[i, j] == pytest.approx(function(a[i], b[j]), abs=1e-12)


def test_subject_and_human_means():
  rng = np.random.default_rng(4)
  subjects = rng.random((4, 30)) < 0.7
  model = rng.random(30) < 0.5
  assert metrics.subject_mean(metrics.error_consistency, model, subjects) == pytest.approx(
      np.mean([sk_metrics.cohen_kappa_score(model, s) for s in subjects]))
  pairs = [sk_metrics.cohen_kappa_score(subjects[i], subjects[j])
           for i in range(4) for j in range(i + 1, 4)]
  assert metrics.human_pairs_mean(metrics.error_consistency, subjects) == pytest.approx(
      np.mean(pairs))
  with pytest.raises(ValueError, match="two subjects"):
    metrics.human_pairs_mean(metrics.error_consistency, subjects[:1])


def test_two_level_bootstrap():
  rng = np.random.default_rng(5)
  subjects = rng.random((5, 80)) < 0.7
  model = rng.random(80) < 0.6

  def statistic(images, chosen):
    return metrics.pairwise("error_consistency", model[None, images],
                            subjects[chosen][:, images]).mean()

  low, high = metrics.two_level_bootstrap_interval(statistic, 80, 5, resamples=200)
  value = statistic(np.arange(80), np.arange(5))
  assert low <= value <= high and low < high
  assert (low, high) == metrics.two_level_bootstrap_interval(statistic, 80, 5, resamples=200)


def test_keras_metrics_equal_numpy():
  tf = pytest.importorskip("tensorflow")
  members = _members()
  probabilities = _probabilities(37, seed=6)
  decisions = metrics.sixteen_class_decisions(probabilities, members)
  rng = np.random.default_rng(7)
  categories = np.where(rng.random(37) < 0.5, decisions, rng.integers(0, 16, 37))
  textures = np.where(rng.random(37) < 0.5, decisions, rng.integers(0, 16, 37))
  accuracy = metrics.SixteenClassAccuracy(members=members)
  bias = metrics.ShapeBias(members=members)
  for start in range(0, 37, 16):
    chunk = slice(start, start + 16)
    pad = 16 - len(categories[chunk])
    weight = np.r_[np.ones(16 - pad), np.zeros(pad)]
    probs = np.concatenate([probabilities[chunk], np.full((pad, 1000), 0.5, np.float32)])
    y = np.r_[categories[chunk], np.zeros(pad, int)]
    accuracy.update_state(tf.constant(y), tf.constant(probs), sample_weight=weight)
    pairs = np.stack([y, np.r_[textures[chunk], np.ones(pad, int)]], axis=1)
    bias.update_state(tf.constant(pairs), tf.constant(probs), sample_weight=weight)
  assert float(accuracy.result()) == np.mean(decisions == categories)
  assert float(bias.result()) == pytest.approx(
      metrics.shape_bias(decisions, categories, textures), abs=1e-12)
  clone = metrics.ShapeBias.from_config(bias.get_config())
  assert clone.members == members
  assert metrics.SixteenClassAccuracy().members == members  # the label space by default
