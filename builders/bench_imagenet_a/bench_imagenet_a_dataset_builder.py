"""ImageNet-A, read from the released `imagenet-a.tar`.

7,500 natural adversarial examples: real-world photos of 200 ImageNet classes
that ResNet-50 models misclassify (Hendrycks et al. 2021).

Archive layout (as released): `imagenet-a/README.txt` and
`imagenet-a/<wnid>/<image file>` for the 200 wnids of
`tfds_bench.labels.subset("imagenet_a")`.

Features: `image` (RGB JPEG), `label` (ImageNet-1k class index, sorted-wnid
order, names are wnids), `label_200` (position of the wnid among the 200
subset wnids, names are wnids) and `file_name` (`<wnid>/<image file>`, also the
example key).
"""

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench import archives
from tfds_bench import labels
from tfds_bench.errors import DamagedInputError

ARCHIVE_NAME = "imagenet-a.tar"
ARCHIVE_URL = "https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar"
TOP_FOLDER = "imagenet-a"
SUBSET = "imagenet_a"


class Builder(tfds.core.GeneratorBasedBuilder):
  """Natural adversarial examples (ImageNet-A) with ImageNet-1k labels."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": f"Initial release, read from {ARCHIVE_NAME}."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
  Download {ARCHIVE_URL} and put it, unextracted and unrenamed, in
  manual_dir: `<manual_dir>/{ARCHIVE_NAME}`.
  """
  # README.md, CITATIONS.bib and checksums.tsv live next to this file; TFDS's
  # inference from the module name fails under setup.py's package_dir mapping
  # in editable installs (see DESIGN.md).
  pkg_dir_path = epath.Path(__file__).parent

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(names=list(labels.wnids())),
            "label_200": tfds.features.ClassLabel(
                names=list(labels.subset(SUBSET)[0])),
            "file_name": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage="https://github.com/hendrycks/natural-adv-examples",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    # Fails fast, before any work, if the archive is not in manual_dir.
    archive = archives.find_archive(
        archives.manual_dir_of(dl_manager), ARCHIVE_NAME, ARCHIVE_URL)
    return {"test": self._generate_examples(archive)}

  def _generate_examples(self, archive: epath.Path):
    subset_position = {w: i for i, w in enumerate(labels.subset(SUBSET)[0])}
    wnid_to_index = labels.wnid_to_index()
    for wnid, file_name, image in archives.iter_class_folder_images(
        archive, TOP_FOLDER, top_level_files=("README.txt",)):
      if wnid not in subset_position:
        raise DamagedInputError(
            f"Unexpected class folder {wnid!r} (member "
            f"{TOP_FOLDER}/{file_name!r} of {archive}): not one of the 200 "
            f"{SUBSET} wnids.")
      yield file_name, {
          "image": image,
          "label": wnid_to_index[wnid],
          "label_200": subset_position[wnid],
          "file_name": file_name,
      }
