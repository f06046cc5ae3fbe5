"""Tests `bench_openood_ninco` on its dummy data (see tests/tools/make_openood_dummy_data.py)."""

import tensorflow_datasets as tfds

from tfds_bench.builders import openood_builder_testing
from tfds_bench.builders.bench_openood_ninco import bench_openood_ninco_dataset_builder


class BenchOpenoodNincoTest(openood_builder_testing.OpenOODBuilderTestCase):
  DATASET_CLASS = bench_openood_ninco_dataset_builder.Builder


if __name__ == "__main__":
  tfds.testing.test_main()
