"""TFDS test of bench_sample_c (no dummy data: the photos are local)."""

import tensorflow_datasets as tfds

from tfds_bench import corruptions
from tfds_bench.builders.bench_sample import bench_sample_dataset_builder as sample
from tfds_bench.builders.bench_sample_c import bench_sample_c_dataset_builder


class BenchSampleCTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = bench_sample_c_dataset_builder.Builder
  SPLITS = {"test": len(sample.PHOTOS) * len(corruptions.NAMES) * len(corruptions.SEVERITIES)}
  EXAMPLE_DIR = bench_sample_c_dataset_builder.Builder.pkg_dir_path / "dummy_data"


if __name__ == "__main__":
  tfds.testing.test_main()
