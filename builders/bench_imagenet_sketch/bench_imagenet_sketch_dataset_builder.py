"""ImageNet-Sketch, read from the released `ImageNet-Sketch.zip`.

50,889 black-and-white sketches, about 50 per ImageNet-1k class, found with
Google Image queries "sketch of <class name>" and cleaned by hand; classes with
fewer than 50 good images were topped up with flipped and rotated copies.

Archive layout (as released, also read this way by TFDS's `imagenet_sketch`):
`sketch/<wnid>/<name>.JPEG` for the 1000 ImageNet-1k wnids.

Features: `image` (RGB JPEG; the few non-RGB-JPEG files are converted),
`label` (ImageNet-1k class index, sorted-wnid order, names are wnids) and
`file_name` (`<wnid>/<name>.JPEG`, also the example key).
"""

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench import archives
from tfds_bench import labels
from tfds_bench.builders import subset_builder
from tfds_bench.errors import DamagedInputError

ARCHIVE_NAME = "ImageNet-Sketch.zip"
# The Google Drive file linked from https://github.com/HaohanWang/ImageNet-Sketch,
# as TFDS's imagenet_sketch downloads it (checksums.tsv records it).
ARCHIVE_URL = ("https://drive.google.com/u/0/uc?id=1Mj0i5HBthqH1p_yeXzsg22gZduvgoNeA"
               "&export=download")
TOP_FOLDER = "sketch"


class Builder(tfds.core.GeneratorBasedBuilder):
  """ImageNet-Sketch: sketches of the 1000 ImageNet classes."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": f"Initial release, read from {ARCHIVE_NAME}."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
  Optional (TFDS downloads and verifies the archive otherwise): download
  {ARCHIVE_NAME} from {ARCHIVE_URL} and put it, unextracted and unrenamed, in
  manual_dir: `<manual_dir>/{ARCHIVE_NAME}`.
  """
  # The archives this builder reads (README tables are checked against it).
  ARCHIVE_NAMES = (ARCHIVE_NAME,)
  # README.md, CITATIONS.bib and checksums.tsv live next to this file; TFDS's
  # inference from the module name fails under setup.py's package_dir mapping
  # in editable installs (docs/architecture.md, "Installed layout").
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=subset_builder.image_label_features(),
        supervised_keys=("image", "label"),
        homepage="https://github.com/HaohanWang/ImageNet-Sketch",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    # TFDS records the archive's checksum: taken from manual_dir or
    # downloaded, and verified either way.
    archive = archives.get_archive(dl_manager, self.url_infos, ARCHIVE_URL,
                                   ARCHIVE_NAME)
    return {"test": self._generate_examples(archive)}

  def _generate_examples(self, archive: epath.Path):
    wnid_to_index = labels.wnid_to_index()
    for wnid, file_name, image in archives.iter_class_folder_images(
        archive, TOP_FOLDER):
      if wnid not in wnid_to_index:
        raise DamagedInputError(
            f"Unexpected class folder {wnid!r} (member "
            f"{TOP_FOLDER}/{file_name!r} of {archive}): not an ImageNet-1k "
            "wnid.")
      yield file_name, {
          "image": image,
          "label": wnid_to_index[wnid],
          "file_name": file_name,
      }
