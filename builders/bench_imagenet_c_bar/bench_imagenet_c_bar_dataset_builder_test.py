"""Tests `bench_imagenet_c_bar` on its dummy data, once per source.

`dummy_data/released/` holds an `imagenet_c_bar.tar.gz` in the released
layout (under a top folder) with 32x32 random JPEGs; `dummy_data/generated/`
holds the tiny flat `ILSVRC2012_img_val.tar` of bench_imagenet_c's dummy data.
Each folder is the manual_dir of one test class, so the builder picks the
released source for the first and generates the images for the second.
"""

import tensorflow_datasets as tfds

from tfds_bench.builders import subset_builder_testing
from tfds_bench.builders.bench_imagenet_c_bar import bench_imagenet_c_bar_dataset_builder

_BUILDER = bench_imagenet_c_bar_dataset_builder.Builder
_DUMMY_DIR = _BUILDER.pkg_dir_path / "dummy_data"


class BenchImagenetCBarReleasedTest(subset_builder_testing.CorruptedValChecksMixin,
                                 tfds.testing.DatasetBuilderTestCase):
  """Reads the released-layout archives."""

  DATASET_CLASS = _BUILDER
  BUILDER_CONFIG_NAMES_TO_TEST = ["sparkles_3", "checkerboard_cutout_5"]
  SPLITS = {"test": 3}  # Set per config from COUNTS_BY_CONFIG.
  COUNTS_BY_CONFIG = {"sparkles_3": 3, "checkerboard_cutout_5": 4}
  SOURCE = "released"
  IMAGE_SHAPE = (32, 32, 3)
  # The archives are read from manual_dir (= EXAMPLE_DIR); nothing is
  # downloaded. EXAMPLE_DIR: TFDS looks for dummy_data/ next to the module
  # path, which the package_dir mapping breaks in editable installs.
  SKIP_CHECKSUMS = True
  EXAMPLE_DIR = _DUMMY_DIR / "released"


class BenchImagenetCBarGeneratedTest(subset_builder_testing.CorruptedValChecksMixin,
                                  tfds.testing.DatasetBuilderTestCase):
  """Generates from the val archive (no released archive in manual_dir)."""

  DATASET_CLASS = _BUILDER
  BUILDER_CONFIG_NAMES_TO_TEST = ["checkerboard_cutout_2"]
  SPLITS = {"test": 4}
  COUNTS_BY_CONFIG = {"checkerboard_cutout_2": 4}
  SOURCE = "generated"
  IMAGE_SHAPE = (224, 224, 3)
  SKIP_CHECKSUMS = True
  EXAMPLE_DIR = _DUMMY_DIR / "generated"


if __name__ == "__main__":
  tfds.testing.test_main()
