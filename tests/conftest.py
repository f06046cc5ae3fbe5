"""Shared fixtures: a prepared sample suite, the default model, photo folders,
the two-logical-CPU MirroredStrategy harness."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from tfds_bench.corruptions import C_BAR_NAMES


@pytest.fixture(scope="session")
def lite0_model():
  from tfds_bench import models
  return models.load_model("efficientnet")


def write_jpeg(path: pathlib.Path, image: np.ndarray, quality: int = 95) -> None:
  from PIL import Image
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(image).save(path, format="JPEG", quality=quality)


def top1_wrong_predictions(file_names, label, wrong: int):
  """`Predictions` whose top-1 is wrong on the first ``wrong`` images and
  right on the rest (confidences unknown)."""
  from tfds_bench.predictions import Predictions
  label = np.asarray(label, np.int64)
  top1 = label.copy()
  top1[:wrong] = (label[:wrong] + 1) % 1000
  top5 = np.stack([top1] + [(top1 + k) % 1000 for k in range(1, 5)], axis=1)
  return Predictions(file_name=np.asarray(file_names), label=label, top5=top5,
                     confidence=np.full(len(label), np.nan))


@pytest.fixture(scope="session")
def cat_and_coffee_folder(tmp_path_factory) -> str:
  """scikit-image's chelsea under n02123159 (tiger cat), coffee under n07920052 (espresso)."""
  import skimage.data
  root = tmp_path_factory.mktemp("image_folder")
  write_jpeg(root / "n02123159" / "chelsea.JPEG", skimage.data.chelsea())
  write_jpeg(root / "n07920052" / "coffee.JPEG", skimage.data.coffee())
  return str(root)


# The baseline errors the background `sample_c_bar` run is given
# (`<manual_dir>/imagenet_c_bar_baseline.json`; tests/test_imagenet_c_bar.py).
C_BAR_BASELINE = {"errors": {name: 0.5 + 0.04 * k for k, name in enumerate(C_BAR_NAMES)},
                  "clean_error": 0.25}


class DefaultCommandRuns:
  """The default command run twice on one fresh data_dir, the second once the
  first has ended, then `bench_main --benchmarks=sample_c_bar` with a C-bar
  baseline in --manual_dir on a data_dir of its own, all in one background
  thread: `first()`, `second()` and `sample_c_bar()` wait for a run and
  return its `subprocess.CompletedProcess`; ``prepared`` is every default
  data_dir file's mtime between the first two runs."""

  def __init__(self, tmp_path: pathlib.Path):
    self.tmp_path = tmp_path
    self.env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TFDS_DATA_DIR=str(tmp_path / "tfds"))
    self.args = [f"--data_dir={tmp_path / 'tfds'}"]
    manual = tmp_path / "c_bar_manual"
    manual.mkdir()
    (manual / "imagenet_c_bar_baseline.json").write_text(json.dumps(C_BAR_BASELINE))
    self.c_bar_args = ["--benchmarks=sample_c_bar", f"--data_dir={tmp_path / 'c_bar_tfds'}",
                       f"--manual_dir={manual}", "--progress=false"]
    self.prepared = None
    self._done = {}
    self._error = None
    self._running = None
    self._stopped = False
    self._finished = threading.Event()
    self._thread = threading.Thread(target=self._run_all, name="default command", daemon=True)
    self._thread.start()

  def _run(self, args, output: str) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfds_bench.bench_main", *args,
         f"--output_dir={self.tmp_path / output}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
        cwd=self.tmp_path)
    self._running = proc
    stdout, stderr = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

  def _run_all(self):
    try:
      self._done["first"] = self._run(self.args, "first_run")
      self.prepared = {p: p.stat().st_mtime_ns for p in (self.tmp_path / "tfds").rglob("*")
                       if p.is_file()}
      for name, args in (("second", self.args), ("sample_c_bar", self.c_bar_args)):
        if self._stopped:
          break
        self._done[name] = self._run(args, f"{name}_run")
    except Exception as e:  # pylint: disable=broad-except  # raised by first() / second()
      self._error = e
    finally:
      self._finished.set()

  def _wait_for(self, which: str) -> subprocess.CompletedProcess:
    while which not in self._done and not self._finished.wait(0.2):
      pass
    if which not in self._done:
      raise RuntimeError(f"the background {which} run did not happen: {self._error!r}")
    return self._done[which]

  def first(self) -> subprocess.CompletedProcess:
    return self._wait_for("first")

  def second(self) -> subprocess.CompletedProcess:
    return self._wait_for("second")

  def sample_c_bar(self) -> subprocess.CompletedProcess:
    return self._wait_for("sample_c_bar")

  def stop(self):
    self._stopped = True
    if self._running is not None and self._running.poll() is None:
      self._running.kill()
    self._thread.join(60)


@pytest.fixture(scope="session", autouse=True)
def default_command_runs(request, tmp_path_factory):
  """The default command's first and second runs on a fresh data_dir, then a
  `sample_c_bar` run (`DefaultCommandRuns`), started with the session when a
  collected test is marked ``reads_default_command_runs`` (test_bench_main.py,
  test_imagenet_c_bar.py; this
  fixture is autouse, so every test lists it) and running beside the tests before
  them: preparing the sample suite is the suite's costliest step, and one
  core is idle while most tests run. Their own folder and environment, so
  nothing a test changes reaches them. None when no collected test reads
  them."""
  if not any(item.get_closest_marker("reads_default_command_runs")
             for item in request.session.items):
    yield None
    return
  runs = DefaultCommandRuns(tmp_path_factory.mktemp("default_command"))
  yield runs
  runs.stop()


_CHECK_FLAGS_SCRIPT = """
import json, sys
from absl import app, flags
from tfds_bench import bench_main, errors
outcomes = []
for args in json.loads(sys.argv[1]):
  flags.FLAGS.unparse_flags()
  flags.FLAGS(["bench_main", *args])
  try:
    bench_main.check_flags()
    outcomes.append("ok")
  except (app.UsageError, errors.UserError) as e:
    outcomes.append(str(e))
print(json.dumps({"outcomes": outcomes, "tensorflow": "tensorflow" in sys.modules}))
"""


@pytest.fixture
def check_flags():
  """``check(argument lists, env, cwd)`` -> {"outcomes": "ok" or the error of
  each list, "tensorflow": whether it was loaded}: `bench_main.check_flags` on
  each list in one fresh interpreter."""
  def check(argument_lists, env, cwd) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHECK_FLAGS_SCRIPT,
                           json.dumps(argument_lists)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])
  return check


@pytest.fixture
def quiet_tf_env() -> dict:
  """Environment for bench_main subprocesses."""
  env = dict(os.environ)
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  return env


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Logical devices must be configured before TensorFlow initialises, which other
# test modules in the same pytest process may already have done, so scripts
# run in a fresh interpreter (`sys.executable`) after this preamble.
_TWO_CPUS_PREAMBLE = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def report(out):
      out = dict(out, replicas=strategy.num_replicas_in_sync)
      print("RESULT" + json.dumps(out))
""")


@pytest.fixture
def run_on_two_cpus(quiet_tf_env):
  """Runs a script body in a fresh interpreter with two logical CPUs.

  The body sees `tf`, `json`, `sys` (argv[1:] are the given args), `strategy`
  (a MirroredStrategy over /cpu:0 and /cpu:1) and `report(dict)`, which it
  must call once; the fixture returns that dict plus "replicas" (the
  strategy's num_replicas_in_sync).
  """
  env = dict(quiet_tf_env,
             PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))

  def run(body: str, *args: str, timeout: int = 600) -> dict:
    script = _TWO_CPUS_PREAMBLE + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT"):])

  return run
