"""Tests `bench_imagenet_c` on its dummy data, once per source.

`dummy_data/released/` holds `noise.tar` and `weather.tar` in the released
layout; `dummy_data/generated/` holds a tiny flat `ILSVRC2012_img_val.tar`.
Each folder is the manual_dir of one test class, so the builder picks the
released source for the first and generates the images for the second.
(Regenerate them with tests/tools/make_imagenet_c_dummy_data.py.)
"""

import tensorflow_datasets as tfds

from tfds_bench.builders import subset_builder_testing
from tfds_bench.builders.bench_imagenet_c import bench_imagenet_c_dataset_builder

_BUILDER = bench_imagenet_c_dataset_builder.Builder
_DUMMY_DIR = _BUILDER.pkg_dir_path / "dummy_data"


class BenchImagenetCReleasedTest(subset_builder_testing.CorruptedValChecksMixin,
                                 tfds.testing.DatasetBuilderTestCase):
  """Reads the released-layout archives."""

  DATASET_CLASS = _BUILDER
  BUILDER_CONFIG_NAMES_TO_TEST = ["gaussian_noise_3", "brightness_1"]
  SPLITS = {"test": 3}  # Set per config from COUNTS_BY_CONFIG.
  COUNTS_BY_CONFIG = {"gaussian_noise_3": 3, "brightness_1": 4}
  SOURCE = "released"
  IMAGE_SHAPE = (32, 32, 3)
  # The archives are read from manual_dir (= EXAMPLE_DIR); nothing is
  # downloaded. EXAMPLE_DIR: TFDS looks for dummy_data/ next to the module
  # path, which the package_dir mapping breaks in editable installs.
  SKIP_CHECKSUMS = True
  EXAMPLE_DIR = _DUMMY_DIR / "released"


class BenchImagenetCGeneratedTest(subset_builder_testing.CorruptedValChecksMixin,
                                  tfds.testing.DatasetBuilderTestCase):
  """Generates from the val archive (no released archive in manual_dir)."""

  DATASET_CLASS = _BUILDER
  BUILDER_CONFIG_NAMES_TO_TEST = ["gaussian_noise_3", "brightness_1"]
  SPLITS = {"test": 4}  # Set per config from COUNTS_BY_CONFIG.
  COUNTS_BY_CONFIG = {"gaussian_noise_3": 4, "brightness_1": 4}
  SOURCE = "generated"
  IMAGE_SHAPE = (224, 224, 3)
  SKIP_CHECKSUMS = True
  EXAMPLE_DIR = _DUMMY_DIR / "generated"


if __name__ == "__main__":
  tfds.testing.test_main()
