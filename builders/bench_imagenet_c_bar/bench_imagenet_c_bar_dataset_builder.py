"""ImageNet-C-bar: the released JPEGs, or generated from ImageNet val the same way.

10 corruptions x 5 severities of the 50,000 ImageNet validation images
(Mintun, Kirillov & Xie, NeurIPS 2021), chosen to be dissimilar from
ImageNet-C's. One config per corruption and severity, `<corruption>_<severity>`
(50 configs), each with one split, `test`.

Sources, in this order (README.md):

1. Released: `imagenet_c_bar.tar.gz` (the preprocessed copy linked from
   facebookresearch/augmentation-corruption's README), streamed; only the
   config's members are kept, byte for byte.
2. Generated: `ILSVRC2012_img_val.tar` through the release pipeline
   (`tfds_bench.release.imagenet_c.generate_images` with a C-bar corruption:
   Resize(256), CenterCrop(224), `tfds_bench.corruptions.apply`, JPEG q85).
3. Neither: `MissingArchiveError` naming both.

`builder.info.metadata["source"]` records which. The generated source runs on
Apache Beam when a `beam_runner` / `beam_options` is given, like
`bench_imagenet_c`.
"""

from __future__ import annotations

import dataclasses

from absl import logging
from etils import epath
import tensorflow_datasets as tfds

from tfds_bench import labels
from tfds_bench.builders import subset_builder
from tfds_bench.errors import DamagedInputError
from tfds_bench.release import common
from tfds_bench.release import imagenet_c
from tfds_bench.release import imagenet_c_bar



@dataclasses.dataclass
class BenchImagenetCBarConfig(tfds.core.BuilderConfig):
  """One corruption at one severity."""
  corruption: str = ""
  severity: int = 0


def _make_configs():
  return [BenchImagenetCBarConfig(
      name=config.name,
      description=(f"{config.corruption} at severity {config.severity} of 5, from "
                   f"{imagenet_c_bar.ARCHIVE_NAME} or generated from "
                   f"{common.VAL_ARCHIVE_NAME}."),
      corruption=config.corruption, severity=config.severity)
          for config in imagenet_c_bar.ALL_CONFIGS]


class Builder(tfds.core.GeneratorBasedBuilder):
  """ImageNet-C-bar (the released archive, or generated from ImageNet val)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: released archive or generated."}
  BUILDER_CONFIGS = _make_configs()
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
  Either (preferred) the released archive, unextracted and unrenamed:
    <manual_dir>/{imagenet_c_bar.ARCHIVE_NAME}   from {imagenet_c_bar.ARCHIVE_URL}
  or, to generate the images with the release's pipeline,
    <manual_dir>/{common.VAL_ARCHIVE_NAME}
  from {common.VAL_ARCHIVE_URL} (needs an ImageNet account).
  The released archive is used when present.
  """
  ARCHIVE_NAMES = (imagenet_c_bar.ARCHIVE_NAME, common.VAL_ARCHIVE_NAME)
  pkg_dir_path = epath.Path(__file__).parent
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=subset_builder.image_label_features(),
        supervised_keys=("image", "label"),
        homepage=imagenet_c_bar.HOMEPAGE,
        metadata=tfds.core.MetadataDict(),
    )

  def _download_and_prepare(self, dl_manager, download_config):
    self._beam_requested = common.beam_requested(download_config)
    return super()._download_and_prepare(dl_manager, download_config)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config = self.builder_config
    found = common.find_sources(dl_manager, self.url_infos,
                                {imagenet_c_bar.ARCHIVE_NAME: imagenet_c_bar.ARCHIVE_URL})
    if found is None:
      raise common.missing_sources_error(
          dl_manager, f"{imagenet_c_bar.BUILDER_NAME}/{config.name}",
          f"the released {imagenet_c_bar.ARCHIVE_NAME}, from {imagenet_c_bar.ARCHIVE_URL}")
    source, (path,) = found
    self.info.metadata["source"] = source
    if source == common.SOURCE_GENERATED:
      self.info.metadata["base_seed"] = common.DEFAULT_BASE_SEED
    logging.info("%s/%s: %s from %s", imagenet_c_bar.BUILDER_NAME, config.name, source, path)
    return {"test": self._generate_examples(source, path)}

  def _generate_examples(self, source: str, path: epath.Path):
    if source == common.SOURCE_RELEASED:
      return self._released_examples(path)
    config = imagenet_c.Config(self.builder_config.corruption, self.builder_config.severity)
    if getattr(self, "_beam_requested", False):
      return imagenet_c.beam_generation(tfds.core.lazy_imports.apache_beam, path, config)
    return imagenet_c.generate_from_val_archive(path, config)

  def _released_examples(self, archive: epath.Path):
    config = self.builder_config
    wnid_to_index = labels.wnid_to_index()
    for wnid, file_name, image in imagenet_c_bar.iter_released_members(
        archive, config.corruption, config.severity):
      where = f"{config.corruption}/{config.severity}/{wnid}/{file_name!r} of {archive}"
      if wnid not in wnid_to_index:
        raise DamagedInputError(f"Unexpected class folder {wnid!r} ({where}): not an "
                                "ImageNet-1k wnid.")
      try:
        labels.val_file_number(file_name)
      except ValueError as e:
        raise DamagedInputError(f"{where}: {e}") from None
      yield file_name, {"image": image, "label": wnid_to_index[wnid], "file_name": file_name}
