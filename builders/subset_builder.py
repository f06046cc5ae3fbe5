"""Shared builder of the Hendrycks et al. 200-class sets (ImageNet-A, -O, -R).

The three archives have the same layout, ``<top>/README.txt`` and
``<top>/<wnid>/<image file>`` for the 200 wnids of the set's subset, the same
naming (subset ``imagenet_a`` -> folder ``imagenet-a`` -> archive
``imagenet-a.tar`` on the authors' server) and the same features: ``image``
(RGB JPEG), ``label`` (ImageNet-1k class index, sorted-wnid order, names are
wnids), ``label_200`` (position of the wnid among the subset's 200 wnids) and
``file_name`` (``<wnid>/<image file>``, also the key). Each builder module
subclasses this with its subset's name and homepage.
"""

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench import archives, labels
from tfds_bench.errors import DamagedInputError

# Where Hendrycks et al. publish imagenet-{a,o,r}.tar.
ARCHIVE_ROOT_URL = "https://people.eecs.berkeley.edu/~hendrycks"


def image_label_features(**extra: tfds.features.FeatureConnector
                         ) -> tfds.features.FeaturesDict:
  """`image` (JPEG), `label` (ImageNet-1k, names are wnids), `file_name`, extra.

  The features of every image test set read from class folders (ImageNetV2,
  -Sketch, -A, -O, -R, -C).
  """
  return tfds.features.FeaturesDict({
      "image": tfds.features.Image(encoding_format="jpeg"),
      "label": tfds.features.ClassLabel(names=list(labels.wnids())),
      "file_name": tfds.features.Text(),
      **extra,
  })


class SubsetArchiveBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Reads one of imagenet-{a,o,r}.tar as released, without extracting it.

  Subclasses set SUBSET (``imagenet_a``, ...), HOMEPAGE and ``pkg_dir_path``
  (README.md, CITATIONS.bib and checksums.tsv live next to the subclass's
  module; TFDS's inference from the module name fails under setup.py's
  package_dir mapping in editable installs, see docs/architecture.md,
  "Installed layout"); the archive's names and URL are derived from SUBSET.
  The archive is downloaded and verified by TFDS when its checksum is
  recorded in the subclass's checksums.tsv (A, R), else read from manual_dir.
  """

  VERSION = tfds.core.Version("1.0.0")
  SUBSET: str
  HOMEPAGE: str
  TOP_FOLDER: str  # Derived: imagenet-a
  ARCHIVE_NAME: str  # Derived: imagenet-a.tar
  ARCHIVE_URL: str  # Derived: <ARCHIVE_ROOT_URL>/imagenet-a.tar
  ARCHIVE_NAMES: tuple  # (ARCHIVE_NAME,): README tables are checked against it

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    cls.TOP_FOLDER = cls.SUBSET.replace("_", "-")
    cls.ARCHIVE_NAME = f"{cls.TOP_FOLDER}.tar"
    cls.ARCHIVE_URL = f"{ARCHIVE_ROOT_URL}/{cls.ARCHIVE_NAME}"
    cls.ARCHIVE_NAMES = (cls.ARCHIVE_NAME,)
    cls.RELEASE_NOTES = {"1.0.0": f"Initial release, read from {cls.ARCHIVE_NAME}."}
    cls.MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Download {cls.ARCHIVE_URL} and put it, unextracted and unrenamed, in\n"
        f"manual_dir: `<manual_dir>/{cls.ARCHIVE_NAME}` (not needed where the\n"
        "builder's checksums.tsv records it: TFDS downloads it then).\n")

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=image_label_features(label_200=tfds.features.ClassLabel(
            names=list(labels.subset(self.SUBSET)[0]))),
        supervised_keys=("image", "label"),
        homepage=self.HOMEPAGE,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    # Fails fast, before any work, if the archive cannot be had.
    archive = archives.get_archive(dl_manager, self.url_infos,
                                   self.ARCHIVE_URL, self.ARCHIVE_NAME)
    return {"test": self._generate_examples(archive)}

  def _generate_examples(self, archive: epath.Path):
    subset_position = {w: i for i, w in enumerate(labels.subset(self.SUBSET)[0])}
    wnid_to_index = labels.wnid_to_index()
    for wnid, file_name, image in archives.iter_class_folder_images(
        archive, self.TOP_FOLDER, top_level_files=("README.txt",)):
      if wnid not in subset_position:
        raise DamagedInputError(
            f"Unexpected class folder {wnid!r} (member "
            f"{self.TOP_FOLDER}/{file_name!r} of {archive}): not one of the 200 "
            f"{self.SUBSET} wnids.")
      yield file_name, {
          "image": image,
          "label": wnid_to_index[wnid],
          "label_200": subset_position[wnid],
          "file_name": file_name,
      }
