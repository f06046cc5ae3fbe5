"""95 % intervals, paired tests (McNemar, paired bootstrap), --compare, the
kept per-image predictions and the published baseline."""

import csv
import json
import math
import os

import numpy as np
import pytest
from scipy import stats

from tfds_bench import benchmark_table, compare, errors, labels, published, reports
from tfds_bench import predictions as predictions_lib
from tfds_bench.benchmark_types import proportion_result, statistic_result
from tfds_bench.metrics import intervals, robustness
from tfds_bench.reports import context
from tfds_bench.scoring import classification
from tfds_bench.scoring import rows as scoring_rows


@pytest.mark.parametrize("successes,n", [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10),
                                         (6265, 10000), (1, 50000), (49999, 50000)])
def test_clopper_pearson_equals_scipy_exact_binomial(successes, n):
  expected = stats.binomtest(successes, n).proportion_ci(0.95, method="exact")
  low, high = intervals.clopper_pearson(successes, n)
  assert low == pytest.approx(expected.low, abs=1e-12)
  assert high == pytest.approx(expected.high, abs=1e-12)
  if successes == 0:
    assert low == 0.0
  if successes == n:
    assert high == 1.0


def test_clopper_pearson_rejects_impossible_counts():
  with pytest.raises(ValueError):
    intervals.clopper_pearson(3, 2)
  with pytest.raises(ValueError):
    intervals.clopper_pearson(0, 0)


def test_bootstrap_interval_is_identical_across_runs_and_brackets_the_mean():
  values = np.random.default_rng(5).normal(size=300)
  statistic = lambda i: float(values[i].mean())
  first = intervals.bootstrap_interval(statistic, len(values))
  second = intervals.bootstrap_interval(statistic, len(values))
  assert first == second
  assert first[0] < values.mean() < first[1]
  # The normal-theory interval of a mean is close to the percentile bootstrap.
  half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
  assert first[0] == pytest.approx(values.mean() - half, abs=0.25 * half)
  assert first[1] == pytest.approx(values.mean() + half, abs=0.25 * half)


def test_mcnemar_matches_a_hand_computation_and_scipy():
  # 7 images only A gets right, 2 only B, 11 both, 5 neither.
  a = np.array([1] * 7 + [0] * 2 + [1] * 11 + [0] * 5, bool)
  b = np.array([0] * 7 + [1] * 2 + [1] * 11 + [0] * 5, bool)
  test = intervals.mcnemar_exact(a, b)
  # Two-sided exact: 2 * P(X <= 2), X ~ Binomial(9, 1/2) = 2 * (1 + 9 + 36) / 512.
  assert test.p_value == pytest.approx(2 * (1 + 9 + 36) / 512, abs=1e-15)
  assert test.p_value == pytest.approx(stats.binomtest(2, 9, 0.5).pvalue, abs=1e-12)
  assert (test.a_only, test.b_only) == (7, 2)
  assert test.difference == pytest.approx((2 - 7) / 25)
  assert intervals.mcnemar_exact(a, a).p_value == 1.0


def test_paired_bootstrap_is_deterministic_and_sees_a_real_difference():
  rng = np.random.default_rng(1)
  a = rng.normal(size=400)
  b = a + 0.3 + 0.05 * rng.normal(size=400)
  first = intervals.paired_bootstrap(lambda i: a[i].mean(), lambda i: b[i].mean(), 400)
  assert first == intervals.paired_bootstrap(lambda i: a[i].mean(), lambda i: b[i].mean(), 400)
  assert first.ci_low > 0.25 and first.ci_high < 0.35
  assert first.p_value == pytest.approx(2 / (intervals.RESAMPLES + 1))


def test_result_interval_kinds():
  images = np.array([f"img{i}" for i in range(20)])
  counted = np.arange(20) < 13
  proportion = proportion_result("b", "top1", counted, images).with_interval()
  reference = stats.binomtest(13, 20).proportion_ci(method="exact")
  assert (proportion.ci_low, proportion.ci_high) == pytest.approx(
      (reference.low, reference.high), abs=1e-12)
  assert proportion.ci_method == intervals.CLOPPER_PEARSON
  scores = np.linspace(0, 1, 20)
  other = statistic_result("b", "ece", lambda i: scores[i].mean(), images).with_interval()
  assert other.ci_method == intervals.BOOTSTRAP
  assert other.ci_low < other.value < other.ci_high
  assert other == statistic_result("b", "ece", lambda i: scores[i].mean(),
                                   images).with_interval()


def _fake_predictions(correct, seed):
  """Sample-like predictions: top-1 right where ``correct``."""
  n = len(correct)
  rng = np.random.default_rng(seed)
  label = rng.integers(0, 1000, n)
  top5 = (label[:, None] + 1 + np.arange(5)[None, :]) % 1000
  top5[correct, 0] = label[correct]
  real = np.full((n, 8), -1)
  real[:, 0] = label
  return predictions_lib.Predictions(
      file_name=np.array([f"photo_{i}.jpg" for i in range(n)]), label=label, top5=top5,
      confidence=rng.uniform(0.2, 1.0, n), extras={"real_label": real})


def _write_run(folder, model, p):
  records = [{"model": model, "benchmark": r.benchmark, "metric": r.metric, "value": r.value,
              "n": r.n} for r in scoring_rows.score_row(benchmark_table.get("sample"), {"sample": p},
                                               with_intervals=False)]
  reports.write_results(str(folder), records, {"model": model})
  reports.write_predictions(str(folder), {"sample": p})
  return str(folder)


def test_saved_predictions_read_back_exactly(tmp_path):
  p = _fake_predictions(np.arange(30) % 3 == 0, 0)
  p.space_top5["imagenet_a"] = p.top5[:, ::-1].copy()
  p.space_confidence["imagenet_a"] = p.confidence / 2
  reports.write_predictions(str(tmp_path), {"imagenet_v2/matched-frequency": p})
  with open(tmp_path / "predictions" / "index.json") as f:
    assert json.load(f) == {"imagenet_v2/matched-frequency":
                            "imagenet_v2-matched-frequency.npz"}
  back = reports.load_predictions(str(tmp_path))["imagenet_v2/matched-frequency"]
  for field in ("file_name", "label", "top5", "confidence"):
    np.testing.assert_array_equal(getattr(back, field), getattr(p, field))
  np.testing.assert_array_equal(back.space_top5["imagenet_a"], p.space_top5["imagenet_a"])
  np.testing.assert_array_equal(back.space_confidence["imagenet_a"],
                                p.space_confidence["imagenet_a"])
  np.testing.assert_array_equal(back.extras["real_label"], p.extras["real_label"])


def test_compare_runs_mcnemar_on_the_same_images(tmp_path):
  correct_a = np.zeros(40, bool)
  correct_a[:20] = True
  correct_b = correct_a.copy()
  correct_b[:3] = False      # 3 only A gets right
  correct_b[20:30] = True    # 10 only B gets right
  run_a = _write_run(tmp_path / "a", "model_a", _fake_predictions(correct_a, 0))
  p_b = _fake_predictions(correct_b, 0)
  order = np.random.default_rng(2).permutation(40)  # B saved in another image order
  run_b = _write_run(tmp_path / "b", "model_b", p_b.select(order))
  model_a, model_b, comparisons, notes = compare.compare_runs(run_a, run_b)
  assert (model_a, model_b, notes) == ("model_a", "model_b", [])
  top1 = next(c for c in comparisons if c.metric == "top1")
  assert (top1.test.a_only, top1.test.b_only) == (3, 10)
  assert top1.test.p_value == pytest.approx(stats.binomtest(3, 13, 0.5).pvalue, abs=1e-12)
  assert top1.test.difference == pytest.approx(7 / 40)
  ece = next(c for c in comparisons if c.metric == "ece")
  assert ece.test.method == intervals.BOOTSTRAP
  assert ece.test.ci_low <= ece.test.difference <= ece.test.ci_high
  text = compare.format_comparison(model_a, model_b, comparisons)
  assert "mcnemar_exact" in text and "+17.50" in text


def test_compare_refuses_runs_on_different_images(tmp_path):
  run_a = _write_run(tmp_path / "a", "model_a", _fake_predictions(np.arange(40) < 20, 0))
  other = _fake_predictions(np.arange(40) < 20, 0)
  other.file_name[5] = "another_photo.jpg"
  run_b = _write_run(tmp_path / "b", "model_b", other)
  with pytest.raises(errors.UserError, match="different images.*1 only in run A"):
    compare.compare_runs(run_a, run_b)


def test_compare_needs_saved_predictions(tmp_path):
  reports.write_results(str(tmp_path), [], {})
  with pytest.raises(errors.UserError, match="no predictions/index.json"):
    compare.load_run(str(tmp_path))


def _csv_top1(name):
  path = labels.data_path("published").joinpath(name)
  with path.open(encoding="utf-8") as f:
    return {(row["model"], row["img_size"]): float(row["top1"]) / 100 for row in csv.DictReader(f)}


def test_published_baseline_fit_matches_an_independent_fit():
  val = _csv_top1("timm-results-imagenet.csv")
  v2 = _csv_top1("timm-results-imagenetv2-matched-frequency.csv")
  keys = sorted(set(val) & set(v2))
  assert len(keys) == 1556 and len({m for m, _ in keys}) == 1266
  x = np.array([val[k] for k in keys])
  y = np.array([v2[k] for k in keys])
  reference = stats.linregress(np.log(x / (1 - x)), np.log(y / (1 - y)))
  assert round(reference.slope, 4) == 0.9160 and round(reference.intercept, 4) == -0.4857
  points = published.points("imagenet_v2/matched-frequency")
  slope, intercept = robustness.logit_line(points.reference, points.shifted)
  assert slope == pytest.approx(reference.slope, abs=1e-9)
  assert intercept == pytest.approx(reference.intercept, abs=1e-9)
  assert points.reference_benchmark == "imagenet2012"
  assert published.points("imagenet_a").reference_benchmark == "imagenet_a_clean"


def test_context_places_measured_models_and_counterparts():
  records = [
      {"model": "mine", "benchmark": "imagenet2012", "metric": "top1", "value": 0.75,
       "ci_low": 0.74, "ci_high": 0.76},
      {"model": "mine", "benchmark": "imagenet_v2/matched-frequency", "metric": "top1",
       "value": 0.66},
      {"model": "efficientnet_lite0", "benchmark": "sample", "metric": "top1", "value": 1.0},
  ]
  v2 = next(c for c in context.shift_contexts(records)
            if c.published.shifted_benchmark == "imagenet_v2/matched-frequency")
  mine = next(p for p in v2.points if p.model == "mine")
  expected = 0.66 - 1 / (1 + math.exp(-(v2.slope * math.log(0.75 / 0.25) + v2.intercept)))
  assert mine.effective_robustness == pytest.approx(expected, abs=1e-12)
  assert mine.measured and mine.reference_interval == (0.74, 0.76)
  lite = next(p for p in v2.points if p.model == "efficientnet_lite0")
  assert not lite.measured and "tf_efficientnet_lite0.in1k" in lite.label
  standing = next(s for s in context.standings(records)
                  if s.model == "mine" and s.benchmark == "imagenet2012")
  population = np.array(list(published.top1("imagenet2012").values()))
  assert standing.percentile == pytest.approx(100 * np.mean(population < 0.75))


def test_report_shows_the_published_context(tmp_path):
  records = [{"model": "efficientnet_lite0", "benchmark": "sample", "metric": "top1",
              "value": 0.8, "n": 10, "ci_low": 0.5, "ci_high": 0.95,
              "ci_method": intervals.CLOPPER_PEARSON}]
  paths = reports.write_report(records, str(tmp_path))
  assert os.path.join(str(tmp_path), reports.PUBLISHED_CONTEXT_PNG) in paths
  text = (tmp_path / "report.md").read_text()
  assert published.PREPROCESSING_NOTE in text
  assert "tf_efficientnet_lite0.in1k" in text and "0.9160 logit(x) -0.4857" in text
  assert "## Effective robustness" not in text  # the models' own fit: only on request
  reports.write_report(records, str(tmp_path), robustness_baseline="models")
  assert "## Effective robustness" in (tmp_path / "report.md").read_text()


def test_compare_names_the_images_each_run_got_right_for_error_rates_too():
  # Image 0: only A right; images 1-3: only B right. As a top-1 (counted =
  # right) and as an error (counted = wrong), the table says "1 vs 3".
  right_a = np.array([True, False, False, False, True])
  right_b = np.array([False, True, True, True, True])
  rows = []
  for metric, a, b in (("top1", right_a, right_b), ("clean_error", ~right_a, ~right_b)):
    test = intervals.mcnemar_exact(a, b)
    rows.append(compare.Comparison("imagenet_c" if metric == "clean_error" else "sample",
                                   metric, a.mean(), b.mean(), len(a), test))
  text = compare.format_comparison("a", "b", rows)
  assert text.count("1 vs 3 discordant") == 2, text
  assert "only A / only B got right" in text
