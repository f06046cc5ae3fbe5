"""Tests `bench_openood_ssb_hard` on its dummy data (see tests/tools/make_openood_dummy_data.py)."""

import tensorflow_datasets as tfds

from tfds_bench.builders import openood_builder_testing
from tfds_bench.builders.bench_openood_ssb_hard import bench_openood_ssb_hard_dataset_builder


class BenchOpenoodSsbHardTest(openood_builder_testing.OpenOODBuilderTestCase):
  DATASET_CLASS = bench_openood_ssb_hard_dataset_builder.Builder


if __name__ == "__main__":
  tfds.testing.test_main()
