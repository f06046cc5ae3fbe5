"""Shared builder of the class-subset sets released as one tar of class folders
(Hendrycks et al.'s ImageNet-A, -O, -R).

Such an archive holds ``<top>/README.txt`` and ``<top>/<wnid>/<image file>``
for the wnids of the set's one-to-one label space (`tfds_bench.label_spaces`),
``<top>`` being the archive's name without ``.tar``. Features: ``image`` (RGB
JPEG), ``label`` (ImageNet-1k class index, sorted-wnid order, names are
wnids), ``label_200`` (position of the wnid among the space's classes) and
``file_name`` (``<wnid>/<image file>``, also the key). Each builder module
subclasses this with its label space, archive URL and homepage.
"""

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench import archives, label_spaces, labels
from tfds_bench.errors import DamagedInputError


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
  """Reads a class-folder tar as released, without extracting it.

  Subclasses set LABEL_SPACE (a `tfds_bench.label_spaces` name), ARCHIVE_URL
  (where the authors publish the tar), HOMEPAGE and ``pkg_dir_path``
  (README.md, CITATIONS.bib and checksums.tsv live next to the subclass's
  module; TFDS's inference from the module name fails under setup.py's
  package_dir mapping in editable installs, see docs/architecture.md,
  "Installed layout"); the archive's file and folder names follow from the
  URL. The archive is downloaded and verified by TFDS when its checksum is
  recorded in the subclass's checksums.tsv (A, R), else read from manual_dir.
  """

  VERSION = tfds.core.Version("1.0.0")
  LABEL_SPACE: str
  HOMEPAGE: str
  ARCHIVE_URL: str
  TOP_FOLDER: str  # Derived: the archive name without .tar
  ARCHIVE_NAME: str  # Derived: the URL's last part, imagenet-a.tar
  ARCHIVE_NAMES: tuple  # (ARCHIVE_NAME,): README tables are checked against it

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    cls.ARCHIVE_NAME = cls.ARCHIVE_URL.rsplit("/", 1)[-1]
    if not cls.ARCHIVE_NAME.endswith(".tar"):
      raise ValueError(f"{cls.__name__}.ARCHIVE_URL must name a .tar, got {cls.ARCHIVE_URL}")
    cls.TOP_FOLDER = cls.ARCHIVE_NAME[:-len(".tar")]
    cls.ARCHIVE_NAMES = (cls.ARCHIVE_NAME,)
    cls.RELEASE_NOTES = {"1.0.0": f"Initial release, read from {cls.ARCHIVE_NAME}."}
    cls.MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Download {cls.ARCHIVE_URL} and put it, unextracted and unrenamed, in\n"
        f"manual_dir: `<manual_dir>/{cls.ARCHIVE_NAME}` (not needed where the\n"
        "builder's checksums.tsv records it: TFDS downloads it then).\n")

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=image_label_features(label_200=tfds.features.ClassLabel(
            names=list(label_spaces.get(self.LABEL_SPACE).class_names))),
        supervised_keys=("image", "label"),
        homepage=self.HOMEPAGE,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    # Fails fast, before any work, if the archive cannot be had.
    archive = archives.get_archive(dl_manager, self.url_infos,
                                   self.ARCHIVE_URL, self.ARCHIVE_NAME)
    return {"test": self._generate_examples(archive)}

  def _generate_examples(self, archive: epath.Path):
    space = label_spaces.get(self.LABEL_SPACE)
    subset_position = {w: i for i, w in enumerate(space.class_names)}
    wnid_to_index = labels.wnid_to_index()
    for wnid, file_name, image in archives.iter_class_folder_images(
        archive, self.TOP_FOLDER, top_level_files=("README.txt",)):
      if wnid not in subset_position:
        raise DamagedInputError(
            f"Unexpected class folder {wnid!r} (member "
            f"{self.TOP_FOLDER}/{file_name!r} of {archive}): not one of the "
            f"{space.num_classes} wnids of {space.name}.")
      yield file_name, {
          "image": image,
          "label": wnid_to_index[wnid],
          "label_200": subset_position[wnid],
          "file_name": file_name,
      }
