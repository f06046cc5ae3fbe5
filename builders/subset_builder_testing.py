"""Shared test code of the builders: the ImageNet-A/-O/-R test case, mixins.

Test code, kept here rather than in ``tfds_bench/``: the package proper must
not import ``tfds.testing`` (absltest, mocks) on any import path, while this
module is only ever imported by the ``<name>_dataset_builder_test.py`` files
next to it. It lives in ``builders/`` so that those files import it through
the installed name, ``tfds_bench.builders.subset_builder_testing``, exactly as
they import their builder: under pytest's ``--import-mode=importlib`` there is
no ``sys.path`` entry for a relative or top-level import, and importing
anything under the name ``builders.*`` would register the builders a second
time. It defines no builder, so importing it registers nothing, and its name
matches neither of pytest.ini's ``python_files`` patterns, so pytest never
collects the abstract base on its own. Test files must import the module, not
the class (``from tfds_bench.builders import subset_builder_testing``): a
``unittest.TestCase`` subclass bound in a test module's namespace is
collected whatever its name.
"""

import collections
from typing import ClassVar

import tensorflow_datasets as tfds

from tfds_bench import label_spaces, labels


class RecordedDownloadsMixin:
  """Serves `dl_manager.download(url)` from dummy_data/ by recorded file name.

  TFDS's DatasetBuilderTestCase answers every download with one
  DL_DOWNLOAD_RESULT; builders with one archive per config need the archive
  of the URL asked for. The URL must have a row in the builder's
  checksums.tsv (with SKIP_CHECKSUMS False, TFDS also checks that).
  """

  def _get_dl_download_result(self, url):
    self._add_url(url)
    return self.dummy_data / self.DATASET_CLASS.url_infos[url].filename


class ConfigCountsMixin:
  """Per-config split sizes (TFDS's SPLITS is one dict for all configs)."""

  COUNTS_BY_CONFIG: ClassVar[dict[str, int]] = {}

  def _assertNumSamples(self, builder):
    self.SPLITS = {"test": self.COUNTS_BY_CONFIG[builder.builder_config.name]}
    super()._assertNumSamples(builder)

  def _assertAsDataset(self, builder):
    # TFDS's checks read SPLITS; set it for the config under test.
    self.SPLITS = {"test": self.COUNTS_BY_CONFIG[builder.builder_config.name]}
    super()._assertAsDataset(builder)


class CorruptedValChecksMixin(ConfigCountsMixin):
  """Per-config split sizes, and for both sources of a corrupted-val builder
  (bench_imagenet_c, bench_imagenet_c_bar): the source in the metadata
  (SOURCE), ImageNet's own val labels, image shapes (IMAGE_SHAPE) and unique
  file names."""

  SOURCE: ClassVar[str]
  IMAGE_SHAPE: ClassVar[tuple]

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    self.assertEqual(builder.info.metadata["source"], self.SOURCE)
    val_labels = labels.val_labels()
    file_names = []
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      file_name = example["file_name"].decode()
      file_names.append(file_name)
      # Both sources agree with ImageNet's own val labels.
      self.assertEqual(example["label"],
                       val_labels[labels.val_file_number(file_name) - 1])
      self.assertEqual(example["image"].shape, self.IMAGE_SHAPE)
    self.assertLen(set(file_names), len(file_names))


class SubsetBuilderTestCase(RecordedDownloadsMixin,
                            tfds.testing.DatasetBuilderTestCase):
  """Prepares a builder's dummy archive and checks counts and labels.

  Subclasses set DATASET_CLASS (a `subset_builder.SubsetArchiveBuilder`) and
  EXPECTED_COUNTS, the number of dummy images per wnid folder.
  """

  SPLITS = {"test": 5}
  EXPECTED_COUNTS: ClassVar[dict[str, int]]

  @classmethod
  def setUpClass(cls):
    # TFDS looks for dummy_data/ next to the module path, which the
    # package_dir mapping breaks in editable installs; point at the real
    # folder.
    cls.EXAMPLE_DIR = cls.DATASET_CLASS.pkg_dir_path / "dummy_data"
    super().setUpClass()

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    subset_wnids = label_spaces.get(self.DATASET_CLASS.LABEL_SPACE).class_names
    counts = collections.Counter()
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      wnid = builder.info.features["label"].int2str(example["label"])
      file_name = example["file_name"].decode()
      self.assertEqual(file_name.split("/")[0], wnid)
      self.assertEqual(subset_wnids[example["label_200"]], wnid)
      self.assertEqual(example["image"].shape, (32, 32, 3))
      counts[wnid] += 1
    self.assertEqual(dict(counts), self.EXPECTED_COUNTS)

