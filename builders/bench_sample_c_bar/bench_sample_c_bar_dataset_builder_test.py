"""TFDS test of bench_sample_c_bar (no dummy data: the photos are local)."""

import tensorflow_datasets as tfds

from tfds_bench import corruptions
from tfds_bench.builders.bench_sample import bench_sample_dataset_builder as sample
from tfds_bench.builders.bench_sample_c_bar import bench_sample_c_bar_dataset_builder


class BenchSampleCBarTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = bench_sample_c_bar_dataset_builder.Builder
  SPLITS = {"test": len(sample.PHOTOS) * len(corruptions.C_BAR_NAMES) * len(corruptions.SEVERITIES)}
  EXAMPLE_DIR = bench_sample_c_bar_dataset_builder.Builder.pkg_dir_path / "dummy_data"


if __name__ == "__main__":
  tfds.testing.test_main()
