"""The OpenOOD track wired end to end: per-image OOD scores in the predictions
record (TF step, numpy twin, npz and shard files), the seven table rows on
the dummy builders' lists, --predictions of a run folder, --compare and the
report's figures.

ImageNet val cannot be had offline, so the ID side is synthetic val
predictions against a small ``test_imagenet.txt`` in a temporary manual_dir
(a user list: the scorer takes it as given). The OOD sides are keyed by the
dummy builders' own lists (builders/bench_openood_*/dummy_data), which the
builders emit exactly (tests/test_openood_builders.py).
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy import special

from tfds_bench import (benchmark_table, compare, errors, metrics, models, openood_lists,
                        predictions as predictions_lib, reports, run_config, shards)
from tfds_bench.benchmark_types import ScoringOptions
from tfds_bench.predictions import LOGIT_OOD_SCORES, Predictions
from tfds_bench.scoring import openood as openood_scoring
from tfds_bench.scoring import rows as scoring_rows
from tfds_bench.sources import IMAGENET_VAL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = tuple(f"openood_{name}" for name in openood_lists.OOD_SETS) + ("openood_near",
                                                                       "openood_far")
VAL_KEY = IMAGENET_VAL.key


def _val_names(numbers):
  return np.array([f"ILSVRC2012_val_{i:08d}.JPEG" for i in numbers])


def _manual_dir(tmp_path, id_numbers, set_paths=None):
  """A manual_dir holding OpenOOD lists: a small ID list, and each set's list
  (the dummy builder's own, or ``set_paths[name]``)."""
  folder = tmp_path / "manual" / openood_lists.MANUAL_LIST_FOLDER
  folder.mkdir(parents=True)
  (folder / openood_lists.ID_LIST).write_text("".join(
      f"{openood_lists.ID_PREFIX}{name} 0\n" for name in _val_names(id_numbers)))
  for name, spec in openood_lists.OOD_SETS.items():
    if set_paths and name in set_paths:
      (folder / spec.list_file).write_text("".join(f"{p} -1\n" for p in set_paths[name]))
    else:
      shutil.copy(os.path.join(ROOT, "builders", f"bench_openood_{name}", "dummy_data",
                               openood_lists.MANUAL_LIST_FOLDER, spec.list_file), folder)
  return str(tmp_path / "manual")


def _scored(names, rng, shift=0.0, logits=True):
  """Predictions with random logits' MSP, max logit and energy (OOD scores
  kept only for logits)."""
  n = len(names)
  raw = rng.normal(size=(n, 1000))
  raw[:, 0] += shift
  summary = predictions_lib.summarize_scores_np(raw, (), LOGIT_OOD_SCORES if logits else ())
  return predictions_lib.from_summaries(names, np.full(n, -1), summary)


def _by_source(manual_dir, rng, id_numbers, extra_val=10, shift=3.0):
  """Val predictions (the ID images and some others) and each set's, by source key."""
  val = _scored(_val_names(list(id_numbers) + list(range(1000, 1000 + extra_val))), rng, shift)
  out = {VAL_KEY: val}
  for name in openood_lists.OOD_SETS:
    paths = openood_lists.ood_list(name, manual_dir).paths
    out[openood_scoring.SET_BENCHMARKS[name]] = _scored(np.array(paths[::-1]), rng)
  return out


def test_max_logit_and_energy_equal_numpy_in_tf_and_in_the_numpy_twin():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  logits = (rng.normal(size=(6, 1000)) * 4).astype(np.float32)
  want = {"max_logit": logits.astype(np.float64).max(axis=1),
          "energy": special.logsumexp(logits.astype(np.float64), axis=1)}
  tf_out = predictions_lib.summarize_scores_tf(tf.constant(logits), (), LOGIT_OOD_SCORES)
  np_out = predictions_lib.summarize_scores_np(logits, (), LOGIT_OOD_SCORES)
  for name, values in want.items():
    np.testing.assert_allclose(tf_out[f"ood_score/{name}"].numpy(), values, rtol=1e-6)
    np.testing.assert_allclose(np_out[f"ood_score/{name}"], values, rtol=1e-12)
  # Not asked for: not computed (the default record stays as it was).
  assert not any(k.startswith("ood_score/") for k in predictions_lib.summarize_scores_np(logits))
  with pytest.raises(ValueError, match="unknown logit OOD score"):
    predictions_lib.summarize_scores_np(logits, (), ("mahalanobis",))


def test_the_predict_step_of_a_logits_model_keeps_the_scores_a_row_reads():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tfds_bench import evaluate  # pylint: disable=g-import-not-at-top
  dense = tf.keras.layers.Dense(1000)
  model = tf.keras.Sequential([tf.keras.Input((4, 4, 3)), tf.keras.layers.Flatten(), dense])
  spec = models.get("efficientnet")
  rows = [benchmark_table.get("openood_ninco"), benchmark_table.get("sample")]
  wanted, notice = evaluate.ood_scores_for(spec, rows)
  assert (wanted, notice) == (LOGIT_OOD_SCORES, None)
  images = np.random.default_rng(1).normal(size=(3, 4, 4, 3)).astype(np.float32)
  out = evaluate.make_predict_step(model, spec, ood_scores=wanted)({"image": images})
  logits = model(images).numpy().astype(np.float64)
  np.testing.assert_allclose(out["ood_score/max_logit"].numpy(), logits.max(axis=1), rtol=1e-5)
  np.testing.assert_allclose(out["ood_score/energy"].numpy(), special.logsumexp(logits, axis=1),
                             rtol=1e-5)
  probabilities_model = dataclasses.replace(spec, output=models.PROBABILITIES)
  wanted, notice = evaluate.ood_scores_for(probabilities_model, rows)
  assert wanted == () and "openood_ninco" in notice and "only MSP" in notice
  assert evaluate.ood_scores_for(spec, [benchmark_table.get("sample")]) == ((), None)


def test_ood_scores_round_trip_through_npz_and_shard_files(tmp_path):
  rng = np.random.default_rng(2)
  names = np.array([f"x/{i}.jpg" for i in range(7)])
  p = _scored(names, rng)
  p.ood_scores["custom"] = rng.normal(size=7)
  p.extras[predictions_lib.EXAMPLE_ID] = np.arange(7)
  path = tmp_path / "p.npz"
  np.savez(path, **predictions_lib.npz_arrays(p))
  assert {k for k in np.load(path).files if k.startswith("ood_score_")} == {
      "ood_score_max_logit", "ood_score_energy", "ood_score_custom"}
  back = predictions_lib.load_npz(str(path))
  assert sorted(back.ood_scores) == sorted(p.ood_scores)
  for name, values in p.ood_scores.items():
    np.testing.assert_array_equal(back.ood_scores[name], values)
  np.testing.assert_array_equal(back.select(np.array([3, 1])).ood_scores["energy"],
                                p.ood_scores["energy"][[3, 1]])
  both = Predictions.concatenate([p.select(np.arange(3)), p.select(np.arange(3, 7))])
  np.testing.assert_array_equal(both.ood_scores["custom"], p.ood_scores["custom"])
  # Shard files: two slices merged back into source order.
  for index in range(2):
    shards.write_shard(str(tmp_path / shards.shard_file_name(index, 2)), "m", ["openood_ninco"],
                       {"openood_ninco": p.select(np.arange(index, 7, 2))}, (index, 2))
  _, _, merged = shards.merge_shards(sorted(str(f) for f in tmp_path.glob("*shard*")))
  for name, values in p.ood_scores.items():
    np.testing.assert_array_equal(merged["openood_ninco"].ood_scores[name], values)

  # From logits: computed when asked for; from probabilities: never.
  logits = rng.normal(size=(7, 1000))
  np.savez(tmp_path / "logits.npz", file_name=names, logits=logits)
  from_logits = predictions_lib.load_npz(str(tmp_path / "logits.npz"), (), LOGIT_OOD_SCORES)
  want = metrics.logit_scores(logits)
  for name in LOGIT_OOD_SCORES:
    np.testing.assert_array_equal(from_logits.ood_scores[name], want[name])
  assert predictions_lib.load_npz(str(tmp_path / "logits.npz")).ood_scores == {}
  np.savez(tmp_path / "probs.npz", file_name=names, probs=special.softmax(logits, axis=1))
  assert predictions_lib.load_npz(str(tmp_path / "probs.npz"), (),
                                  LOGIT_OOD_SCORES).ood_scores == {}
  bad = dict(predictions_lib.npz_arrays(p), ood_score_energy=np.full(7, np.nan))
  np.savez(tmp_path / "bad.npz", **bad)
  with pytest.raises(errors.UserError, match="'ood_score_energy' has NaN"):
    predictions_lib.load_npz(str(tmp_path / "bad.npz"))


def test_the_seven_rows_score_the_dummy_lists_as_ood_metrics(tmp_path):
  id_numbers = range(1, 31)
  manual_dir = _manual_dir(tmp_path, id_numbers)
  by_source = _by_source(manual_dir, np.random.default_rng(3), id_numbers)
  rows = [benchmark_table.get(b) for b in ROWS]
  assert all(r.needs_scores and r.ood_scores == LOGIT_OOD_SCORES for r in rows)
  results = {(r.benchmark, r.metric): r for r in scoring_rows.score_rows(
      rows, by_source, ScoringOptions(manual_dir=manual_dir))}
  val = by_source[VAL_KEY]
  id_side = {"msp": val.confidence[:30], **{k: v[:30] for k, v in val.ood_scores.items()}}
  per_set = {}
  for name in openood_lists.OOD_SETS:
    p = by_source[openood_scoring.SET_BENCHMARKS[name]]
    ood_side = {"msp": p.confidence, **p.ood_scores}
    for score in ("msp",) + LOGIT_OOD_SCORES:
      per_set[name, score] = metrics.ood_metrics(id_side[score], ood_side[score])
      for figure, value in per_set[name, score].items():
        result = results[f"openood_{name}", f"{figure}_{score}"]
        assert result.value == value and result.n == 30 + len(p)
        assert result.ci_method is None or result.ci_low <= value <= result.ci_high
  for group, names in openood_scoring.GROUP_SETS.items():
    for score in ("msp",) + LOGIT_OOD_SCORES:
      for figure in metrics.OOD_METRIC_NAMES:
        want = np.mean([per_set[n, score][figure] for n in names])
        assert results[f"openood_{group}", f"{figure}_{score}"].value == pytest.approx(want)
  for row in rows:
    assert {m for b, m in results if b == row.id} == set(row.metrics)

  # Top-5 only cannot be scored; a set's predictions must be its list's images.
  top5_only = dataclasses.replace(val, confidence=np.full(len(val), np.nan))
  with pytest.raises(errors.UserError, match="needs logits or probs"):
    scoring_rows.score_row(rows[1], {**by_source, VAL_KEY: top5_only})
  ninco = by_source["openood_ninco"]
  with pytest.raises(errors.UserError, match="openood_near: the ninco predictions"):
    scoring_rows.score_row(benchmark_table.get("openood_near"),
                           {**by_source, "openood_ninco": ninco.select(np.arange(1))},
                           ScoringOptions(manual_dir=manual_dir))


def _write_run(folder, model, by_source, manual_dir, benchmark_ids=ROWS):
  rows = [benchmark_table.get(b) for b in benchmark_ids]
  records = [{"model": model, "benchmark": r.benchmark, "metric": r.metric, "value": r.value,
              "n": r.n} for r in scoring_rows.score_rows(
                  rows, by_source, ScoringOptions(manual_dir=manual_dir))]
  reports.write_results(str(folder), records, {"model": model})
  reports.write_predictions(str(folder), by_source)
  return str(folder)


def test_compare_pairs_two_runs_on_the_track(tmp_path):
  id_numbers = range(1, 81)
  set_paths = {name: [f"{spec.prefix}/c/{i}.jpg" for i in range(40)]
               for name, spec in openood_lists.OOD_SETS.items()}
  manual_dir = _manual_dir(tmp_path, id_numbers, set_paths)
  rng = np.random.default_rng(4)
  run_a = _by_source(manual_dir, rng, id_numbers, shift=0.0)
  # Model B: the same images, its ID images' energy and max logit clearly higher.
  run_b = {k: dataclasses.replace(p, ood_scores=dict(p.ood_scores)) for k, p in run_a.items()}
  for name in LOGIT_OOD_SCORES:
    run_b[VAL_KEY].ood_scores[name] = run_b[VAL_KEY].ood_scores[name] + 1.5
  benchmarks = ("openood_ninco", "openood_far")
  folder_a = _write_run(tmp_path / "a", "model_a", run_a, manual_dir, benchmarks)
  folder_b = _write_run(tmp_path / "b", "model_b", run_b, manual_dir, benchmarks)
  model_a, model_b, comparisons, notes = compare.compare_runs(
      folder_a, folder_b, options=ScoringOptions(manual_dir=manual_dir))
  assert (model_a, model_b, notes) == ("model_a", "model_b", [])
  by_key = {(c.benchmark, c.metric): c for c in comparisons}
  assert set(by_key) == {(b, m) for b in benchmarks for m in benchmark_table.get(b).metrics}
  for benchmark in benchmarks:
    energy = by_key[benchmark, "auroc_energy"]
    assert energy.test.method.startswith("bootstrap")
    assert energy.value_b > energy.value_a and energy.test.p_value < 0.05
    assert energy.test.ci_low <= energy.test.difference <= energy.test.ci_high
    msp = by_key[benchmark, "auroc_msp"]
    assert msp.value_a == msp.value_b and msp.test.difference == 0
  assert "openood_far" in compare.format_comparison(model_a, model_b, comparisons)


def test_predictions_of_a_run_folder_and_the_report(tmp_path, quiet_tf_env):
  id_numbers = range(1, 31)
  manual_dir = _manual_dir(tmp_path, id_numbers)
  by_source = _by_source(manual_dir, np.random.default_rng(5), id_numbers)
  run = _write_run(tmp_path / "run", "model_r", by_source, manual_dir, ("openood_ninco",))

  # Files of the run's predictions/ folder map back to their sources.
  files = [str(tmp_path / "run" / "predictions" / n) for n in
           json.loads((tmp_path / "run" / "predictions" / "index.json").read_text()).values()]
  config = run_config.build({"predictions": ",".join(files), "benchmarks": ["openood_near"],
                             "manual_dir": manual_dir}, ["predictions", "benchmarks",
                                                         "manual_dir"])
  assert config.prediction_run == str(run) and config.prediction_run_whole
  assert config.benchmark_ids == ("openood_near",)
  # This run's results.json names no benchmarks in its provenance.
  with pytest.raises(errors.UserError, match="name them with --benchmarks"):
    run_config.build({"predictions": str(run)}, ["predictions"])

  out = tmp_path / "out"
  proc = subprocess.run(
      [sys.executable, "-m", "tfds_bench.bench_main", f"--predictions={run}",
       "--benchmarks=openood_near,openood_far", f"--manual_dir={manual_dir}",
       f"--output_dir={out}"], capture_output=True, text=True, env=quiet_tf_env, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  records = json.loads((out / "results.json").read_text())["results"]
  want = scoring_rows.score_rows([benchmark_table.get("openood_near")], by_source,
                                 ScoringOptions(manual_dir=manual_dir))
  got = {(r["benchmark"], r["metric"]): r for r in records}
  assert {r["model"] for r in records} == {"model_r"}
  for result in want:
    assert got["openood_near", result.metric]["value"] == pytest.approx(result.value)
    assert got["openood_near", result.metric]["ci_low"] == pytest.approx(result.ci_low)
  for score in ("msp",) + LOGIT_OOD_SCORES:
    assert (out / f"openood_{score}_model_r.png").read_bytes()[:4] == b"\x89PNG"

  report = tmp_path / "report"
  proc = subprocess.run(
      [sys.executable, "-m", "tfds_bench.bench_main", f"--report={out / 'results.json'}",
       f"--manual_dir={manual_dir}", f"--output_dir={report}"],
      capture_output=True, text=True, env=quiet_tf_env, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  text = (report / "report.md").read_text()
  assert "## OOD detection (OpenOOD v1.5, ImageNet-1k)" in text
  for score in ("msp",) + LOGIT_OOD_SCORES:
    assert f"| model_r | {score} |" in text
    assert f"](openood_{score}_model_r.png)" in text
    assert (report / f"openood_{score}_model_r.png").is_file()


def test_multi_source_rows_from_one_file_point_to_the_run_folder(tmp_path):
  from tfds_bench import evaluate  # pylint: disable=g-import-not-at-top
  p = _scored(_val_names(range(1, 4)), np.random.default_rng(6))
  with pytest.raises(errors.UserError, match="--predictions=RUN_DIR"):
    evaluate.score_predictions(p, ["openood_ninco"], "m")


def test_listing_shows_the_rows():
  from tfds_bench import bench_main  # pylint: disable=g-import-not-at-top
  listing = bench_main._listing()  # pylint: disable=protected-access
  for benchmark_id in ROWS:
    assert f"  {benchmark_id} " in listing
  assert "fpr95_openood_energy" in listing
