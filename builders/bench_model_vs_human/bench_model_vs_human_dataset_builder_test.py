"""Tests `bench_model_vs_human` on the shipped dummy tarballs (release layout)."""

import collections

import tensorflow_datasets as tfds

from tfds_bench.builders import subset_builder_testing
from tfds_bench.builders.bench_model_vs_human import bench_model_vs_human_dataset_builder
from tfds_bench.release import model_vs_human as mvh

IMAGES_PER_CONDITION = 2


class BenchModelVsHumanTest(subset_builder_testing.ConfigCountsMixin,
                            tfds.testing.DatasetBuilderTestCase):
  """Prepares a session-layout, a class-folder and the cue-conflict config."""

  DATASET_CLASS = bench_model_vs_human_dataset_builder.Builder
  # Preparing all 17 would take long; these cover both layouts and the
  # texture category (every tarball is parsed in tests/test_model_vs_human_builder.py).
  BUILDER_CONFIG_NAMES_TO_TEST = ["contrast", "cue-conflict", "sketch"]
  COUNTS_BY_CONFIG = {d.name: IMAGES_PER_CONDITION * len(d.conditions) for d in mvh.DATASETS}
  SPLITS = {"test": 16}
  # TFDS looks for dummy_data/ next to the module path, which the package_dir
  # mapping breaks in editable installs; point at the real folder.
  EXAMPLE_DIR = DATASET_CLASS.pkg_dir_path / "dummy_data"

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    dataset = mvh.get(builder.builder_config.name)
    conditions = collections.Counter()
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      file_name = example["file_name"].decode()
      info = mvh.file_info(dataset, file_name)
      conditions[example["condition"].decode()] += 1
      self.assertEqual(mvh.CATEGORIES[example["category"]], info.category)
      self.assertEqual(example["image_id"].decode(), info.image_id)
      self.assertEqual(example["image"].shape, (8, 8, 3))
      if dataset.name == mvh.CUE_CONFLICT:
        self.assertEqual(mvh.CATEGORIES[example["texture_category"]],
                         mvh.texture_category(file_name))
      else:
        self.assertEqual(example["texture_category"], -1)
    self.assertEqual(dict(conditions), {c: IMAGES_PER_CONDITION for c in dataset.conditions})


if __name__ == "__main__":
  tfds.testing.test_main()
