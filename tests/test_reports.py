"""tfds_bench.reports: wide tables, effective robustness, PNG reports, atomic writes."""

import csv
import io
import json
import math
import os
import subprocess
import sys

from matplotlib.figure import Figure
import numpy as np
import pytest

from tfds_bench import metrics, reports
from tfds_bench.metrics import calibration
from tfds_bench.metrics import corruption as corruption_lib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def record(model, benchmark, metric, value, n=100):
  return {"model": model, "benchmark": benchmark, "metric": metric, "value": value, "n": n,
          "suite_version": "0.1.0"}


# Hand-made fixture with a known answer: in logit space the three "baseline"
# models lie exactly on logit(y) = logit(x) - 1 and a fourth model, "robust",
# sits above. Least squares over all four is not that line, so the expected
# values come from an independent closed-form fit below.
BASELINE = {"a": 0.60, "b": 0.70, "c": 0.80}
SHIFT = "imagenet_v2/matched-frequency"


def _expit(x):
  return 1 / (1 + math.exp(-x))


def _logit(p):
  return math.log(p / (1 - p))


def fixture_records():
  records = []
  for model, acc in BASELINE.items():
    records += [record(model, "imagenet2012", "top1", acc),
                record(model, SHIFT, "top1", _expit(_logit(acc) - 1))]
  records += [record("robust", "imagenet2012", "top1", 0.75),
              record("robust", SHIFT, "top1", 0.70)]
  return records


def test_effective_robustness_on_the_line_is_zero():
  records = [r for r in fixture_records() if r["model"] != "robust"]
  result = metrics.effective_robustness(records, SHIFT)
  assert set(result) == set(BASELINE)
  for value in result.values():
    assert value == pytest.approx(0.0, abs=1e-12)
  fit = metrics.robustness_fit(records, SHIFT)
  assert fit.slope == pytest.approx(1.0)
  assert fit.intercept == pytest.approx(-1.0)


def test_effective_robustness_matches_closed_form_least_squares():
  records = fixture_records()
  points = {"a": 0.60, "b": 0.70, "c": 0.80, "robust": 0.75}
  shifted = {m: _expit(_logit(x) - 1) for m, x in BASELINE.items()}
  shifted["robust"] = 0.70
  xs = np.array([_logit(points[m]) for m in sorted(points)])
  ys = np.array([_logit(shifted[m]) for m in sorted(points)])
  slope = np.sum((xs - xs.mean()) * (ys - ys.mean())) / np.sum((xs - xs.mean()) ** 2)
  intercept = ys.mean() - slope * xs.mean()
  expected = {m: shifted[m] - _expit(slope * _logit(points[m]) + intercept) for m in points}

  result = metrics.effective_robustness(records, SHIFT)
  assert result == pytest.approx(expected, abs=1e-12)
  assert result["robust"] > 0.05  # well above the others' trend
  # Points, not logits: the robust model's distance is in accuracy units.
  assert result["robust"] == pytest.approx(0.70 - _expit(slope * _logit(0.75) + intercept))


def test_effective_robustness_needs_two_models():
  records = [r for r in fixture_records() if r["model"] == "a"]
  with pytest.raises(ValueError, match="at least 2 models"):
    metrics.effective_robustness(records, SHIFT)
  fit = metrics.robustness_fit(records, SHIFT)
  assert not fit.has_fit and list(fit.points) == ["a"]


def test_effective_robustness_same_reference_accuracy_has_no_fit():
  records = [record("a", "imagenet2012", "top1", 0.7), record("a", SHIFT, "top1", 0.6),
             record("b", "imagenet2012", "top1", 0.7), record("b", SHIFT, "top1", 0.5)]
  with pytest.raises(ValueError, match="same imagenet2012 top-1"):
    metrics.effective_robustness(records, SHIFT)


def test_logit_clips_exact_zero_and_one():
  values = metrics.logit([0.0, 0.5, 1.0])
  assert np.all(np.isfinite(values)) and values[1] == 0.0
  np.testing.assert_allclose(metrics.expit(metrics.logit([0.2, 0.9])), [0.2, 0.9])


def test_shifted_benchmarks_exclude_the_reference_and_real():
  records = fixture_records() + [record("a", "imagenet2012_real", "top1", 0.7),
                                 record("a", "imagenet_r", "top1", 0.3),
                                 record("a", "imagenet_o", "auroc", 0.6)]
  assert metrics.shifted_benchmarks(records) == ["imagenet_r", SHIFT]


def _points_per_panel(figure):
  """Scatter points per visible panel: each model is one PathCollection."""
  counts = []
  for ax in figure.axes:
    if ax.get_visible():
      counts.append(sum(len(c.get_offsets()) for c in ax.collections))
  return counts


def test_effective_robustness_figure_has_one_point_per_model_and_a_fit():
  records = fixture_records() + [record(m, "imagenet_r", "top1", v) for m, v in
                                 (("a", 0.2), ("b", 0.3))]
  figure, fits = reports.effective_robustness_figure(records)
  assert [f.shifted_benchmark for f in fits] == ["imagenet_r", SHIFT]
  assert _points_per_panel(figure) == [2, 4]
  panel = [ax for ax in figure.axes if ax.get_visible()][1]
  labels = [line.get_label() for line in panel.get_lines()]
  assert labels == ["y = x", "linear fit (logit space)"]
  assert panel.get_xscale() == "logit" and panel.get_yscale() == "logit"


def test_effective_robustness_figure_with_one_model_has_points_and_no_fit():
  records = [r for r in fixture_records() if r["model"] == "a"]
  figure, fits = reports.effective_robustness_figure(records)
  assert _points_per_panel(figure) == [1]
  (panel,) = [ax for ax in figure.axes if ax.get_visible()]
  assert [line.get_label() for line in panel.get_lines()] == ["y = x"]
  assert not fits[0].has_fit


def test_no_figures_without_the_data():
  records = [record("a", "sample", "top1", 0.8), record("a", "sample", "ece", 0.1)]
  assert reports.effective_robustness_figure(records) == (None, [])
  assert reports.corruption_errors_figure(records) is None


def corruption_records():
  records = []
  for i, model in enumerate(["m1", "m2"]):
    for c in corruption_lib.TEST_CORRUPTIONS:
      records.append(record(model, "imagenet_c", f"error/{c}", 0.4 + 0.1 * i))
      for s in corruption_lib.SEVERITIES:
        records.append(record(model, "imagenet_c", f"error/{c}_{s}", 0.3 + 0.02 * s))
    records += [record(model, "imagenet_c", "mce", 0.7 + 0.1 * i),
                record(model, "imagenet_c", "relative_mce", 0.9)]
  return records


def test_corruption_figure_bars_and_mce_legend():
  figure = reports.corruption_errors_figure(corruption_records())
  (ax,) = figure.axes
  assert len(ax.patches) == 2 * 15  # one bar per model and corruption, severities excluded
  texts = [t.get_text() for t in ax.get_legend().get_texts()]
  assert texts == ["m1 (mCE 70.0%, rel. mCE 90.0%)", "m2 (mCE 80.0%, rel. mCE 90.0%)"]
  assert [t.get_text() for t in ax.get_xticklabels()][0] == "gaussian noise"


def test_compare_table_one_row_per_model():
  records = fixture_records() + [record("a", "imagenet2012", "top5", 0.9)]
  text = reports.compare_table(records)
  lines = text.splitlines()
  assert lines[0].startswith("| model | imagenet2012 top1 (%) | imagenet2012 top5 (%) |")
  assert len(lines) == 2 + 4
  assert "| a | 60.00 | 90.00 |" in text
  assert "| b | 70.00 |  |" in text  # missing -> empty cell


def test_wide_csv_has_every_metric_as_fractions():
  records = corruption_records()
  rows = list(csv.DictReader(io.StringIO(reports.wide_csv(records))))
  assert [r["model"] for r in rows] == ["m1", "m2"]
  assert float(rows[1]["imagenet_c:error/fog_5"]) == pytest.approx(0.4)
  assert float(rows[0]["imagenet_c:mce"]) == pytest.approx(0.7)
  assert len(rows[0]) == 1 + 15 * 6 + 2


def test_duplicates_later_wins_and_are_reported(tmp_path):
  records = [record("a", "sample", "top1", 0.5), record("a", "sample", "top1", 0.75)]
  assert reports.wide_table(records).get("a", "sample", "top1") == 0.75
  reports.write_report(records, str(tmp_path))
  assert "1 record(s) repeated" in (tmp_path / "report.md").read_text()


def _is_png(path):
  data = open(path, "rb").read()
  return data.startswith(PNG_SIGNATURE) and len(data) > 10_000


def test_write_report_full(tmp_path):
  records = fixture_records() + corruption_records()
  paths = reports.write_report(records, str(tmp_path / "report"), robustness_baseline="models")
  names = [p.split("/")[-1] for p in paths]
  assert names == ["report.md", "report.csv", "published_context.png",
                   "effective_robustness.png", "corruption_errors.png"]
  for path in paths[2:]:
    assert _is_png(path)
  text = (tmp_path / "report" / "report.md").read_text()
  assert "## Effective robustness" in text and "Taori et al. 2020" in text
  expected = metrics.effective_robustness(records, SHIFT)["robust"]
  assert f"| robust | {100 * expected:+.2f} |" in text
  assert "## Corruption errors" in text and "| m2 | 80.00 | 90.00 |" in text
  assert "![effective_robustness](effective_robustness.png)" in text


def test_write_report_sample_only_has_tables_and_says_why_no_plot(tmp_path):
  records = [record(m, "sample", "top1", v, n=7) for m, v in (("x", 6 / 7), ("y", 5 / 7))]
  paths = reports.write_report(records, str(tmp_path), robustness_baseline="models")
  assert [p.split("/")[-1] for p in paths] == ["report.md", "report.csv",
                                               "published_context.png"]
  text = (tmp_path / "report.md").read_text()
  assert "| x | 85.71 |" in text
  assert "Not computed" in text and "no imagenet2012 top-1" in text


def test_write_report_one_model_skips_the_fit_and_says_so(tmp_path):
  records = [r for r in fixture_records() if r["model"] == "a"]
  paths = reports.write_report(records, str(tmp_path), robustness_baseline="models")
  assert any(p.endswith("effective_robustness.png") for p in paths)
  text = (tmp_path / "report.md").read_text()
  assert "fit skipped, a line needs at least 2 models" in text


def test_plot_reliability_writes_png(tmp_path):
  rng = np.random.default_rng(0)
  confidence = rng.uniform(0.05, 1.0, 500)
  correct = rng.uniform(size=500) < confidence
  bins = calibration.reliability_diagram(confidence, correct)
  path = reports.plot_reliability(bins, str(tmp_path / reports.reliability_file_name(
      "my/model", "imagenet_v2/top-images")), title="test")
  assert path.endswith("reliability_my-model_imagenet_v2-top-images.png")
  assert _is_png(path)
  figure = reports.reliability_figure(bins)
  expected_ece = calibration.expected_calibration_error(confidence, correct)
  assert f"ECE {100 * expected_ece:.2f}%" in figure.axes[0].get_title()


def test_bench_main_report_flag(tmp_path):
  results = tmp_path / "results.json"
  results.write_text(json.dumps({"results": fixture_records()}))
  out = tmp_path / "out"
  completed = subprocess.run(
      [sys.executable, "-m", "tfds_bench.bench_main", f"--report={results}",
       f"--output_dir={out}"], capture_output=True, text=True, timeout=300, check=False)
  assert completed.returncode == 0, completed.stderr[-2000:]
  assert (out / "report.md").exists() and _is_png(out / "published_context.png")


def test_report_draws_the_real_curve_from_records(tmp_path):
  records = [{"model": m, "benchmark": "imagenet2012_real", "metric": f"top1_at_threshold/{t:.2f}",
              "value": v - t / 10, "n": 1000 - int(100 * t)}
             for m, v in (("a", 0.8), ("b", 0.7)) for t in (0.2, 0.5, 0.8)]
  curves = reports.real_curves(records)
  assert sorted(curves) == ["a", "b"]
  np.testing.assert_allclose(curves["a"]["thresholds"], [0.2, 0.5, 0.8])
  np.testing.assert_allclose(curves["b"]["accuracy"], [0.68, 0.65, 0.62])
  written = reports.write_report(records, str(tmp_path))
  png = tmp_path / reports.REAL_CURVE_PNG
  assert str(png) in written and png.stat().st_size > 1000


# --- atomic writes ------------------------------------------------------------

def _partial_savefig(self, fname, *args, **kwargs):
  """A Figure.savefig that writes half a PNG, then fails like a full disk."""
  with open(fname, "wb") as f:
    f.write(PNG_SIGNATURE)
  raise OSError(28, "No space left on device")


def test_failing_figure_save_leaves_no_partial_or_temporary_file(tmp_path, monkeypatch):
  (tmp_path / "effective_robustness.png").write_bytes(b"previous")
  monkeypatch.setattr(Figure, "savefig", _partial_savefig)
  with pytest.raises(OSError, match="No space"):
    reports.write_report(fixture_records(), str(tmp_path))
  assert os.listdir(tmp_path) == ["effective_robustness.png"]
  assert (tmp_path / "effective_robustness.png").read_bytes() == b"previous"


def test_failing_real_curve_save_leaves_no_partial_or_temporary_file(tmp_path, monkeypatch):
  monkeypatch.setattr(Figure, "savefig", _partial_savefig)
  records = [record("a", "imagenet2012_real", "top1_at_threshold/0.50", 0.8)]
  with pytest.raises(OSError, match="No space"):
    reports.write_report(records, str(tmp_path))
  assert not os.listdir(tmp_path)


def test_failing_rename_leaves_no_temporary_file(tmp_path):
  # A folder where report.md / results.json should go: the rename fails.
  (tmp_path / "report.md").mkdir()
  with pytest.raises(OSError):
    reports.write_report([record("a", "sample", "top1", 0.5)], str(tmp_path))
  (tmp_path / "results.json").mkdir()
  with pytest.raises(OSError):
    reports.write_results(str(tmp_path), [record("a", "sample", "top1", 0.5)], {})
  # The figure written before report.md stays; no temporary file does.
  assert sorted(os.listdir(tmp_path)) == ["published_context.png", "report.md", "results.json"]
  assert not os.listdir(tmp_path / "report.md") and not os.listdir(tmp_path / "results.json")


def test_failing_reliability_save_keeps_the_previous_png(tmp_path, monkeypatch):
  bins = calibration.reliability_diagram(np.array([0.6, 0.9]), np.array([True, False]))
  path = tmp_path / "reliability.png"
  reports.plot_reliability(bins, str(path))
  before = path.read_bytes()
  monkeypatch.setattr(Figure, "savefig", _partial_savefig)
  with pytest.raises(OSError):
    reports.plot_reliability(bins, str(path))
  assert os.listdir(tmp_path) == ["reliability.png"] and path.read_bytes() == before


# --- one package, one order -----------------------------------------------------

def test_importing_reports_loads_neither_matplotlib_nor_tensorflow():
  code = ("import sys, tfds_bench.reports as r; r.format_table([]); "
          "print('matplotlib' in sys.modules, 'tensorflow' in sys.modules)")
  completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, check=True)
  assert completed.stdout.split() == ["False", "False"]


def test_console_and_wide_tables_share_one_metric_order():
  records = corruption_records() + [
      record("m1", "imagenet_c", m, 0.2) for m in ("clean_top1", "clean_error", "top1")]
  table_metrics = [line.split()[2] for line in
                   reports.format_table(records, per_severity=True).splitlines()[2:]
                   if line.startswith("m1 ")]
  wide_metrics = [m for _, m in reports.wide_table(records).columns]
  assert table_metrics == wide_metrics
  assert table_metrics[:5] == ["top1", "mce", "relative_mce", "clean_error", "clean_top1"]
  assert table_metrics[5:8] == ["error/gaussian_noise", "error/gaussian_noise_1",
                                "error/gaussian_noise_2"]
