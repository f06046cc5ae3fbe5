"""ImageNetV2, read from the released `imagenetv2-*.tar.gz` archives.

Three test sets of 10,000 images (10 per class) collected following the
original ImageNet protocol; they differ in how the 10 images per class were
selected among the candidates (Recht et al. 2019, section 4):

| config              | archive                              | paper name     |
| ------------------- | ------------------------------------ | -------------- |
| `matched-frequency` | `imagenetv2-matched-frequency.tar.gz` | b, revision 33 |
| `threshold-0.7`     | `imagenetv2-threshold0.7.tar.gz`      | a, revision 44 |
| `top-images`        | `imagenetv2-top-images.tar.gz`        | c, revision 12 |

Archive layout (as released):
`imagenetv2-<variant>-format-val/<class>/<hash>.jpeg`, where `<class>` is `0` .. `999`. The folder name IS the class index, read as an
integer: sorting the folders as strings (e.g. torchvision's ImageFolder) maps
`10` to class 2 and scrambles all but 12 classes.

Features: `image` (RGB JPEG), `label` (ImageNet-1k class index, sorted-wnid
order, names are wnids) and `file_name` (`<class>/<hash>.jpeg`, also the key).
"""

import dataclasses

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench import archives
from tfds_bench import labels
from tfds_bench.builders import subset_builder
from tfds_bench.errors import DamagedInputError

# The Hugging Face copy is the one the ImageNetV2 authors link now; the S3
# bucket of the original release (same file names) is given as a fallback.
ROOT_URL = "https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main"
LEGACY_ROOT_URL = "https://imagenetv2public.s3-us-west-2.amazonaws.com"


@dataclasses.dataclass(eq=False)
class ImagenetV2Config(tfds.core.BuilderConfig):
  """One ImageNetV2 variant.

  Attributes:
    archive_name: the released archive's file name.
    top_folder: the single folder inside the archive that holds `0`..`999`.
  """
  archive_name: str = ""
  top_folder: str = ""

  @property
  def archive_url(self) -> str:
    return f"{ROOT_URL}/{self.archive_name}"


def _config(name: str, file_stem: str, description: str) -> ImagenetV2Config:
  return ImagenetV2Config(
      name=name,
      description=description,
      archive_name=f"imagenetv2-{file_stem}.tar.gz",
      top_folder=f"imagenetv2-{file_stem}-format-val",
  )


BUILDER_CONFIGS = [
    _config("matched-frequency", "matched-frequency",
            "MatchedFrequency (b, rev 33): selection frequency distribution "
            "matched to the original ImageNet validation set."),
    _config("threshold-0.7", "threshold0.7",
            "Threshold0.7 (a, rev 44): images with selection frequency at "
            "least 0.7."),
    _config("top-images", "top-images",
            "TopImages (c, rev 12): the images with the highest selection "
            "frequency."),
]


def class_index_of_folder(folder: str, where: str) -> int:
  """The class index of an ImageNetV2 class folder: `int(folder)`.

  Args:
    folder: the folder name, `0`..`999` in canonical decimal form.
    where: the member, for the error message.

  Returns:
    The integer class index.

  Raises:
    DamagedInputError: the name is not a canonical decimal in [0, 1000).
  """
  if not (folder.isdigit() and str(int(folder)) == folder
          and 0 <= int(folder) < labels.NUM_CLASSES):
    raise DamagedInputError(
        f"Unexpected class folder {folder!r} ({where}): ImageNetV2 class "
        f"folders are named 0..{labels.NUM_CLASSES - 1}.")
  return int(folder)


def _instructions() -> str:
  lines = ["Optional (TFDS downloads and verifies the archive otherwise): put "
           "the released archive of the variant you prepare, unextracted and "
           "unrenamed, in manual_dir:"]
  for config in BUILDER_CONFIGS:
    lines.append(f"  {config.name}: <manual_dir>/{config.archive_name} "
                 f"from {config.archive_url}")
  lines.append(
      f"(The same files were first released under {LEGACY_ROOT_URL}/.)")
  return "\n".join(lines) + "\n"


class Builder(tfds.core.GeneratorBasedBuilder):
  """ImageNetV2: an ImageNet test set re-collected following the protocol."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release, read from the released archives."}
  BUILDER_CONFIGS = BUILDER_CONFIGS
  MANUAL_DOWNLOAD_INSTRUCTIONS = _instructions()
  # The archives this builder reads (README tables are checked against it).
  ARCHIVE_NAMES = tuple(config.archive_name for config in BUILDER_CONFIGS)
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
        homepage="https://github.com/modestyachts/ImageNetV2",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config = self.builder_config
    # TFDS records the archives' checksums: taken from manual_dir or
    # downloaded, and verified either way.
    archive = archives.get_archive(dl_manager, self.url_infos,
                                   config.archive_url, config.archive_name)
    return {"test": self._generate_examples(archive)}

  def _generate_examples(self, archive: epath.Path):
    top_folder = self.builder_config.top_folder
    for folder, file_name, image in archives.iter_class_folder_images(
        archive, top_folder):
      label = class_index_of_folder(
          folder, f"member {top_folder}/{file_name!r} of {archive}")
      yield file_name, {"image": image, "label": label, "file_name": file_name}
