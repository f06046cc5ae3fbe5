"""Shared builder of the Hendrycks et al. 200-class sets (ImageNet-A, -O, -R).

The three archives have the same layout, ``<top>/README.txt`` and
``<top>/<wnid>/<image file>`` for the 200 wnids of the set's subset, and the
same features: ``image`` (RGB JPEG), ``label`` (ImageNet-1k class index,
sorted-wnid order, names are wnids), ``label_200`` (position of the wnid among
the subset's 200 wnids) and ``file_name`` (``<wnid>/<image file>``, also the
key). Each builder module subclasses this with its archive's names.
"""

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench import archives, labels
from tfds_bench.errors import DamagedInputError


class SubsetArchiveBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Reads one of imagenet-{a,o,r}.tar as released, without extracting it.

  Subclasses set ARCHIVE_NAME, ARCHIVE_URL, TOP_FOLDER, SUBSET, HOMEPAGE and
  ``pkg_dir_path`` (README.md, CITATIONS.bib and checksums.tsv live next to
  the subclass's module; TFDS's inference from the module name fails under
  setup.py's package_dir mapping in editable installs, see
  docs/architecture.md, "Installed layout").
  """

  VERSION = tfds.core.Version("1.0.0")
  ARCHIVE_NAME: str
  ARCHIVE_URL: str
  ARCHIVE_NAMES: tuple  # (ARCHIVE_NAME,): the files read from manual_dir
  TOP_FOLDER: str
  SUBSET: str
  HOMEPAGE: str

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    cls.RELEASE_NOTES = {"1.0.0": f"Initial release, read from {cls.ARCHIVE_NAME}."}
    cls.ARCHIVE_NAMES = (cls.ARCHIVE_NAME,)
    cls.MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Download {cls.ARCHIVE_URL} and put it, unextracted and unrenamed, in\n"
        f"manual_dir: `<manual_dir>/{cls.ARCHIVE_NAME}`.\n")

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(names=list(labels.wnids())),
            "label_200": tfds.features.ClassLabel(names=list(labels.subset(self.SUBSET)[0])),
            "file_name": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage=self.HOMEPAGE,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    # Fails fast, before any work, if the archive is not in manual_dir.
    archive = archives.find_archive(
        archives.manual_dir_of(dl_manager), self.ARCHIVE_NAME, self.ARCHIVE_URL)
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
