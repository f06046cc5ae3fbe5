"""The OpenOOD track's report rows and score-distribution figure."""

import numpy as np
import pytest

from tfds_bench.reports import openood as openood_report


def _record(model, benchmark, metric, value, low=None, high=None):
  return {"model": model, "benchmark": benchmark, "metric": metric, "value": value,
          "n": 10, "ci_low": low, "ci_high": high}


def test_one_row_per_model_and_score_with_intervals():
  records = []
  for model, shift in (("a", 0.0), ("b", 0.1)):
    for score in ("msp", "energy"):
      records += [
          _record(model, "openood_near", f"auroc_{score}", 0.7 + shift, 0.69 + shift, 0.71 + shift),
          _record(model, "openood_far", f"auroc_{score}", 0.9 + shift, 0.89 + shift, 0.91 + shift),
          _record(model, "openood_near", f"fpr95_openood_{score}", 0.6, 0.58, 0.62),
          _record(model, "openood_far", f"fpr95_openood_{score}", 0.3),
          _record(model, "openood_near", f"fpr95_odin_{score}", 0.5),
      ]
  records.append(_record("a", "imagenet_o", "auroc", 0.5))
  rows = openood_report.summary_rows(records)
  assert [r[:2] for r in rows] == [["a", "energy"], ["a", "msp"], ["b", "energy"], ["b", "msp"]]
  assert rows[0][2:] == ["70.00", "69.00-71.00", "90.00", "89.00-91.00",
                         "60.00", "58.00-62.00", "30.00", ""]
  lines = openood_report.section(records)
  assert "OOD positive" in "\n".join(lines)
  assert openood_report.section([_record("a", "imagenet_o", "auroc", 0.5)]) == []


def test_score_distribution_figure_is_written(tmp_path):
  figures = pytest.importorskip("tfds_bench.reports.figures")
  rng = np.random.default_rng(0)
  path = figures.plot_score_distributions(
      rng.random(50), {"ssb_hard": rng.random(40) * 0.8, "ninco": rng.random(30)},
      "msp", str(tmp_path / figures.score_distributions_file_name("m/x", "msp")))
  assert path.endswith("openood_msp_m_x.png")
  assert (tmp_path / "openood_msp_m_x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_distribution_inputs_restrict_val_and_keep_every_score():
  from tfds_bench import openood_lists  # pylint: disable=g-import-not-at-top
  from tfds_bench.predictions import Predictions  # pylint: disable=g-import-not-at-top

  def predictions(names, confidence):
    n = len(names)
    return Predictions(file_name=np.asarray(names), label=np.full(n, -1, np.int64),
                       top5=np.zeros((n, 5), np.int64), confidence=np.asarray(confidence))
  val_names = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 50_001)]
  rng = np.random.default_rng(3)
  val = predictions(val_names, rng.random(50_000))
  ninco = predictions(["ninco/a.jpg"], [0.2])
  inputs = openood_report.distribution_inputs(
      {"val": val, "openood_ninco": ninco}, "val",
      {"ninco": "openood_ninco", "textures": "openood_textures"})
  (id_scores, sets), = inputs.values()
  assert list(inputs) == ["msp"] and list(sets) == ["ninco"]
  ids = set(openood_lists.id_val_file_names())
  np.testing.assert_array_equal(np.sort(id_scores),
                                np.sort(val.confidence[[n in ids for n in val_names]]))
  assert openood_report.distribution_inputs({"val": val}, "val", {"ninco": "x"}) == {}
