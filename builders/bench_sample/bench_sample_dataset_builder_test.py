"""TFDS test of bench_sample (no dummy data needed: the photos are local)."""

import tensorflow_datasets as tfds

from tfds_bench.builders.bench_sample import bench_sample_dataset_builder


class BenchSampleTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = bench_sample_dataset_builder.Builder
  SPLITS = {"test": len(bench_sample_dataset_builder.PHOTOS)}
  # TFDS looks for dummy_data next to the module's import path, which does not
  # exist on disk under an editable install's package_dir mapping.
  EXAMPLE_DIR = bench_sample_dataset_builder.Builder.pkg_dir_path / "dummy_data"


if __name__ == "__main__":
  tfds.testing.test_main()
