"""Shared test code of the OpenOOD builders (bench_openood_*).

Test code kept next to the builders for the reasons given in
`subset_builder_testing`: imported by the ``_test.py`` files through the
installed name, defines no builder, never collected on its own.
"""

import tensorflow_datasets as tfds

from tfds_bench import openood_lists
from tfds_bench.builders import subset_builder_testing


class OpenOODBuilderTestCase(subset_builder_testing.RecordedDownloadsMixin,
                             tfds.testing.DatasetBuilderTestCase):
  """Prepares a builder from its dummy_data/ (list + images in a released
  layout) and checks that the records are the listed images, in list order,
  labelled -1, as RGB images.

  Subclasses set DATASET_CLASS; the expected images are read from the dummy
  list in dummy_data/benchmark_imglist/imagenet/.
  """

  @classmethod
  def setUpClass(cls):
    cls.EXAMPLE_DIR = cls.DATASET_CLASS.pkg_dir_path / "dummy_data"
    cls.LISTED = openood_lists.ood_list(cls.DATASET_CLASS.OOD_SET, cls.EXAMPLE_DIR).paths
    cls.SPLITS = {"test": len(cls.LISTED)}
    super().setUpClass()

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    file_names, shapes, labels = [], set(), set()
    for example in tfds.as_numpy(builder.as_dataset(split="test", shuffle_files=False)):
      file_names.append(example["file_name"].decode())
      shapes.add(example["image"].shape)
      labels.add(int(example["label"]))
    self.assertEqual(tuple(file_names), self.LISTED)
    self.assertEqual(labels, {-1})
    self.assertEqual(shapes, {(32, 32, 3)})
