"""A run folder round-trips and is never silently replaced.

`--predictions` of a run's whole folder (or its predictions/ folder, or all
its files) reproduces its results.json; a single file of it is labelled with
the run's model; an --output_dir that holds a run is refused unless
--overwrite, which leaves nothing of the earlier run and the folder's other
files in place; an interrupted write loses neither run.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import tfds_bench
from tfds_bench import benchmark_table, reports
from tfds_bench import predictions as predictions_lib
from tfds_bench.reports import atomic
from tfds_bench.scoring import rows as scoring_rows


def _sample_predictions(seed):
  rng = np.random.default_rng(seed)
  n = 12
  label = rng.integers(0, 1000, n)
  top5 = np.stack([rng.permutation(1000)[:5] for _ in range(n)])
  top5[: n // 2, 0] = label[: n // 2]
  real = np.full((n, 8), -1)
  real[:, 0] = label
  return predictions_lib.Predictions(
      file_name=np.array([f"photo_{i}.jpg" for i in range(n)]), label=label, top5=top5,
      confidence=rng.uniform(0.2, 1.0, n), extras={"real_label": real})


def _write_run(folder, model, seed):
  p = _sample_predictions(seed)
  row = benchmark_table.get("sample")
  results = scoring_rows.score_rows([row], {"sample": p})
  records = [{"model": model, "benchmark": r.benchmark, "metric": r.metric, "value": r.value,
              "n": r.n, "suite_version": tfds_bench.__version__, "ci_low": r.ci_low, "ci_high": r.ci_high,
              "ci_method": r.ci_method} for r in results]
  reports.write_run(str(folder), records, {"model": model, "benchmarks": ["sample"]},
                    {"sample": p})
  return records


def _bench_main(args, env, cwd):
  return subprocess.run([sys.executable, "-m", "tfds_bench.bench_main", *args],
                        capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _results(folder):
  return json.loads((folder / "results.json").read_text())["results"]


@pytest.mark.parametrize("given", ["{run}", "{run}/predictions/*.npz"])
def test_a_run_folder_rescored_reproduces_its_results(tmp_path, quiet_tf_env, given):
  run = tmp_path / "run"
  _write_run(run, "my_model", 1)
  proc = _bench_main([f"--predictions={given.format(run=run)}",
                      f"--output_dir={tmp_path / 'again'}"], quiet_tf_env, tmp_path)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert _results(tmp_path / "again") == _results(run)
  assert "my_model" in proc.stdout


def test_one_file_of_a_run_is_labelled_with_the_runs_model(tmp_path, quiet_tf_env):
  run = tmp_path / "run"
  _write_run(run, "my_model", 1)
  proc = _bench_main([f"--predictions={run}/predictions/sample.npz", "--benchmarks=sample"],
                     quiet_tf_env, tmp_path)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "my_model" in proc.stdout and "sample  " in proc.stdout
  assert "oneDNN" not in proc.stderr and "cuda" not in proc.stderr.lower()


def test_an_output_dir_holding_a_run_is_refused_without_overwrite(tmp_path, quiet_tf_env):
  run, out = tmp_path / "run", tmp_path / "out"
  _write_run(run, "my_model", 1)
  first = _write_run(out, "old_model", 2)
  (out / "notes.txt").write_text("mine")
  refused = _bench_main([f"--predictions={run}", f"--output_dir={out}"], quiet_tf_env, tmp_path)
  assert refused.returncode == 2
  assert refused.stderr.strip().splitlines() == [
      f"bench_main: error: --output_dir={out} already holds a run (results.json, "
      "predictions/); give a new folder, or add --overwrite to replace that run with this one"]
  assert _results(out) == first
  replaced = _bench_main([f"--predictions={run}/predictions/sample.npz", "--benchmarks=sample",
                          f"--output_dir={out}", "--overwrite"], quiet_tf_env, tmp_path)
  assert replaced.returncode == 0, replaced.stderr[-2000:]
  assert {r["model"] for r in _results(out)} == {"my_model"}
  assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "predictions", "results.csv",
                                                   "results.json"]
  assert (out / "notes.txt").read_text() == "mine"


def test_an_interrupted_write_keeps_the_earlier_run_whole(tmp_path):
  out = tmp_path / "out"
  first = _write_run(out, "old_model", 2)
  before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
  with pytest.raises(KeyboardInterrupt):
    with atomic.replacing_entries(str(out), reports.results_files.RUN_ENTRIES) as tmp:
      (tmp_path / "out" / tmp.rsplit("/", 1)[1] / "results.json").write_text("{}")
      raise KeyboardInterrupt
  assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
  assert _results(out) == first
