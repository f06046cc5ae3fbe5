"""Past one machine: multi-worker evaluation, a tf.data service and sharded
evaluation give what one process gives (README, "Scaling out"), run as the
README runs them: separate `bench_main` processes on localhost (two workers
with TF_CONFIG; a dispatcher and two workers of `python -m
tfds_bench.data_service`; two shards then a merge), each run's results.json
against a one-process `bench_main` run's. Missing peers and dispatchers end in
one line after --connect_timeout, and Ctrl-C ends every wait with exit 130."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tfds_bench import errors, evaluate, input_pipeline, shards
from tfds_bench import data_service as data_service_lib
from tfds_bench.sources import DataOptions
from tfds_bench.predictions import EXAMPLE_ID

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_SIZE = 7


@pytest.fixture(scope="module")
def sample_data_dir(tmp_path_factory) -> str:
  """A data_dir with bench_sample prepared (the workers only read it)."""
  data_dir = str(tmp_path_factory.mktemp("tfds_scaling"))
  input_pipeline.load_split("bench_sample", "test", data_dir=data_dir)
  return data_dir


@pytest.fixture(scope="module")
def unsharded(sample_data_dir):
  return evaluate.predict_benchmarks("efficientnet", ["sample"], batch_size=3,
                                     data=DataOptions(data_dir=sample_data_dir))


def _same_predictions(a, b):
  assert a.file_name.tolist() == b.file_name.tolist()
  assert a.label.tolist() == b.label.tolist()
  assert np.array_equal(a.top5, b.top5)
  np.testing.assert_allclose(a.confidence, b.confidence, rtol=0, atol=1e-6)
  assert a.extras.keys() == b.extras.keys()
  for key in a.extras:
    assert np.array_equal(a.extras[key], b.extras[key]), key


# --- the replica step carries no strings ------------------------------------------

def test_predict_step_takes_and_returns_only_numbers(sample_data_dir, lite0_model):
  del lite0_model
  from tfds_bench import models
  spec = models.get("efficientnet")
  examples = input_pipeline.with_example_ids(
      input_pipeline.load_split("bench_sample", "test", data_dir=sample_data_dir))
  batched = input_pipeline.batches(examples, spec.preprocessing, 4)
  step = evaluate.make_predict_step(spec.build(None), spec)
  batch = next(iter(batched))
  numeric = {k: v for k, v in batch.items() if k != "file_name"}
  out = step(numeric)
  assert all(v.dtype.is_integer or v.dtype.is_floating or v.dtype.is_bool
             for v in list(numeric.values()) + list(out.values()))
  assert out[EXAMPLE_ID].numpy().tolist() == [0, 1, 2, 3]


# --- sharded evaluation -----------------------------------------------------------

def _write_shards(unsharded_run, data_dir, folder, count):
  del unsharded_run
  paths = []
  for index in range(count):
    predicted = evaluate.predict_benchmarks(
        "efficientnet", ["sample"], batch_size=3, data=DataOptions(data_dir=data_dir),
        shard=(index, count))
    path = os.path.join(folder, shards.shard_file_name(index, count))
    shards.write_shard(path, predicted.spec.name, [b.id for b in predicted.benchmarks],
                       predicted.by_source, (index, count))
    paths.append(path)
  return paths


def test_three_shards_merged_equal_the_unsharded_run(tmp_path, sample_data_dir, unsharded):
  paths = _write_shards(unsharded, sample_data_dir, tmp_path, 3)
  model, benchmark_ids, by_source = shards.merge_shards(shards.expand(
      [str(tmp_path / "predictions-shard-*.npz")]))
  assert model == unsharded.spec.name and benchmark_ids == ["sample"]
  assert by_source.keys() == unsharded.by_source.keys()
  for key, merged in by_source.items():
    assert len(merged) == SAMPLE_SIZE
    _same_predictions(merged, unsharded.by_source[key])
  scored = evaluate.score_sources(model, benchmark_ids, by_source)
  direct = evaluate.score_sources(model, benchmark_ids, unsharded.by_source)
  assert [(r.metric, r.value, r.n) for r in scored.results] == \
      [(r.metric, r.value, r.n) for r in direct.results]

  # A shard missing, or given twice under another name: clear errors.
  with pytest.raises(errors.UserError, match=r"missing shards: 1/3 .*--shard=I/3"):
    shards.merge_shards([paths[0], paths[2]])
  copy = str(tmp_path / "copy_of_shard_0.npz")
  shutil.copy(paths[0], copy)
  with pytest.raises(errors.UserError, match="overlapping shards: .* both shard 0/3"):
    shards.merge_shards(paths + [copy])


def test_shard_flag_text_is_checked():
  assert shards.parse_shard("2/5") == (2, 5)
  for bad in ("5/5", "1", "a/b", "-1/3"):
    with pytest.raises(errors.UserError, match="--shard"):
      shards.parse_shard(bad)


def test_plain_predictions_files_are_concatenated_and_overlaps_refused(tmp_path):
  from tfds_bench import predictions
  logits = np.random.default_rng(0).normal(size=(4, 1000))
  names = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 5)]
  for part, rows in (("a", slice(0, 2)), ("b", slice(2, 4)), ("c", slice(1, 3))):
    np.savez(tmp_path / f"{part}.npz", file_name=np.array(names[rows]), logits=logits[rows])
  loaded = [(str(tmp_path / f"{p}.npz"), predictions.load_npz(str(tmp_path / f"{p}.npz")))
            for p in "ab"]
  assert shards.concatenate_files(loaded).file_name.tolist() == names
  loaded.append((str(tmp_path / "c.npz"), predictions.load_npz(str(tmp_path / "c.npz"))))
  with pytest.raises(errors.UserError, match="overlapping predictions files"):
    shards.concatenate_files(loaded)
  with pytest.raises(errors.UserError, match="no file matches"):
    shards.expand([str(tmp_path / "nothing-*.npz")])


# --- tf.data service --------------------------------------------------------------

def test_data_service_with_two_workers_equals_the_local_pipeline(sample_data_dir, unsharded):
  address, servers = data_service_lib.start_local(2)
  assert len(servers) == 3
  served = evaluate.predict_benchmarks(
      "efficientnet", ["sample"], batch_size=3,
      data=DataOptions(data_dir=sample_data_dir, data_service=address))
  assert served.by_source.keys() == unsharded.by_source.keys() and served.by_source
  for key, p in served.by_source.items():
    assert len(p) == SAMPLE_SIZE, key  # an empty result is a failure, not a pass
    _same_predictions(p, unsharded.by_source[key])


# --- the command line -------------------------------------------------------------

BENCH_MAIN = [sys.executable, "-m", "tfds_bench.bench_main", "--progress=false"]


def _env(quiet_tf_env, **extra):
  return dict(quiet_tf_env, CUDA_VISIBLE_DEVICES="",
              PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra)


def _bench_main(env, *args):
  proc = subprocess.run(BENCH_MAIN + list(args), capture_output=True, text=True,
                        env=_env(env), timeout=600, check=False)
  return proc


def _figures(output_dir):
  """results.json's (benchmark, metric, n) -> value."""
  with open(os.path.join(output_dir, "results.json"), encoding="utf-8") as f:
    records = json.load(f)["results"]
  return {(r["benchmark"], r["metric"], r["n"]): r["value"] for r in records}


def _same_figures(output_dir, expected):
  got = _figures(output_dir)
  assert got.keys() == expected.keys() and got
  for key, value in expected.items():
    assert got[key] == pytest.approx(value, rel=0, abs=1e-9), key


@pytest.fixture(scope="module")
def one_process(sample_data_dir, tmp_path_factory):
  """results.json figures of one `bench_main` process on the sample benchmark."""
  out = tmp_path_factory.mktemp("one_process")
  proc = subprocess.run(BENCH_MAIN + [f"--data_dir={sample_data_dir}", "--benchmarks=sample",
                                      "--batch_size=2", f"--output_dir={out}"],
                        capture_output=True, text=True, timeout=600, check=False,
                        env=_env(dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")))
  assert proc.returncode == 0, proc.stderr[-3000:]
  figures = _figures(out)
  assert {key[2] for key in figures} == {SAMPLE_SIZE}
  return figures


def _tf_config(ports, index):
  return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                     "task": {"type": "worker", "index": index}})


def _finish(procs, timeout=600):
  """(returncode, stdout, stderr) of each process; none is left running."""
  try:
    outputs = [p.communicate(timeout=timeout) for p in procs]
    return [(p.returncode, *output) for p, output in zip(procs, outputs)]
  finally:
    _kill_leftovers(procs)


def _kill_leftovers(procs):
  for p in procs:
    if p.poll() is None:
      p.kill()
      p.wait()


def test_bench_main_on_two_workers_equals_one_process(tmp_path, sample_data_dir, one_process,
                                                     quiet_tf_env):
  ports = [data_service_lib.free_port() for _ in range(2)]
  procs = [subprocess.Popen(
      BENCH_MAIN + ["--strategy=multi_worker", f"--data_dir={sample_data_dir}",
                    "--benchmarks=sample", "--batch_size=2",
                    f"--output_dir={tmp_path / f'worker{index}'}"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=_env(quiet_tf_env, TF_CONFIG=_tf_config(ports, index))) for index in range(2)]
  for returncode, stdout, stderr in _finish(procs):
    assert returncode == 0, stderr[-3000:]
    assert "top1" in stdout  # every worker prints the table
  _same_figures(tmp_path / "worker0", one_process)
  assert not os.path.exists(tmp_path / "worker1" / "results.json")  # the first host writes


def test_bench_main_on_a_data_service_of_two_worker_processes_equals_one_process(
    tmp_path, sample_data_dir, one_process, quiet_tf_env):
  dispatcher_port, *worker_ports = [data_service_lib.free_port() for _ in range(3)]
  service = [sys.executable, "-m", "tfds_bench.data_service"]
  env = _env(quiet_tf_env)
  procs = [subprocess.Popen(
      service + ["dispatcher", f"--port={dispatcher_port}",
                 "--workers=" + ",".join(f"localhost:{p}" for p in worker_ports)],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)]
  procs += [subprocess.Popen(
      service + ["worker", f"--port={p}", f"--dispatcher=localhost:{dispatcher_port}"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for p in worker_ports]
  try:
    proc = _bench_main(quiet_tf_env, f"--data_service=grpc://localhost:{dispatcher_port}",
                       f"--data_dir={sample_data_dir}", "--benchmarks=sample",
                       "--batch_size=2", f"--output_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    _same_figures(tmp_path, one_process)
    _dispatcher_lost_midway(quiet_tf_env, sample_data_dir, procs[0], dispatcher_port)
    # Ctrl-C stops the workers (`python -m tfds_bench.data_service`) with 130.
    for p in procs[1:]:
      p.send_signal(signal.SIGINT)
    assert [code for code, *_ in _finish(procs[1:], timeout=60)] == [130] * 2
  finally:
    _kill_leftovers(procs)


def _dispatcher_lost_midway(quiet_tf_env, sample_data_dir, dispatcher, port):
  """The dispatcher killed once bench_main's forward pass has started (its
  progress bar shows): one line naming its address after --connect_timeout
  of silence, exit 2 (TensorFlow's client alone would wait forever)."""
  proc = subprocess.Popen(
      [sys.executable, "-m", "tfds_bench.bench_main", f"--data_service=grpc://localhost:{port}",
       f"--data_dir={sample_data_dir}", "--benchmarks=sample", "--batch_size=1",
       "--connect_timeout=3"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(quiet_tf_env))
  try:
    seen = b""
    while b"on sample" not in seen:
      chunk = os.read(proc.stderr.fileno(), 4096)
      assert chunk, seen.decode()[-3000:]
      seen += chunk
    dispatcher.kill()
    start = time.monotonic()
    _, stderr = proc.communicate(timeout=120)
    stderr = stderr.decode()
    assert proc.returncode == 2, stderr[-3000:]
    assert time.monotonic() - start < 60
    (line,) = [l for l in stderr.splitlines() if l.startswith("bench_main: error:")]
    assert line.startswith(f"bench_main: error: --data_service=grpc://localhost:{port}: the "
                           f"tf.data service dispatcher at localhost:{port} stopped answering")
  finally:
    _kill_leftovers([proc])


def test_waits_end_in_one_line_after_connect_timeout_or_130_on_ctrl_c(quiet_tf_env):
  """A missing peer, dispatcher or TPU worker: one line naming its address
  after --connect_timeout (exit 2); a live dispatcher whose worker never
  registers: one line once no batch came for --connect_timeout; Ctrl-C
  during the same waits: exit 130 within seconds; no TPU at all: one line.
  The processes run side by side."""
  silent = data_service_lib.free_port()
  own = [data_service_lib.free_port() for _ in range(2)]
  # A dispatcher waiting for a worker at `silent`, in this process (started at
  # once, kept referenced until the end of the test).
  lonely = data_service_lib.free_port()
  dispatcher = data_service_lib.start_dispatcher(lonely, [f"localhost:{silent}"])
  timed_out = {
      f"--strategy=multi_worker: no answer from worker 1 at localhost:{silent} within "
      "--connect_timeout=2 s": (["--strategy=multi_worker"],
                                {"TF_CONFIG": _tf_config([own[0], silent], 0)}),
      f"--data_service=grpc://localhost:{silent}: no answer from the tf.data service "
      f"dispatcher at localhost:{silent} within --connect_timeout=2 s": (
          [f"--data_service=grpc://localhost:{silent}"], {}),
      f"--strategy=tpu: no answer from the TPU worker at localhost:{silent} within "
      "--connect_timeout=2 s": (["--strategy=tpu", f"--tpu=grpc://localhost:{silent}"], {}),
      "--strategy=tpu: cannot reach a TPU on this machine (": (["--strategy=tpu"], {}),
  }
  interrupted = [(["--strategy=multi_worker"], {"TF_CONFIG": _tf_config([silent, own[1]], 1)}),
                 ([f"--data_service=grpc://localhost:{silent}"], {})]

  def start(args, env, *extra):
    return subprocess.Popen(BENCH_MAIN + args + ["--benchmarks=sample", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(quiet_tf_env, **env))

  timing_out = [start(args, env, "--connect_timeout=2") for args, env in timed_out.values()]
  waiting = [start(args, env) for args, env in interrupted]
  stalled = start([f"--data_service=grpc://localhost:{lonely}", "--connect_timeout=3"], {})
  try:
    for proc in waiting:
      line = proc.stderr.readline()  # the wait announces itself after a moment
      assert line.startswith("bench_main: waiting for ") and f"localhost:{silent}" in line
      proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    for proc in waiting:
      _, stderr = proc.communicate(timeout=30)
      assert proc.returncode == 130, stderr
      assert stderr.strip() == "bench_main: interrupted (Ctrl-C)"
    assert time.monotonic() - sent < 10
    for expected, proc in zip(timed_out, timing_out):
      _, stderr = proc.communicate(timeout=300)
      assert proc.returncode == 2, stderr[-3000:]
      assert "Traceback" not in stderr
      (line,) = [l for l in stderr.splitlines() if l.startswith("bench_main: error:")]
      assert line.startswith("bench_main: error: " + expected), line
      assert "raise --connect_timeout" in line or "or use --strategy=mirrored / none" in line
    _, stderr = stalled.communicate(timeout=300)
    assert stalled.returncode == 2, stderr[-3000:]
    (line,) = [l for l in stderr.splitlines() if l.startswith("bench_main: error:")]
    assert line.startswith(
        f"bench_main: error: --data_service=grpc://localhost:{lonely}: no batch from the "
        "tf.data service within --connect_timeout=3 s although its dispatcher at "
        f"localhost:{lonely} answers: its workers never registered or stopped; "), line
    assert "Traceback" not in stderr
  finally:
    _kill_leftovers(timing_out + waiting + [stalled])
    del dispatcher  # collected, it stops


def test_bench_main_shards_then_scores_the_merged_files(tmp_path, sample_data_dir, unsharded,
                                                        one_process, quiet_tf_env):
  # The two shards as two processes side by side, as on two hosts.
  procs = [subprocess.Popen(
      BENCH_MAIN + [f"--data_dir={sample_data_dir}", "--benchmarks=sample",
                    f"--shard={index}/2", f"--output_dir={tmp_path}", "--batch_size=3"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(quiet_tf_env))
           for index in range(2)]
  for returncode, _, stderr in _finish(procs):
    assert returncode == 0, stderr[-2000:]
  proc = _bench_main(quiet_tf_env, f"--predictions={tmp_path}/predictions-shard-*.npz",
                     f"--output_dir={tmp_path / 'merged'}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  _same_figures(tmp_path / "merged", one_process)
  merged = json.loads((tmp_path / "merged" / "results.json").read_text())
  direct = evaluate.score_sources(unsharded.spec.name, ["sample"], unsharded.by_source)
  # The results file's records: model, benchmark, metric, value, n, suite_version.
  assert [(r["metric"], r["n"]) for r in merged["results"]] == \
      [(r.metric, r.n) for r in direct.results]
  np.testing.assert_allclose([r["value"] for r in merged["results"]],
                             [r.value for r in direct.results], rtol=0, atol=1e-9)
  # Merged shards get intervals and keep their predictions, as any run does.
  assert all(r["ci_method"] for r in merged["results"] if r["metric"] == "top1")
  assert json.loads((tmp_path / "merged" / "predictions" / "index.json").read_text())

  (tmp_path / shards.shard_file_name(1, 2)).unlink()
  proc = _bench_main(quiet_tf_env, f"--predictions={tmp_path}/predictions-shard-*.npz")
  assert proc.returncode == 2 and "missing shards: 1/2" in proc.stderr


def test_remote_data_service_with_corruption_on_the_fly_is_refused(quiet_tf_env):
  proc = _bench_main(quiet_tf_env, "--data_service=grpc://localhost:1",
                     "--corrupt_on_the_fly", "--benchmarks=sample")
  assert proc.returncode == 2
  assert "--data_service=local:N" in proc.stderr and "PIL" in proc.stderr


def test_a_worker_lost_midway_ends_the_other_with_one_line_naming_it(sample_data_dir,
                                                                    quiet_tf_env):
  """Worker 1 killed once its forward pass has started (its progress bar
  shows): worker 0 ends with one `bench_main: error:` line naming worker 1's
  address, exit 2, no traceback."""
  ports = [data_service_lib.free_port() for _ in range(2)]
  command = [sys.executable, "-m", "tfds_bench.bench_main", "--strategy=multi_worker",
             f"--data_dir={sample_data_dir}", "--benchmarks=sample", "--batch_size=1"]
  procs = [subprocess.Popen(command + [f"--progress={index == 1}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env=_env(quiet_tf_env, TF_CONFIG=_tf_config(ports, index)))
           for index in range(2)]
  try:
    seen = b""
    while b"on sample" not in seen:
      chunk = os.read(procs[1].stderr.fileno(), 4096)
      assert chunk, seen.decode()[-3000:]
      seen += chunk
    procs[1].kill()
    _, stderr = procs[0].communicate(timeout=300)
    stderr = stderr.decode()
    assert procs[0].returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr
    (line,) = [l for l in stderr.splitlines() if l.startswith("bench_main: error:")]
    assert line.startswith(f"bench_main: error: --strategy=multi_worker: lost worker 1 at "
                           f"localhost:{ports[1]} (")
    assert line.endswith("restart the command on every task of TF_CONFIG")
  finally:
    _kill_leftovers(procs)


# --- accelerators that are not there or too small ------------------------------------

def test_exhausted_device_memory_is_one_line_naming_a_smaller_batch(monkeypatch, capsys):
  """TensorFlow's own ResourceExhaustedError in place of the forward pass, as
  its allocator raises it, ends bench_main with one line, exit 2. (Raised
  here rather than provoked: TensorFlow's CPU allocator retries a failed
  allocation for 10 s before raising it.)"""
  import tensorflow as tf
  from tfds_bench import bench_main

  def exhausting_evaluation(*args, **kwargs):
    del args, kwargs
    raise tf.errors.ResourceExhaustedError(
        None, None, "OOM when allocating tensor with shape[4398046511104] and type float on "
        "/job:localhost/replica:0/task:0/device:CPU:0 by allocator cpu")

  monkeypatch.setattr(evaluate, "evaluate", exhausting_evaluation)
  bench_main.FLAGS.unparse_flags()
  bench_main.FLAGS(["bench_main", "--batch_size=4096", "--benchmarks=sample",
                    "--progress=false"])
  try:
    with pytest.raises(SystemExit) as exited:
      bench_main.main(["bench_main"])
  finally:
    bench_main.FLAGS.unparse_flags()
  assert exited.value.code == 2
  (line,) = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
  assert line.startswith("bench_main: error: --batch_size=4096 does not fit in the device's "
                         "memory (")
  assert "OOM when allocating tensor" in line
  assert line.endswith("); lower it, e.g. --batch_size=2048")
