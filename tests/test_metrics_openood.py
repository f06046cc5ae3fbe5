"""OpenOOD v1.5's OOD figures (tfds_bench.metrics.openood) against scikit-learn.

The reference is OpenOOD's own computation (openood/evaluators/metrics.py,
``auc_and_fpr_recall`` and ``fpr_recall``) written out with scikit-learn on
the pooled scores; the module under test uses numpy only.
"""

import numpy as np
import pytest
from sklearn import metrics as skm

from tfds_bench import metrics
from tfds_bench.metrics import openood


def openood_reference(id_scores, ood_scores):
  conf = np.concatenate([id_scores, ood_scores]).astype(np.float64)
  ood = np.concatenate([np.zeros(len(id_scores), int), np.ones(len(ood_scores), int)])
  fpr, tpr, _ = skm.roc_curve(ood, -conf)
  precision_in, recall_in, _ = skm.precision_recall_curve(1 - ood, conf)
  precision_out, recall_out, _ = skm.precision_recall_curve(ood, -conf)
  fpr_id, tpr_id, _ = skm.roc_curve(1 - ood, conf)
  return {
      "auroc": skm.auc(fpr, tpr),
      "aupr_in": skm.auc(recall_in, precision_in),
      "aupr_out": skm.auc(recall_out, precision_out),
      "fpr95_openood": fpr[np.argmax(tpr >= 0.95)],
      "fpr95_odin": fpr_id[np.argmax(tpr_id >= 0.95)],
  }


def _random_pair(rng, case):
  n_id, n_ood = rng.integers(1, 80, 2)
  if case % 3 == 0:  # few distinct values: ties within and across the sides
    levels = int(rng.integers(1, 6))
    return rng.integers(0, levels, n_id) / levels, rng.integers(0, levels, n_ood) / levels
  if case % 3 == 1:  # rounded normals: some ties
    return rng.normal(size=n_id).round(1), rng.normal(0.7, size=n_ood).round(1)
  return rng.random(n_id), rng.random(n_ood) * 0.8  # continuous


def test_equals_sklearn_on_random_scores_with_ties():
  rng = np.random.default_rng(0)
  for case in range(600):
    id_scores, ood_scores = _random_pair(rng, case)
    got = metrics.ood_metrics(id_scores, ood_scores)
    want = openood_reference(id_scores, ood_scores)
    assert set(got) == set(openood.OOD_METRIC_NAMES)
    for name in openood.OOD_METRIC_NAMES:
      # The same arithmetic on the same points: equal to the last bit.
      assert got[name] == want[name], (name, case, id_scores, ood_scores)


def test_single_functions_equal_the_mapping():
  rng = np.random.default_rng(1)
  id_scores, ood_scores = rng.normal(size=50).round(1), rng.normal(size=30).round(1)
  got = metrics.ood_metrics(id_scores, ood_scores)
  for name in openood.OOD_METRIC_NAMES:
    assert getattr(openood, name)(id_scores, ood_scores) == got[name]


def test_dropped_roc_points_matter_and_are_reproduced():
  # 20 thresholds each adding one ID and one OOD image: every inner ROC point
  # is collinear and sklearn drops it, so the first TPR >= 0.95 is the end
  # point (FPR 1.0), not the 19th point (FPR 0.95).
  scores = np.arange(20, dtype=float)
  got = metrics.ood_metrics(scores, scores)
  assert got["fpr95_openood"] == 1.0
  assert got["fpr95_odin"] == 1.0
  fpr, tpr, _ = skm.roc_curve(np.r_[np.zeros(20), np.ones(20)], -np.r_[scores, scores],
                              drop_intermediate=False)
  assert fpr[np.argmax(tpr >= 0.95)] == 0.95  # what a curve without the drop gives
  assert got == openood_reference(scores, scores)


def test_the_two_fpr95_conventions_differ_where_they_should():
  # All OOD images share one low score; ID scores are spread out.
  id_scores = np.arange(101) / 100
  ood_scores = np.full(50, 0.2)
  got = metrics.ood_metrics(id_scores, ood_scores)
  # OpenOOD: to catch 95 % of OOD (all 50 share 0.2) flag every score <= 0.2:
  # 21 of 101 ID images are flagged.
  assert got["fpr95_openood"] == pytest.approx(21 / 101)
  # ODIN: to keep 95 % of ID (96 of 101, scores >= 0.05) the 50 OOD images at
  # 0.2 are all accepted.
  assert got["fpr95_odin"] == 1.0
  assert got == openood_reference(id_scores, ood_scores)


def test_aupr_is_the_trapezoid_not_average_precision():
  id_scores = np.array([0.9, 0.8, 0.4, 0.3])
  ood_scores = np.array([0.7, 0.2, 0.35])
  got = metrics.ood_metrics(id_scores, ood_scores)
  ap_in = skm.average_precision_score(np.r_[np.ones(4), np.zeros(3)],
                                      np.r_[id_scores, ood_scores])
  assert got["aupr_in"] != pytest.approx(ap_in)
  assert got["aupr_in"] == openood_reference(id_scores, ood_scores)["aupr_in"]


def test_perfect_and_reversed_separation():
  perfect = metrics.ood_metrics([0.9, 0.8, 0.7], [0.1, 0.2])
  assert perfect == {"auroc": 1.0, "aupr_in": 1.0, "aupr_out": 1.0,
                     "fpr95_openood": 0.0, "fpr95_odin": 0.0}
  reversed_ = metrics.ood_metrics([0.1, 0.2], [0.9, 0.8, 0.7])
  assert reversed_["auroc"] == 0.0
  assert reversed_["fpr95_openood"] == 1.0 and reversed_["fpr95_odin"] == 1.0


@pytest.mark.parametrize("id_scores, ood_scores", [
    ([], [0.1]), ([0.1], []), ([np.nan], [0.1]), ([0.1], [np.inf])])
def test_bad_input_raises(id_scores, ood_scores):
  with pytest.raises(ValueError):
    metrics.ood_metrics(id_scores, ood_scores)


def test_logit_scores_match_their_definitions():
  rng = np.random.default_rng(2)
  logits = rng.normal(size=(7, 5)) * 30  # large enough that a naive exp overflows in float32
  scores = metrics.logit_scores(logits)
  probabilities = np.exp(logits - logits.max(1, keepdims=True))
  probabilities /= probabilities.sum(1, keepdims=True)
  np.testing.assert_allclose(scores["msp"], probabilities.max(1), rtol=1e-12)
  np.testing.assert_array_equal(scores["max_logit"], logits.max(1))
  from scipy.special import logsumexp  # pylint: disable=g-import-not-at-top
  np.testing.assert_allclose(scores["energy"], logsumexp(logits, axis=1), rtol=1e-12)


def test_group_means():
  per_set = {"ssb_hard": 0.2, "ninco": 0.4, "inaturalist": 0.9, "textures": 0.6,
             "openimage_o": 0.3}
  assert metrics.group_means(per_set) == pytest.approx({"near": 0.3, "far": 0.6})
  assert metrics.group_means({"ssb_hard": 0.2}) == {}


def test_binned_metrics_equal_exact_metrics_on_the_bins():
  rng = np.random.default_rng(3)
  id_scores, ood_scores = rng.random(40), rng.random(30) * 0.7
  binned = metrics.binned_ood_metrics(id_scores, ood_scores, (0.0, 1.0), 10)
  assert binned == metrics.ood_metrics(np.minimum((id_scores * 10).astype(int), 9),
                                       np.minimum((ood_scores * 10).astype(int), 9))


def test_keras_metric_equals_the_binned_numpy_twin():
  keras_metrics = pytest.importorskip("tfds_bench.metrics.keras_metrics")
  rng = np.random.default_rng(4)
  logits = rng.normal(size=(30, 4)) * 3
  is_ood = rng.integers(0, 2, 30)
  is_ood[:2] = [0, 1]
  target = np.r_[is_ood, -1]  # one padded row, masked by its -1 target
  padded_logits = np.r_[logits, [[50.0, 0, 0, 0]]]
  weight = np.r_[np.ones(30), 1.0]
  scores = metrics.logit_scores(logits)
  for score, score_range in (("msp", None), ("energy", (-2.0, 12.0))):
    for name in openood.OOD_METRIC_NAMES:
      metric = keras_metrics.OpenOODMetric(name, score, score_range=score_range, num_bins=64)
      metric.update_state(target[:12], padded_logits[:12], weight[:12])
      metric.update_state(target[12:], padded_logits[12:], weight[12:])
      want = metrics.binned_ood_metrics(scores[score][is_ood == 0],
                                        scores[score][is_ood == 1],
                                        score_range or (0.0, 1.0), 64)[name]
      assert float(metric.result()) == pytest.approx(want, abs=1e-12), (score, name)
  restored = keras_metrics.OpenOODMetric.from_config(metric.get_config())
  assert (restored.metric, restored.score, restored.score_range) == (
      metric.metric, metric.score, metric.score_range)
  with pytest.raises(ValueError, match="score_range"):
    keras_metrics.OpenOODMetric("auroc", "energy")


_MIRRORED_SCRIPT = """
    import numpy as np
    import keras
    from tfds_bench.metrics import keras_metrics

    data = np.load(sys.argv[1])
    logits, target, weight = data["logits"], data["target"], data["weight"]
    with strategy.scope():
      model = keras.Sequential([keras.Input((logits.shape[1],)), keras.layers.Identity()])
      auroc = keras_metrics.OpenOODMetric("auroc", "energy", score_range=(-2.0, 12.0),
                                          num_bins=64)
      fpr = keras_metrics.OpenOODMetric("fpr95_openood", "msp", num_bins=64)
      model.compile(loss=lambda y, p: tf.reduce_sum(p, -1) * 0.0,
                    weighted_metrics=[auroc, fpr])
    ds = tf.data.Dataset.from_tensor_slices((logits, target, weight)).batch(16)
    out = model.evaluate(ds, return_dict=True, verbose=0)
    out["histogram"] = auroc.histogram.numpy().sum(axis=1).tolist()
    report(out)
"""


def test_keras_metric_under_mirrored_strategy(tmp_path, run_on_two_cpus):
  rng = np.random.default_rng(5)
  n, padded = 101, 112
  logits = (rng.normal(size=(padded, 6)) * 3).astype(np.float32)
  target = rng.integers(0, 2, padded)
  weight = (np.arange(padded) < n).astype(np.float32)
  np.savez(tmp_path / "data.npz", logits=logits, target=target, weight=weight)
  out = run_on_two_cpus(_MIRRORED_SCRIPT, tmp_path / "data.npz", timeout=300)
  assert out["replicas"] == 2
  scores = metrics.logit_scores(logits[:n].astype(np.float64))
  is_ood = target[:n] == 1
  assert out["histogram"] == [int((~is_ood).sum()), int(is_ood.sum())]
  want = metrics.binned_ood_metrics(scores["energy"][~is_ood], scores["energy"][is_ood],
                                    (-2.0, 12.0), 64)["auroc"]
  assert out["auroc_energy"] == pytest.approx(want, abs=1e-12)
  want = metrics.binned_ood_metrics(scores["msp"][~is_ood], scores["msp"][is_ood],
                                    (0.0, 1.0), 64)["fpr95_openood"]
  assert out["fpr95_openood_msp"] == pytest.approx(want, abs=1e-12)
