"""bench_sample: real photos of ImageNet classes that ship with our dependencies.

The offline default of ``bench_main``: a handful of photographs found inside
installed packages (scikit-image, scikit-learn, matplotlib), each with an
ImageNet label and a ReaL-style list of every class that is a correct answer.
Nothing is downloaded and no image is copied into this package: the builder
reads the photos from the installed dependencies when it is prepared.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from typing import Tuple

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_bench import labels


@dataclasses.dataclass(frozen=True)
class SamplePhoto:
  file_name: str
  package: str        # the installed package holding the photo
  path: str           # path inside that package
  label: int          # 1000-class index of the main object
  real_label: Tuple[int, ...]  # every class a careful annotator would accept
  note: str


# Labels were chosen by looking at each photo, not from any model's output.
PHOTOS = (
    SamplePhoto("chelsea.png", "skimage", "data/chelsea.png", 282, (281, 282, 285),
                "a tabby-striped cat's face: tiger cat; tabby and Egyptian cat also fit"),
    SamplePhoto("coffee.png", "skimage", "data/coffee.png", 967, (967, 968),
                "an espresso in a cup on a saucer: espresso; cup also fits"),
    SamplePhoto("rocket.jpg", "skimage", "data/rocket.jpg", 657, (657, 744),
                "a rocket on its launch pad: missile; projectile also fits"),
    SamplePhoto("motorcycle_left.png", "skimage", "data/motorcycle_left.png", 665, (665, 670),
                "a motorcycle in a garage; ImageNet-1k has no motorcycle class: "
                "moped is the nearest, motor scooter also fits"),
    SamplePhoto("camera.png", "skimage", "data/camera.png", 872, (759, 872),
                "grayscale: a photographer behind a camera on a tripod: tripod; "
                "reflex camera also fits"),
    SamplePhoto("grace_hopper.jpg", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
                652, (457, 652),
                "Grace Hopper in US Navy dress uniform: military uniform; bow tie also fits"),
    SamplePhoto("china.jpg", "sklearn", "datasets/images/china.jpg", 698, (663, 698, 832),
                "the Tower of Buddhist Incense, Summer Palace, Beijing: palace; "
                "monastery and stupa also fit"),
)


def read_photo(photo: SamplePhoto) -> np.ndarray:
  """The photo as uint8 RGB [H, W, 3]."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with resources.files(photo.package).joinpath(photo.path).open("rb") as f:
      image = Image.open(f)
      image.load()
  except (ModuleNotFoundError, FileNotFoundError) as e:
    raise FileNotFoundError(
        f"sample photo {photo.path} of package {photo.package} is missing ({e}); "
        "reinstall tfds_bench's dependencies: pip install scikit-image scikit-learn matplotlib"
    ) from None
  return np.asarray(image.convert("RGB"), dtype=np.uint8)


class Builder(tfds.core.GeneratorBasedBuilder):
  """Sample suite of real photos with ImageNet and ReaL-style labels."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Seven photos from scikit-image, scikit-learn and matplotlib."}
  # Editable installs map tfds_bench.builders to ./builders: tell TFDS where
  # README.md / CITATIONS.bib live instead of letting it guess from the module.
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
