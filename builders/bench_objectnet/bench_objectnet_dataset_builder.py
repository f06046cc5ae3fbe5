"""ObjectNet 1.0, read from the released, password-protected `objectnet-1.0.zip`.

50,273 photos of household objects in 313 classes, taken by crowd workers
with controlled rotation, background and viewpoint (Barbu et al., NeurIPS
2019); 113 classes overlap ImageNet-1k. Test set only: its licence forbids
using it to tune the parameters of any model.

Archive layout (as released): `objectnet-1.0/README`, `objectnet-1.0/LICENSE`,
`objectnet-1.0/mappings/` (the authors' mapping files, among them
`folder_to_objectnet_label.json`: class folder -> ObjectNet class name) and
`objectnet-1.0/images/<folder>/<file>.png`. The zip is ZipCrypto-encrypted
with the password the authors publish; it is read without extracting it.

Every image has a red border that the authors' evaluation code crops, 2 pixels
on each side (`img.crop((2, 2, width - 2, height - 2))` after
`convert('RGB')`); the builder stores the image the way that code feeds it to
a model.

Features: `image` (RGB PNG, lossless: the released files are PNGs),
`label` (the class's index in the `objectnet` label space,
tfds_bench/data/label_spaces/objectnet.json, 0..112; -1 for the 200 classes
outside ImageNet-1k), `objectnet_class` (the ObjectNet class name) and
`file_name` (`<folder>/<file>`, also the example key).
"""

import io
import json
from typing import Dict, Tuple

from etils import epath
import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from tfds_bench import archives, label_spaces
from tfds_bench.errors import DamagedInputError

ARCHIVE_NAME = "objectnet-1.0.zip"
# The file the download page https://objectnet.dev/download.html links (the
# checksums.tsv key once a row is recorded; nothing is downloaded).
ARCHIVE_URL = "https://objectnet.dev/downloads/objectnet-1.0.zip"
# Published by the authors on objectnet.dev, next to the licence it makes
# readers acknowledge (their text as copied in shift-happens-benchmark/icml-2022
# shifthappens/tasks/objectnet/README.rst).
PASSWORD = b"objectnetisatestset"
TOP_FOLDER = "objectnet-1.0"
IMAGES_FOLDER = f"{TOP_FOLDER}/images"
MAPPINGS_FOLDER = f"{TOP_FOLDER}/mappings"
FOLDER_MAPPING = f"{MAPPINGS_FOLDER}/folder_to_objectnet_label.json"
# The authors' list of the classes that overlap ImageNet-1k (class -> the
# ImageNet class names that count as it): its classes must be the label
# space's.
OVERLAP_MAPPING = f"{MAPPINGS_FOLDER}/objectnet_to_imagenet_1k.json"
TOP_LEVEL_FILES = (f"{TOP_FOLDER}/README", f"{TOP_FOLDER}/LICENSE")
# Pixels the authors' loaders crop from each side (their templates'
# ObjectNetDataset: cropArea = (2, 2, width-2, height-2)).
BORDER = 2
# Label of an image whose class is not one of the 113 overlapping classes.
OUTSIDE_LABEL_SPACE = -1
LABEL_SPACE = "objectnet"
LABEL_SPACE_FILE = "label_spaces/objectnet.json"


def label_space_class_names() -> Tuple[str, ...]:
  """The 113 ObjectNet class names of the `objectnet` label space, in order."""
  return label_spaces.get(LABEL_SPACE).class_names


def _json_object_of_names(data: bytes, where: str) -> Dict[str, str]:
  """A mapping member's JSON object of name -> name."""
  try:
    mapping = json.loads(data.decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise DamagedInputError(f"{where} is not valid JSON ({e}); is this the "
                            "released archive?") from e
  if not (isinstance(mapping, dict) and all(
      isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())):
    raise DamagedInputError(
        f"{where} is not a JSON object of names; is this the released "
        "archive?")
  return mapping


def check_overlap_classes(overlap_bytes: bytes, where: str,
                          class_names: Tuple[str, ...]) -> None:
  """The authors' overlapping classes are exactly the label space's.

  Args:
    overlap_bytes: `objectnet_to_imagenet_1k.json` as read from the zip.
    where: the member, for error messages.
    class_names: the label space's class names.

  Raises:
    DamagedInputError: a class in one and not the other, named.
  """
  overlap = set(_json_object_of_names(overlap_bytes, where))
  data_file = f"tfds_bench/data/{LABEL_SPACE_FILE}"
  only_in_zip = sorted(overlap - set(class_names))
  if only_in_zip:
    raise DamagedInputError(
        f"Class {only_in_zip[0]!r} of {where} is missing from {data_file} "
        f"({len(only_in_zip)} such): the archive is not ObjectNet 1.0 as "
        "released, or the data file is out of date "
        "(tests/tools/make_objectnet_label_space.py rebuilds it).")
  only_in_space = sorted(set(class_names) - overlap)
  if only_in_space:
    raise DamagedInputError(
        f"Class {only_in_space[0]!r} of {data_file} is not in {where} "
        f"({len(only_in_space)} such): the archive is not ObjectNet 1.0 as "
        "released, or the data file is out of date "
        "(tests/tools/make_objectnet_label_space.py rebuilds it).")


def folder_labels(mapping_bytes: bytes, where: str,
                  class_names: Tuple[str, ...]) -> Dict[str, Tuple[str, int]]:
  """Class folder -> (ObjectNet class name, label) from the zip's mapping.

  Args:
    mapping_bytes: `folder_to_objectnet_label.json` as read from the zip.
    where: the member, for error messages.
    class_names: the label space's class names (label = position).

  Raises:
    DamagedInputError: the mapping is not a JSON object of names, or a class
      of the label space is not among its classes.
  """
  mapping = _json_object_of_names(mapping_bytes, where)
  missing = sorted(set(class_names) - set(mapping.values()))
  if missing:
    raise DamagedInputError(
        f"{len(missing)} class(es) of tfds_bench/data/{LABEL_SPACE_FILE} are "
        f"not classes of {where}, e.g. {missing[0]!r}: the archive's classes "
        "differ from ObjectNet 1.0's; use the released objectnet-1.0.zip.")
  position = {name: i for i, name in enumerate(class_names)}
  return {folder: (name, position.get(name, OUTSIDE_LABEL_SPACE))
          for folder, name in mapping.items()}


def crop_border(png_bytes: bytes, where: str) -> np.ndarray:
  """The image as the authors' loader feeds it: RGB, BORDER pixels cropped.

  Raises:
    DamagedInputError: not a readable image, or too small to have a border.
  """
  try:
    with PIL.Image.open(io.BytesIO(png_bytes)) as image:
      image.load()  # Full decode: a truncated file raises here.
      rgb = image.convert("RGB")
  except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError,
          EOFError) as e:
    raise DamagedInputError(
        f"{where} is not a readable image ({type(e).__name__}: {e}); the "
        "archive is damaged, download it again.") from e
  width, height = rgb.size
  if width <= 2 * BORDER or height <= 2 * BORDER:
    raise DamagedInputError(
        f"{where} is {width}x{height} pixels, too small to have ObjectNet's "
        f"{BORDER}-pixel border; the archive is damaged, download it again.")
  return np.asarray(rgb.crop((BORDER, BORDER, width - BORDER, height - BORDER)))


class Builder(tfds.core.GeneratorBasedBuilder):
  """ObjectNet 1.0: a bias-controlled object recognition test set."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": f"Initial release, read from {ARCHIVE_NAME}."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
  Download {ARCHIVE_NAME} from https://objectnet.dev/download.html (read its
  licence: ObjectNet may never be used to tune the parameters of any model)
  and put it, unextracted and unrenamed, in manual_dir:
  `<manual_dir>/{ARCHIVE_NAME}`. The builder knows the published password.
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
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(None, None, 3),
                                         encoding_format="png"),
            "label": tfds.features.Scalar(
                dtype=np.int64,
                doc=("Index of the class in the `objectnet` label space "
                     "(0..112), -1 for classes outside ImageNet-1k.")),
            "objectnet_class": tfds.features.Text(),
            "file_name": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage="https://objectnet.dev",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    # manual_dir only (no checksum is published; README, "Verifying"); fails
    # fast, before any work, if the archive is not there.
    archive = archives.get_archive(dl_manager, self.url_infos, ARCHIVE_URL,
                                   ARCHIVE_NAME)
    return {"test": self._generate_examples(archive)}

  def _generate_examples(self, archive: epath.Path):
    with archives.EncryptedZip(archive, PASSWORD) as zf:
      for member in (FOLDER_MAPPING, OVERLAP_MAPPING):
        if member not in zf.names:
          raise DamagedInputError(
              f"{archive} has no member {member!r}; is this the released "
              f"{ARCHIVE_NAME}?")
      class_names = label_space_class_names()
      check_overlap_classes(zf.read(OVERLAP_MAPPING),
                            f"member {OVERLAP_MAPPING!r} of {archive}",
                            class_names)
      mapping_where = f"member {FOLDER_MAPPING!r} of {archive}"
      labels_of = folder_labels(zf.read(FOLDER_MAPPING), mapping_where,
                                class_names)
      for name in zf.names:
        if name in TOP_LEVEL_FILES or name.startswith(MAPPINGS_FOLDER + "/"):
          continue
        parts = name.split("/")
        if len(parts) != 4 or not name.startswith(IMAGES_FOLDER + "/"):
          raise DamagedInputError(
              f"Unexpected member {name!r} in {archive}: expected "
              f"'{IMAGES_FOLDER}/<class folder>/<image file>', "
              f"'{MAPPINGS_FOLDER}/<file>' or {list(TOP_LEVEL_FILES)}. Is this "
              "the released archive?")
        folder = parts[2]
        where = f"member {name!r} of {archive}"
        if folder not in labels_of:
          raise DamagedInputError(
              f"Class folder {folder!r} ({where}) is not in {mapping_where}: "
              "the archive's images and mapping disagree; use the released "
              f"{ARCHIVE_NAME}.")
        objectnet_class, label = labels_of[folder]
        file_name = "/".join(parts[2:])
        yield file_name, {
            "image": crop_border(zf.read(name), where),
            "label": label,
            "objectnet_class": objectnet_class,
            "file_name": file_name,
        }
