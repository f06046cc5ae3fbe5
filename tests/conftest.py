"""Shared fixtures: a prepared sample suite, the default model, photo folders,
the two-logical-CPU MirroredStrategy harness."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest


@pytest.fixture(scope="session")
def lite0_model():
  from tfds_bench import models
  return models.load_model("efficientnet")


def write_jpeg(path: pathlib.Path, image: np.ndarray, quality: int = 95) -> None:
  from PIL import Image
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(image).save(path, format="JPEG", quality=quality)


@pytest.fixture(scope="session")
def cat_and_coffee_folder(tmp_path_factory) -> str:
  """scikit-image's chelsea under n02123159 (tiger cat), coffee under n07920052 (espresso)."""
  import skimage.data
  root = tmp_path_factory.mktemp("image_folder")
  write_jpeg(root / "n02123159" / "chelsea.JPEG", skimage.data.chelsea())
  write_jpeg(root / "n07920052" / "coffee.JPEG", skimage.data.coffee())
  return str(root)


@pytest.fixture(scope="session", autouse=True)
def default_command_started(request, tmp_path_factory):
  """The default command's first run on a fresh data_dir, started with the
  session when a collected test reads it (`default_command_first_run`,
  tests/test_bench_main.py) and running beside the tests before it: preparing
  the sample suite is the suite's costliest step, and one core is idle while
  most tests run. Its own folder and environment, so nothing a test changes
  reaches it. (tmp folder, its args, its env, the process), or None."""
  if not any("default_command_first_run" in item.fixturenames
             for item in request.session.items):
    yield None
    return
  tmp_path = tmp_path_factory.mktemp("default_command")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TFDS_DATA_DIR=str(tmp_path / "tfds"))
  args = [f"--data_dir={tmp_path / 'tfds'}"]
  proc = subprocess.Popen(
      [sys.executable, "-m", "tfds_bench.bench_main", *args,
       f"--output_dir={tmp_path / 'first_run'}"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
  yield tmp_path, args, env, proc
  if proc.poll() is None:  # its tests were deselected or failed early
    proc.kill()
  proc.communicate()


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
