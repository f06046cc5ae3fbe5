"""bench_sample: real photos of ImageNet classes shipped with this builder.

The offline default of ``bench_main``: a handful of photographs (copied from
scikit-image, scikit-learn and matplotlib; provenance and licences in
``photos/LICENSE.md``), each with an ImageNet label and a ReaL-style list of
every class that is a correct answer. Nothing is downloaded and no other
package is needed: the builder reads ``photos/``, checksums checked.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Tuple

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_bench import labels
from tfds_bench import shipped_files

PHOTOS_DIR = epath.Path(__file__).parent / "photos"


@dataclasses.dataclass(frozen=True)
class SamplePhoto:
  file_name: str      # the file in photos/
  source: str         # where the copy in photos/ came from (photos/LICENSE.md)
  label: int          # 1000-class index of the main object
  real_label: Tuple[int, ...]  # every class a careful annotator would accept
  note: str


# Labels were chosen by looking at each photo, not from any model's output.
PHOTOS = (
    SamplePhoto("chelsea.png", "scikit-image data/chelsea.png", 282, (281, 282, 285),
                "a tabby-striped cat's face: tiger cat; tabby and Egyptian cat also fit"),
    SamplePhoto("coffee.png", "scikit-image data/coffee.png", 967, (967, 968),
                "an espresso in a cup on a saucer: espresso; cup also fits"),
    SamplePhoto("rocket.jpg", "scikit-image data/rocket.jpg", 657, (657, 744),
                "a rocket on its launch pad: missile; projectile also fits"),
    SamplePhoto("motorcycle_left.png", "scikit-image data/motorcycle_left.png", 665, (665, 670),
                "a motorcycle in a garage; ImageNet-1k has no motorcycle class: "
                "moped is the nearest, motor scooter also fits"),
    SamplePhoto("camera.png", "scikit-image data/camera.png", 872, (759, 872),
                "grayscale: a photographer behind a camera on a tripod: tripod; "
                "reflex camera also fits"),
    SamplePhoto("grace_hopper.jpg", "matplotlib mpl-data/sample_data/grace_hopper.jpg",
                652, (457, 652),
                "Grace Hopper in US Navy dress uniform: military uniform; bow tie also fits"),
    SamplePhoto("china.jpg", "scikit-learn datasets/images/china.jpg", 698, (663, 698, 832),
                "the Tower of Buddhist Incense, Summer Palace, Beijing: palace; "
                "monastery and stupa also fit"),
)


def read_photo(photo: SamplePhoto) -> np.ndarray:
  """The photo as uint8 RGB [H, W, 3], its bytes checked against photos/SHA256SUMS."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  data = shipped_files.read_checked(PHOTOS_DIR, photo.file_name)
  with Image.open(io.BytesIO(data)) as image:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


class Builder(tfds.core.GeneratorBasedBuilder):
  """Sample suite of real photos with ImageNet and ReaL-style labels."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Seven photos from scikit-image, scikit-learn and matplotlib."}
  # Editable installs map tfds_bench.builders to ./builders: tell TFDS where
  # README.md / CITATIONS.bib live instead of letting it guess from the module.
  ARCHIVE_NAMES = ()  # Reads nothing from manual_dir: everything ships with the package.
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    class_label = tfds.features.ClassLabel(names=list(labels.wnids()))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            # PNG: lossless, so the stored pixels are exactly the decoded photo.
            "image": tfds.features.Image(shape=(None, None, 3), encoding_format="png"),
            "label": class_label,
            "real_label": tfds.features.Sequence(
                tfds.features.ClassLabel(names=list(labels.wnids()))),
            "file_name": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage="https://github.com/tfds-bench/tfds_bench",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Everything is local.
    return {"test": self._generate_examples()}

  def _generate_examples(self):
    for photo in PHOTOS:
      yield photo.file_name, {
          "image": read_photo(photo),
          "label": photo.label,
          "real_label": list(photo.real_label),
          "file_name": photo.file_name,
      }
