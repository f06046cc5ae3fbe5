"""TFDS test of bench_sample_p (no dummy data needed: the photos are local)."""

import tensorflow_datasets as tfds

from tfds_bench.builders.bench_sample_p import bench_sample_p_dataset_builder

_BUILDER = bench_sample_p_dataset_builder.Builder
_PHOTOS = len(bench_sample_p_dataset_builder.SAMPLE_PHOTOS)


class BenchSamplePTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = _BUILDER
  # Two cheap configs (31 and 41 frames per photo); the others differ only in
  # the perturbation, tested in tests/test_imagenet_p.py.
  BUILDER_CONFIG_NAMES_TO_TEST = ["brightness"]
  SPLITS = {"test": _PHOTOS * 31}
  EXAMPLE_DIR = _BUILDER.pkg_dir_path / "dummy_data"


class BenchSamplePTranslateTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = _BUILDER
  BUILDER_CONFIG_NAMES_TO_TEST = ["translate"]
  SPLITS = {"test": _PHOTOS * 41}
  EXAMPLE_DIR = _BUILDER.pkg_dir_path / "dummy_data"


if __name__ == "__main__":
  tfds.testing.test_main()
