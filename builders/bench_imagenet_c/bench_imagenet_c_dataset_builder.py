"""ImageNet-C: the released JPEGs, or generated from ImageNet val the same way.

19 corruptions (15 test + 4 held-out) x 5 severities of the 50,000 ImageNet
validation images (Hendrycks & Dietterich 2019). One config per corruption and
severity, `<corruption>_<severity>` (95 configs), each with one split, `test`.

Where the images come from is decided by what is in manual_dir, in this order:

1. Released: the Zenodo archive holding the corruption (`noise.tar`,
   `blur.tar`, `weather.tar`, `digital.tar` or `extra.tar`; see
   `tfds_bench.release.imagenet_c.ARCHIVE_CORRUPTIONS`). Layout inside:
   `<corruption>/<severity>/<wnid>/ILSVRC2012_val_NNNNNNNN.JPEG`. Only the
   config's members are read, unextracted; images are stored byte for byte.
2. Generated: `ILSVRC2012_img_val.tar` (flat `ILSVRC2012_val_NNNNNNNN.JPEG`
   members; labels from `tfds_bench.labels.val_labels()`), through the
   release pipeline `tfds_bench.release.imagenet_c.generate_images` (PIL RGB,
   Resize(256), CenterCrop(224), `tfds_bench.corruptions.apply` with the seed
   `image_seed(0, file_name)`, JPEG quality 85 optimize=True). The corruption
   draws differ from the release's (see tfds_bench/corruptions), so figures
   are close to, not identical with, the released set.
3. Neither: `MissingArchiveError` naming both files and where to get them.

Both are read from manual_dir through TFDS's download manager, on any
filesystem; no checksum is published for the released archives, so they are
verified only once the user records their rows in checksums.tsv (README.md,
"Verifying").

Which one was used is recorded in `builder.info.metadata["source"]`
("released" or "generated", plus "base_seed" for generated data).

Generation can run on Apache Beam (optional `apache-beam`): pass a
`beam_runner` or `beam_options` in `tfds.download.DownloadConfig` and the
generated source becomes a Beam pipeline over the val images (each worker
seeks to its members in the uncompressed val tar). Without them, or for the
released source, examples are produced by a plain Python generator.

Features: `image` (JPEG), `label` (ImageNet-1k class index, sorted-wnid order,
names are wnids), `file_name` (`ILSVRC2012_val_NNNNNNNN.JPEG`, the base name,
so ReaL and other per-file labels join; also the example key).
"""

from __future__ import annotations

import dataclasses
from absl import logging
from etils import epath
import tensorflow_datasets as tfds

from tfds_bench.release import common
from tfds_bench.release import imagenet_c
from tfds_bench import labels
from tfds_bench.builders import subset_builder
from tfds_bench.errors import DamagedInputError

SOURCE_RELEASED = common.SOURCE_RELEASED
SOURCE_GENERATED = common.SOURCE_GENERATED


@dataclasses.dataclass(kw_only=True)
class BenchImagenetCConfig(tfds.core.BuilderConfig):
  """One corruption at one severity: `config`, named `config.name`."""
  config: imagenet_c.Config


def _make_configs():
  configs = []
  for config in imagenet_c.ALL_CONFIGS:
    kind = "test" if config.corruption in imagenet_c.TEST_NAMES else "held-out"
    configs.append(BenchImagenetCConfig(
        name=config.name,
        description=(f"{config.corruption} ({kind} corruption) at severity "
                     f"{config.severity} of 5, from "
                     f"{imagenet_c.ARCHIVE_OF[config.corruption]} or generated "
                     f"from {common.VAL_ARCHIVE_NAME}."),
        config=config))
  return configs


class Builder(tfds.core.GeneratorBasedBuilder):
  """ImageNet-C (released archives, or generated from ImageNet val)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: released archives or generated."}
  BUILDER_CONFIGS = _make_configs()
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
  Either (preferred) the released archive of the corruption, unextracted and
  unrenamed, from {imagenet_c.ZENODO_RECORD}:
    <manual_dir>/noise.tar    gaussian_noise, shot_noise, impulse_noise
    <manual_dir>/blur.tar     defocus_blur, glass_blur, motion_blur, zoom_blur
    <manual_dir>/weather.tar  snow, frost, fog, brightness
    <manual_dir>/digital.tar  contrast, elastic_transform, pixelate, jpeg_compression
    <manual_dir>/extra.tar    speckle_noise, gaussian_blur, spatter, saturate
  or, to generate the images with the release's pipeline,
    <manual_dir>/{common.VAL_ARCHIVE_NAME}
  from {common.VAL_ARCHIVE_URL} (needs an ImageNet account).
  The released archive is used when present.
  """
  # The files this builder reads from manual_dir (README tables are checked against it).
  ARCHIVE_NAMES = tuple(imagenet_c.ARCHIVE_CORRUPTIONS) + (common.VAL_ARCHIVE_NAME,)
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
        homepage="https://github.com/hendrycks/robustness",
        metadata=tfds.core.MetadataDict(),
    )

  def _download_and_prepare(self, dl_manager, download_config):
    # The download manager does not carry the Beam settings; remember whether
    # the caller asked for Beam, as TFDS's Beam datasets are asked: with a
    # beam_runner or beam_options in the DownloadConfig.
    self._beam_requested = common.beam_requested(download_config)
    return super()._download_and_prepare(dl_manager, download_config)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config = self.builder_config.config
    released_name = imagenet_c.ARCHIVE_OF[config.corruption]
    found = common.find_sources(dl_manager, self.url_infos, {
        released_name: common.release_archive_url(imagenet_c.ZENODO_RECORD,
                                                  released_name)})
    if found is None:
      raise common.missing_sources_error(
          dl_manager, f"bench_imagenet_c/{config.name}",
          f"the released ImageNet-C archive {released_name}, from "
          f"{imagenet_c.ZENODO_RECORD}")
    source, (path,) = found
    self.info.metadata["source"] = source
    if source == SOURCE_GENERATED:
      self.info.metadata["base_seed"] = common.DEFAULT_BASE_SEED
    logging.info("bench_imagenet_c/%s: %s from %s", config.name, source, path)
    return {"test": self._generate_examples(source, path)}

  def _generate_examples(self, source: str, path: epath.Path):
    """Examples of the config: a generator, or a Beam PTransform (see doc)."""
    if source == SOURCE_RELEASED:
      return self._released_examples(path)
    if getattr(self, "_beam_requested", False):
      # Batches, not single images: each batch runs through
      # imagenet_c.generate_images' thread pool in groups, as without Beam.
      return imagenet_c.beam_generation(tfds.core.lazy_imports.apache_beam, path,
                                        self.builder_config.config)
    return imagenet_c.generate_from_val_archive(path, self.builder_config.config)

  def _released_examples(self, archive: epath.Path):
    config = self.builder_config.config
    wnid_to_index = labels.wnid_to_index()
    for wnid, file_name, image in imagenet_c.iter_released_members(archive, config):
      where = (f"member {config.corruption}/{config.severity}/{wnid}/"
               f"{file_name!r} of {archive}")
      if wnid not in wnid_to_index:
        raise DamagedInputError(
            f"Unexpected class folder {wnid!r} ({where}): not an ImageNet-1k "
            "wnid.")
      try:
        labels.val_file_number(file_name)
      except ValueError as e:
        raise DamagedInputError(f"{where}: {e}") from None
      yield file_name, {
          "image": image,
          "label": wnid_to_index[wnid],
          "file_name": file_name,
      }

