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
