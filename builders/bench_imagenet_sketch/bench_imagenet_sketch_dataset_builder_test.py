"""Tests `bench_imagenet_sketch` on the shipped dummy `ImageNet-Sketch.zip`."""

import collections

import tensorflow_datasets as tfds

from tfds_bench.builders import subset_builder_testing
from tfds_bench.builders.bench_imagenet_sketch import bench_imagenet_sketch_dataset_builder


class BenchImagenetSketchTest(subset_builder_testing.RecordedDownloadsMixin,
                 tfds.testing.DatasetBuilderTestCase):
  """Prepares the dummy zip (one member a grayscale JPEG) and checks labels."""

  DATASET_CLASS = bench_imagenet_sketch_dataset_builder.Builder
  SPLITS = {"test": 5}
  # TFDS looks for dummy_data/ next to the module path, which the package_dir
  # mapping breaks in editable installs; point at the real folder.
  EXAMPLE_DIR = DATASET_CLASS.pkg_dir_path / "dummy_data"

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    counts = collections.Counter()
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      wnid = builder.info.features["label"].int2str(example["label"])
      self.assertEqual(example["file_name"].decode().split("/")[0], wnid)
      # The grayscale member was converted: 3 channels, equal values.
      self.assertEqual(example["image"].shape, (32, 32, 3))
      counts[wnid] += 1
    self.assertEqual(
        dict(counts), {"n01440764": 2, "n02085620": 1, "n15075141": 2})


if __name__ == "__main__":
  tfds.testing.test_main()
