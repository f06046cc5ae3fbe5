"""Tests `bench_imagenet_r` on the shipped dummy `imagenet-r.tar`.

The dummy tar has the released layout: README.txt and wnid folders.
"""

import collections

import tensorflow_datasets as tfds

from tfds_bench import labels
from tfds_bench.builders.bench_imagenet_r import bench_imagenet_r_dataset_builder


class BenchImagenetRTest(tfds.testing.DatasetBuilderTestCase):
  """Prepares the dummy archive and checks counts and labels."""

  DATASET_CLASS = bench_imagenet_r_dataset_builder.Builder
  SPLITS = {"test": 5}
  # The archive is read from manual_dir (= dummy_data/); nothing is downloaded.
  SKIP_CHECKSUMS = True
  # TFDS looks for dummy_data/ next to the module path, which the package_dir
  # mapping breaks in editable installs; point at the real folder.
  EXAMPLE_DIR = DATASET_CLASS.pkg_dir_path / "dummy_data"

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    subset_wnids = labels.subset("imagenet_r")[0]
    counts = collections.Counter()
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      wnid = builder.info.features["label"].int2str(example["label"])
      file_name = example["file_name"].decode()
      self.assertEqual(file_name.split("/")[0], wnid)
      self.assertEqual(subset_wnids[example["label_200"]], wnid)
      self.assertEqual(example["image"].shape, (32, 32, 3))
      counts[wnid] += 1
    self.assertEqual(
        dict(counts), {'n01443537': 2, 'n01484850': 1, 'n12267677': 2})


if __name__ == "__main__":
  tfds.testing.test_main()
