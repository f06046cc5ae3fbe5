"""Shared test case of the ImageNet-A, -O and -R builders (`subset_builder`).

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

from tfds_bench import labels


class SubsetBuilderTestCase(tfds.testing.DatasetBuilderTestCase):
  """Prepares a builder's dummy archive and checks counts and labels.

  Subclasses set DATASET_CLASS (a `subset_builder.SubsetArchiveBuilder`) and
  EXPECTED_COUNTS, the number of dummy images per wnid folder.
  """

  SPLITS = {"test": 5}
  # The archive is read from manual_dir (= dummy_data/); nothing is downloaded.
  SKIP_CHECKSUMS = True
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
    subset_wnids = labels.subset(self.DATASET_CLASS.SUBSET)[0]
    counts = collections.Counter()
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      wnid = builder.info.features["label"].int2str(example["label"])
      file_name = example["file_name"].decode()
      self.assertEqual(file_name.split("/")[0], wnid)
      self.assertEqual(subset_wnids[example["label_200"]], wnid)
      self.assertEqual(example["image"].shape, (32, 32, 3))
      counts[wnid] += 1
    self.assertEqual(dict(counts), self.EXPECTED_COUNTS)
