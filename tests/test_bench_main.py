"""bench_main end to end, as a user runs it (subprocesses of the console script)."""

import json
import os
import subprocess
import sys

import pytest

BENCH_MAIN = [sys.executable, "-m", "tfds_bench.bench_main"]


def run_bench_main(args, env, cwd):
  return subprocess.run(BENCH_MAIN + args, capture_output=True, text=True, env=env, cwd=cwd,
                        timeout=600)


def test_image_folder_with_chelsea_and_coffee_scores_top1_one(cat_and_coffee_folder, tmp_path,
                                                              quiet_tf_env):
  out = tmp_path / "out"
  proc = run_bench_main(["--model=efficientnet", f"--image_folder={cat_and_coffee_folder}",
                         f"--output_dir={out}", "--progress=false"], quiet_tf_env, tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  payload = json.loads((out / "results.json").read_text())
  by_metric = {r["metric"]: r for r in payload["results"]}
  assert by_metric["top1"]["value"] == 1.0 and by_metric["top1"]["n"] == 2
  assert by_metric["top1"]["benchmark"] == "image_folder"
  assert by_metric["top1"]["model"] == "efficientnet_lite0"
  assert "efficientnet_lite0  image_folder  top1" in proc.stdout
  csv_lines = (out / "results.csv").read_text().splitlines()
  # The first six columns stay where existing readers expect them.
  assert csv_lines[0] == "model,benchmark,metric,value,n,suite_version,ci_low,ci_high,ci_method"
  assert "efficientnet_lite0,image_folder,top1,1.0,2," in csv_lines[1]
  # 2 of 2 right: the exact binomial interval is [(0.025)^(1/2), 1].
  assert by_metric["top1"]["ci_method"] == "clopper_pearson"
  assert by_metric["top1"]["ci_low"] == pytest.approx(0.025 ** 0.5)
  assert by_metric["top1"]["ci_high"] == 1.0
  index = json.loads((out / "predictions" / "index.json").read_text())
  assert index == {"image_folder": "image_folder.npz"}
  # The kept predictions rescore to the same figures, and a run compared with
  # itself differs by nothing.
  proc = run_bench_main([f"--compare={out},{out}"], quiet_tf_env, tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "| image_folder | top1 | 100.00% | 100.00% | +0.00 | 0 vs 0 discordant | 1 |" in (
      proc.stdout)
  provenance = payload["provenance"]
  assert provenance["weights_sha256"] and len(provenance["weights_sha256"]) == 64
  assert provenance["preprocessing"]["input_size"] == 224


def test_list_shows_models_and_benchmarks(tmp_path, quiet_tf_env):
  proc = run_bench_main(["--list"], quiet_tf_env, tmp_path)
  assert proc.returncode == 0
  assert "efficientnet_lite0" in proc.stdout and "alias of efficientnet_lite0" in proc.stdout
  for benchmark in ("sample", "imagenet2012_real", "imagenet_v2/matched-frequency",
                    "imagenet_a", "imagenet_o"):
    assert f"  {benchmark} " in proc.stdout


def test_imagenet_p_without_archives_falls_back_to_sample_p(tmp_path):
  # The table decides, so the library and the CLI behave the same.
  from tfds_bench import benchmark_table
  from tfds_bench.sources import DataOptions
  data = DataOptions(manual_dir=str(tmp_path))
  rows, notices = benchmark_table.resolve(["imagenet2012", "imagenet_p"], data)
  assert [r.id for r in rows] == ["imagenet2012", "sample_p"]
  assert len(notices) == 1 and "running sample_p instead of imagenet_p" in notices[0]
  (tmp_path / "ILSVRC2012_img_val.tar").write_bytes(b"")  # can generate: no fallback
  rows, notices = benchmark_table.resolve(["imagenet_p"], data)
  assert [r.id for r in rows] == ["imagenet_p"] and not notices


def test_a_benchmark_named_twice_runs_once():
  from tfds_bench import benchmark_table
  from tfds_bench.sources import DataOptions
  rows, _ = benchmark_table.resolve(["sample", "sample_p", "sample"], DataOptions())
  assert [r.id for r in rows] == ["sample", "sample_p"]


# ------------------------------------------------------------- the command line

MISTAKES = [
    (["--predictions=p.npz", "--benchmarks=imagenet2012", "--model=resnet50"],
     "--model has no effect with --predictions"),
    (["--image_folder=.", "--benchmarks=sample"],
     "--image_folder is read only by image_folder, image_folder_per_class, "
     "image_folder_metaclass, which the chosen benchmarks (sample) leave out"),
    (["--corrupt_on_the_fly"], "--corrupt_on_the_fly is read only by imagenet_c"),
    (["--real_threshold=0.5", "--benchmarks=sample"],
     "--real_threshold is read only by imagenet2012_real"),
    (["--benchmarks="], "--benchmarks is empty"),
    (["--benchmarks=sample,sample_c,sample"], "--benchmarks names sample more than once"),
    (["--list", "--output_dir=out"], "--output_dir has no effect with --list"),
    (["--report=r.json", "--model=resnet50"], "--model has no effect with --report"),
    (["--compare=a,b", "--benchmarks=sample"], "--benchmarks has no effect with --compare"),
    (["--real_threshold=1.5"], "--real_threshold=1.5: a Dawid-Skene score threshold"),
    (["--batch_size=0"], "--batch_size=0: must be positive"),
    (["--output_dir=a_file"], "--output_dir=a_file is a file, not a folder"),
    (["--output_dir=a_file/sub"], "--output_dir=a_file/sub cannot be written"),
    (["--data_dir=a_file"], "--data_dir=a_file is a file"),
    (["--model=model.h5"], "only registered names (see --list) and .keras files"),
    (["--model=efficientnet", "--weights=a_file"],
     "efficientnet_lite0 reads its weights from a .pth / .pt file"),
    (["--model=resnet_9000"], "unknown model 'resnet_9000'"),
    (["--model=resnet50"], "needs its ImageNet weights as a local file"),
    (["--benchmarks=imagenet_z"], "unknown benchmark 'imagenet_z'"),
    (["--image_folder=~/no_such_folder"], "image folder not found: {home}/no_such_folder"),
    (["--predictions=$NO_SUCH/p.npz", "--benchmarks=imagenet2012"],
     "predictions file not found: {tmp}/nothing/p.npz"),
    # The scaling flags, checked the same way.
    (["--shard=0/2"], "--shard needs --output_dir"),
    (["--shard=2/2", "--output_dir=out"], "--shard='2/2': I must be 0..N-1"),
    (["--tpu=my-tpu"], "--tpu has no effect with --strategy=none"),
    (["--strategy=multi_worker"], "TF_CONFIG environment variable, which is not set"),
    (["--data_service=local:0"], "local:N wants N >= 1"),
    (["--data_service=http://x"], "expected grpc://HOST:PORT"),
    (["--predictions=p.npz", "--benchmarks=sample", "--shard=0/2"],
     "--shard has no effect with --predictions"),
    (["--report=r.json", "--data_service=local:2"], "--data_service has no effect with --report"),
    (["--predictions=$NO_SUCH/shard-*.npz"], "no file matches"),
]


def test_flag_mistakes_are_found_before_tensorflow_loads(tmp_path, quiet_tf_env, check_flags):
  # Principles: a flag its mode would ignore is an error naming both flags; a
  # repeated id is an error; paths expand ~ and $VARS; every path and flag
  # mistake is found without loading TensorFlow (so in about a second).
  (tmp_path / "a_file").write_text("x")
  home = tmp_path / "home"
  home.mkdir()
  env = dict(quiet_tf_env, HOME=str(home), NO_SUCH=str(tmp_path / "nothing"))
  result = check_flags([args for args, _ in MISTAKES], env, tmp_path)
  for (args, expected), outcome in zip(MISTAKES, result["outcomes"]):
    assert expected.format(home=home, tmp=tmp_path) in outcome, (args, outcome)
  assert not result["tensorflow"]


def test_path_flags_expand_home_and_environment_variables(tmp_path, quiet_tf_env):
  home = tmp_path / "home"
  (home / "runs").mkdir(parents=True)
  (home / "runs" / "results.json").write_text(json.dumps(
      [{"model": "m", "benchmark": "sample", "metric": "top1", "value": 0.5, "n": 2}]))
  env = dict(quiet_tf_env, HOME=str(home), OUT_ROOT=str(tmp_path / "reports"))
  proc = run_bench_main(["--report=~/runs/results.json", "--output_dir=$OUT_ROOT/r"], env,
                        tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert os.listdir(tmp_path / "reports" / "r")
  assert not os.path.exists(tmp_path / "~") and not os.path.exists(tmp_path / "$OUT_ROOT")


def _console_script():
  return os.path.join(os.path.dirname(sys.executable), "bench_main")


def test_help_of_the_console_script_lists_the_flags_and_exit_codes(tmp_path, quiet_tf_env):
  proc = subprocess.run([_console_script(), "--help"], capture_output=True, text=True,
                        env=quiet_tf_env, cwd=tmp_path, timeout=120)
  assert proc.returncode == 1  # absl's --help exits 1, as documented
  assert "--benchmarks: Benchmark ids" in proc.stdout
  assert "Exit codes: 0 success; 1 a flag that cannot be parsed" in proc.stdout


def test_absl_verbosity_is_honoured_and_warning_is_the_default(tmp_path, quiet_tf_env):
  (tmp_path / "results.json").write_text(json.dumps(
      [{"model": "m", "benchmark": "sample", "metric": "top1", "value": 0.5, "n": 2}]))
  info_line = "bench_main: report, model"
  quiet = run_bench_main(["--report=results.json"], quiet_tf_env, tmp_path)
  chatty = run_bench_main(["--report=results.json", "--verbosity=0"], quiet_tf_env, tmp_path)
  assert quiet.returncode == chatty.returncode == 0
  assert info_line not in quiet.stderr
  assert info_line in chatty.stderr


def test_unparsable_flag_exits_1_user_mistake_exits_2(tmp_path, quiet_tf_env):
  assert run_bench_main(["--batch_size=many"], quiet_tf_env, tmp_path).returncode == 1
  assert run_bench_main(["--benchmarks="], quiet_tf_env, tmp_path).returncode == 2


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, quiet_tf_env):
  import signal
  import numpy as np
  from tests.conftest import write_jpeg
  # Enough images that the run is still going when the signal lands.
  for i in range(200):
    write_jpeg(tmp_path / "images" / "n02123159" / f"{i}.JPEG",
               np.random.default_rng(i).integers(0, 256, (64, 64, 3), np.uint8))
  proc = subprocess.Popen(BENCH_MAIN + [f"--image_folder={tmp_path / 'images'}",
                                        "--batch_size=1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=quiet_tf_env,
                          cwd=tmp_path)
  # Interrupted during the forward pass: once its progress bar shows.
  before = b""
  while b"on image_folder" not in before:
    chunk = os.read(proc.stderr.fileno(), 4096)
    assert chunk, before.decode()[-3000:]
    before += chunk
  proc.send_signal(signal.SIGINT)
  stdout, after = proc.communicate(timeout=120)
  assert proc.returncode == 130, after.decode()[-3000:]
  lines = [line.strip() for line in after.decode().replace("\r", "\n").splitlines()]
  assert [line for line in lines if line] == ["bench_main: interrupted (Ctrl-C)"]
  assert stdout == b""


def _results_minus_date(output_dir):
  payload = json.loads((output_dir / "results.json").read_text())
  payload["provenance"].pop("date")
  payload["provenance"]["command"] = payload["provenance"]["command"].replace(
      str(output_dir), "OUTPUT_DIR")
  return json.dumps(payload, sort_keys=True), (output_dir / "results.csv").read_bytes()


@pytest.mark.reads_default_command_runs
def test_default_command_runs_the_sample_suite_offline(default_command_runs):
  # The first run on a fresh data_dir (started with the session, conftest.py).
  from tfds_bench import benchmark_table  # pylint: disable=g-import-not-at-top
  tmp_path, proc = default_command_runs.tmp_path, default_command_runs.first()
  assert proc.returncode == 0, proc.stderr[-3000:]
  records = json.loads((tmp_path / "first_run" / "results.json").read_text())["results"]
  sample = {r["metric"]: r["n"] for r in records if r["benchmark"] == "sample"}
  assert {"top1", "top5", "real_top1", "real_top5", "ece"} <= set(sample)
  assert set(sample.values()) == {7}
  # --list promises exactly what each row can produce (metric families).
  for benchmark in ("sample", "sample_c"):
    listed = {m.split("/<")[0] for m in benchmark_table.get(benchmark).metrics}
    reported = {r["metric"] for r in records if r["benchmark"] == benchmark}
    families = {m if "/" not in m else m.split("/")[0] for m in reported}
    assert families == listed, (benchmark, families, listed)
  corrupted = {r["metric"]: r["n"] for r in records if r["benchmark"] == "sample_c"}
  # 15 test corruptions x 5 severities x 7 photos behind mCE.
  assert corrupted["mce"] == corrupted["relative_mce"] == 525
  assert corrupted["error/glass_blur_3"] == 7 and corrupted["error/glass_blur"] == 35
  assert len([m for m in corrupted if m.startswith("error/")]) == 19 * 6
  # The console shows per-corruption means in the paper's order, not the 95 severities.
  assert "error/glass_blur_3" not in proc.stdout
  assert proc.stdout.index("error/gaussian_noise") < proc.stdout.index("error/glass_blur")


@pytest.mark.reads_default_command_runs
def test_second_run_reuses_the_data_and_gives_byte_identical_results(default_command_runs):
  # The same command again on the first run's data_dir, as a user would;
  # ``prepared``: the data_dir's files between the two runs.
  tmp_path, first = default_command_runs.tmp_path, default_command_runs.first()
  assert first.returncode == 0, first.stderr[-2000:]
  second = default_command_runs.second()
  prepared = default_command_runs.prepared
  assert second.returncode == 0, second.stderr[-2000:]
  # Prepared once: the second run reads the data_dir and writes nothing there.
  assert any(p.name.endswith(".tfrecord-00000-of-00001") for p in prepared)
  assert prepared == {p: p.stat().st_mtime_ns for p in (tmp_path / "tfds").rglob("*")
                      if p.is_file()}
  assert (_results_minus_date(tmp_path / "first_run")
          == _results_minus_date(tmp_path / "second_run"))
