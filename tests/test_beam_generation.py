"""ImageNet-C and -P generation through TFDS's Beam path on a runner that spreads
the work over processes (the DirectRunner, multi-processing mode, 2 workers)
gives the same dataset as plain generation.

apache-beam comes with the `[test]` extra (setup.py), so CI runs these. Other
runners (Dataflow, Flink, Spark) take the same path with other pipeline
options (README, "Scaling out") and are not tested here. The README's
`tfds build` recipe is run as written, on the DirectRunner.
"""

import os
import re
import shlex
import subprocess
import sys

import apache_beam as beam
import pytest
import tensorflow_datasets as tfds

import tfds_bench.builders  # pylint: disable=unused-import  # registers builders
from tfds_bench.builders.bench_imagenet_c import bench_imagenet_c_dataset_builder
from tfds_bench.builders.bench_imagenet_p import bench_imagenet_p_dataset_builder

MULTI_PROCESS_OPTIONS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def _prepare(name: str, manual_dir, data_dir, **download_config_kwargs):
  """Prepares a config; returns its examples (features as numpy) in order, and its info."""
  builder = tfds.builder(name, data_dir=str(data_dir))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual_dir), **download_config_kwargs))
  dataset = builder.as_dataset(split="test", shuffle_files=False,
                               decoders={"image": tfds.decode.SkipDecoding()})
  return [{k: v.tolist() if hasattr(v, "tolist") else v for k, v in ex.items()}
          for ex in tfds.as_numpy(dataset)], builder.info


def _on_beam(name: str, manual_dir, data_dir):
  return _prepare(name, manual_dir, data_dir, beam_runner=beam.runners.DirectRunner(),
                  beam_options=beam.options.pipeline_options.PipelineOptions(
                      MULTI_PROCESS_OPTIONS))


@pytest.mark.parametrize("name, builder", [
    # ImageNet-C is shuffled by key hash, the same hash in both writers.
    ("bench_imagenet_c/gaussian_noise_3", bench_imagenet_c_dataset_builder.Builder),
    # ImageNet-P is unshuffled: frames in generation order, videos contiguous.
    ("bench_imagenet_p/brightness", bench_imagenet_p_dataset_builder.Builder),
])
def test_generation_on_two_beam_processes_equals_plain_generation(tmp_path, name, builder):
  manual_dir = builder.pkg_dir_path / "dummy_data" / "generated"
  plain, _ = _prepare(name, manual_dir, tmp_path / "plain")
  on_beam, info = _on_beam(name, manual_dir, tmp_path / "beam")
  assert info.metadata["source"] == "generated"
  assert len(plain) > 0 and on_beam == plain


# --- the README's `tfds build` recipe ------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readme_tfds_build_command():
  """The README's Beam recipe ("Scaling out"), split into words: the first
  `tfds build` command of the shell block that names --beam_pipeline_options."""
  with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
    text = f.read()
  for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
    if "--beam_pipeline_options" not in block:
      continue
    lines = [l for l in block.replace("\\\n", " ").splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    return shlex.split(lines[0])
  raise AssertionError("README has no `tfds build ... --beam_pipeline_options` block")


def test_readme_tfds_build_recipe_on_the_direct_runner(tmp_path, quiet_tf_env):
  """The README's command as written (the `tfds` command TFDS installs, the
  recipe's builder, --imports and flags), its gs:// paths replaced by local
  folders and Dataflow by the DirectRunner on two processes. A clean install
  of the `beam` extra must get it past TFDS's command-line imports
  (mlcroissant, setup.py) and generate what plain generation does."""
  words = _readme_tfds_build_command()
  assert words[:2] == ["tfds", "build"], words
  name = words[2]
  flags = dict(w[2:].split("=", 1) for w in words[3:])
  assert set(flags) == {"imports", "manual_dir", "data_dir", "beam_pipeline_options"}, flags
  manual_dir = bench_imagenet_c_dataset_builder.Builder.pkg_dir_path / "dummy_data" / "generated"
  options = ",".join(["runner=DirectRunner"] + [o[2:] for o in MULTI_PROCESS_OPTIONS])
  command = [os.path.join(os.path.dirname(sys.executable), "tfds"), "build", name,
             f"--imports={flags['imports']}", f"--manual_dir={manual_dir}",
             f"--data_dir={tmp_path / 'cli'}", f"--beam_pipeline_options={options}"]
  proc = subprocess.run(command, capture_output=True, text=True, env=quiet_tf_env,
                        timeout=600, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "BeamWriter" in proc.stdout + proc.stderr  # TFDS took its Beam path
  builder = tfds.builder(name, data_dir=str(tmp_path / "cli"))
  dataset = builder.as_dataset(split="test", shuffle_files=False,
                               decoders={"image": tfds.decode.SkipDecoding()})
  built = [{k: v.tolist() if hasattr(v, "tolist") else v for k, v in ex.items()}
           for ex in tfds.as_numpy(dataset)]
  plain, _ = _prepare(name, manual_dir, tmp_path / "plain")
  assert len(plain) > 0 and built == plain
