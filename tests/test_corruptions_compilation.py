"""One compiled program per corruption and severity, whatever the seed.

A new seed must not retrace a tf.function nor recompile an XLA program: the
builders and the on-the-fly path give every image its own seed, so a program
per seed would compile once per image (as when a drawn angle is the start
of a ``tf.slice``, which tf2xla compiles as a constant).
Two checks, over all 29 corruptions (ImageNet-C's 19 and C-bar's 10), in one
fresh interpreter:

* tracing: every tf.function of the engine's modules is traced no more after
  the first seed (`experimental_get_tracing_count`);
* compilation: XLA's persistent compilation cache
  (``--tf_xla_persistent_cache_directory``) writes one file per program it
  compiles; in a fresh interpreter, further seeds must add none. (The HLO of
  ``experimental_get_compiler_ir`` cannot show this: it lowers tensor
  arguments as parameters even where the JIT folds them into constants.)
"""

import json
import subprocess
import sys
import textwrap
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from tfds_bench import corruptions
from tfds_bench.corruptions import blur
from tfds_bench.corruptions import c_bar
from tfds_bench.corruptions import color
from tfds_bench.corruptions import digital
from tfds_bench.corruptions import filters
from tfds_bench.corruptions import noise
from tfds_bench.corruptions import opencv
from tfds_bench.corruptions import plasma
from tfds_bench.corruptions import resample
from tfds_bench.corruptions import weather

MODULES = (noise, blur, weather, digital, filters, resample, color, opencv, plasma, c_bar)
# Big enough for every kernel (motion blur severity 3: 31 taps), small enough
# to lower quickly.
SIZE = 64


def _images():
  return tf.constant(np.random.RandomState(0).randint(0, 256, (2, SIZE, SIZE, 3)),
                     tf.uint8)


def _engine_functions():
  """(module, attribute name, tf.function) of every tf.function in the engine."""
  found = []
  for module in MODULES:
    for name, value in vars(module).items():
      if isinstance(value, tf.types.experimental.PolymorphicFunction):
        found.append((module, name, value))
  return found


def test_the_engine_has_xla_helpers():
  # Guards the scan below: if the helpers stopped being module-level
  # tf.functions, the checks would pass vacuously.
  names = {n for _, n, _ in _engine_functions()}
  assert {"_motion_blur_xla", "_snow_xla", "_fog_xla", "_glass_shuffle_xla",
          "_caustic_xla", "_perlin_xla"} <= names


_COUNT_TRACES_AND_COMPILATIONS = textwrap.dedent("""
    import importlib, json, os, sys
    import numpy as np
    import tensorflow as tf
    from tfds_bench import corruptions
    MODULES = [importlib.import_module("tfds_bench.corruptions." + m)
               for m in sys.argv[1].split(",")]

    def tracing_counts():
      return {f"{m.__name__}.{n}": f.experimental_get_tracing_count()
              for m in MODULES for n, f in vars(m).items()
              if isinstance(f, tf.types.experimental.PolymorphicFunction)}

    cache = os.environ["COMPILATION_CACHE"]
    images = tf.constant(np.random.RandomState(0).randint(0, 256, (2, 64, 64, 3)), tf.uint8)
    counts, retraced = {}, {}
    for name in corruptions.ALL_NAMES:
      corruptions.apply(images, name, 3, tf.constant(1, tf.int64))
      first, traced = len(os.listdir(cache)), tracing_counts()
      for seed in (2, 12345, 2**31 - 1):
        corruptions.apply(images, name, 3, tf.constant(seed, tf.int64))
      counts[name] = [first, len(os.listdir(cache)) - first]
      retraced[name] = sorted(f for f, n in tracing_counts().items() if n != traced.get(f))
    print("RESULT" + json.dumps({"compiled": counts, "retraced": retraced}))
""")


def test_no_retracing_or_recompilation_across_seeds(tmp_path, quiet_tf_env):
  """Every corruption, a first seed then three more, in a fresh interpreter
  (XLA's persistent cache must be set before TensorFlow starts): no engine
  tf.function traces again, and no XLA program is compiled again."""
  env = dict(quiet_tf_env, COMPILATION_CACHE=str(tmp_path),
             TF_XLA_FLAGS=f"--tf_xla_persistent_cache_directory={tmp_path}")
  modules = ",".join(m.__name__.rsplit(".", 1)[1] for m in MODULES)
  proc = subprocess.run([sys.executable, "-c", _COUNT_TRACES_AND_COMPILATIONS, modules],
                        capture_output=True, text=True, env=env, timeout=900, check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")]
  assert proc.returncode == 0 and lines, proc.stderr[-3000:]
  result = json.loads(lines[-1][len("RESULT"):])
  counts = result["compiled"]
  # The counter works: the engine's XLA programs were written to the cache.
  assert counts["motion_blur"][0] > 0 and counts["snow"][0] > counts["motion_blur"][0]
  assert counts["sparkles"][0] > counts["motion_blur"][0]
  recompiled = {name: new for name, (_, new) in counts.items() if new}
  assert not recompiled, f"programs compiled again for a new seed: {recompiled}"
  retraced = {name: functions for name, functions in result["retraced"].items() if functions}
  assert not retraced, f"traced again for a new seed: {retraced}"
  assert set(result["retraced"]) == set(corruptions.ALL_NAMES)


@pytest.mark.parametrize("name", corruptions.ALL_NAMES)
def test_eager_python_int_seed_runs_one_program_with_the_same_bytes(name):
  """An eager call with a Python-int seed runs `apply`'s traced program (seed as a
  tensor): the bytes of the op-by-op call, and no retracing for a new seed. A
  corruption in a ``ONE_IMAGE_EAGER`` table runs its kernels instead: the same
  bytes, no program."""
  image = _images()[0]
  if name in digital.ONE_IMAGE_EAGER:
    with mock.patch.object(corruptions, "_eager_program",
                           side_effect=AssertionError("a program ran")):
      ours = corruptions.apply(image, name, 3, 5)
  else:
    ours = corruptions.apply(image, name, 3, 5)
  op_by_op = corruptions._corrupt(image, name, 3, 5)  # pylint: disable=protected-access
  np.testing.assert_array_equal(ours, op_by_op)
  if name in digital.ONE_IMAGE_EAGER:
    return
  program = corruptions._eager_program(name, 3)  # pylint: disable=protected-access
  traced = program.experimental_get_tracing_count()
  corruptions.apply(image, name, 3, 6)
  assert program.experimental_get_tracing_count() == traced
