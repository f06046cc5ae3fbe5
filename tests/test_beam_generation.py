"""ImageNet-C and -P generation through TFDS's Beam path on a runner that spreads
the work over processes (the DirectRunner, multi-processing mode, 2 workers)
gives the same dataset as plain generation.

apache-beam comes with the `[test]` extra (setup.py), so CI runs these. Other
runners (Dataflow, Flink, Spark) take the same path with other pipeline
options (README, "Scaling out") and are not tested here.
"""

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
