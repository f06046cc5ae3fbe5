"""bench_sample_p: ImageNet-P sequences generated from the offline sample photos.

The offline stand-in for `bench_imagenet_p`: the first three photos of
`bench_sample` (`SAMPLE_PHOTOS`: chelsea, coffee, rocket; read from the
installed scikit-image), each
resized as the release did (`Resize(256)`) and perturbed with
`tfds_bench.corruptions.perturbations.sequence` (seed = the photo's position). One config
per perturbation (14), each with one split, `test`: one example per frame,
the same features as `bench_imagenet_p` (`file_name` `<photo>/<frame:03d>`,
`video_id` the photo's stem). Nothing is downloaded.

Three photos, not all seven: every photo is prepared under all 14
perturbations' sequences, and spatter's edge/distance pipeline is heavy per
photo, so three keep the offline fallback quick to prepare.
"""

from __future__ import annotations

import os

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench.release import common
from tfds_bench.release import imagenet_p
from tfds_bench.builders.bench_imagenet_p import bench_imagenet_p_dataset_builder
from tfds_bench.builders.bench_sample.bench_sample_dataset_builder import PHOTOS
from tfds_bench.builders.bench_sample.bench_sample_dataset_builder import read_photo


SAMPLE_PHOTOS = PHOTOS[:3]


def video_id(photo) -> str:
  """`chelsea.png` -> `chelsea`."""
  return os.path.splitext(photo.file_name)[0]


class Builder(tfds.core.GeneratorBasedBuilder):
  """ImageNet-P sequences of the sample photos (offline)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Sequences of three bench_sample photos."}
  BUILDER_CONFIGS = [
      tfds.core.BuilderConfig(
          name=name,
          description=f"{name} sequences of {len(SAMPLE_PHOTOS)} sample photos.")
      for name in imagenet_p.NAMES
  ]
  ARCHIVE_NAMES = ()  # Reads nothing from manual_dir: everything ships with the package.
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=bench_imagenet_p_dataset_builder.frame_features(),
        supervised_keys=("image", "label"),
        homepage="https://github.com/hendrycks/robustness",
        # Written in generation order: a video's frames contiguous, ascending.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Everything is local.
    return {"test": self._generate_examples()}

  def _generate_examples(self):
    for seed, photo in enumerate(SAMPLE_PHOTOS):
      resized = common.resize_array(read_photo(photo))
      yield from imagenet_p.sequence_examples(
          resized, video_id(photo), photo.label, self.builder_config.name, seed)
