"""Tests `bench_imagenet_v2` (3 configs) on the shipped dummy archives."""

import collections

import tensorflow_datasets as tfds

from tfds_bench.builders import subset_builder_testing
from tfds_bench.builders.bench_imagenet_v2 import bench_imagenet_v2_dataset_builder


class BenchImagenetV2Test(subset_builder_testing.RecordedDownloadsMixin,
                 tfds.testing.DatasetBuilderTestCase):
  """Prepares each variant; class folders map to labels as integers."""

  DATASET_CLASS = bench_imagenet_v2_dataset_builder.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["matched-frequency", "threshold-0.7",
                                  "top-images"]
  SPLITS = {"test": 8}
  # TFDS looks for dummy_data/ next to the module path, which the package_dir
  # mapping breaks in editable installs; point at the real folder.
  EXAMPLE_DIR = DATASET_CLASS.pkg_dir_path / "dummy_data"

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    counts = collections.Counter()
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      folder = example["file_name"].decode().split("/")[0]
      # Folder "10" is class 10 (not 2, its rank as a string).
      self.assertEqual(example["label"], int(folder))
      counts[int(example["label"])] += 1
    self.assertEqual(dict(counts), {0: 2, 2: 2, 10: 2, 999: 2})


if __name__ == "__main__":
  tfds.testing.test_main()
