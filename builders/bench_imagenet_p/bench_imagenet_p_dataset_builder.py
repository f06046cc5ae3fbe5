"""ImageNet-P: the released videos, or sequences generated from ImageNet val.

14 perturbations (10 test + 4 held-out: speckle_noise, gaussian_blur, spatter,
shear) of the 50,000 ImageNet validation images (Hendrycks & Dietterich 2019),
one sequence (video) per image: 31 frames (translate: 41) of 224x224. One
config per perturbation (`bench_imagenet_p/<perturbation>`), difficulty 1 (the
release's `<perturbation>` folders; the noise `_2` / `_3` sets are not
configs), each with one split, `test`.

One example per FRAME (see `tfds_bench.imagenet_p`): `image` (PNG, lossless),
`label`, `file_name` `<video_id>/<frame:03d>` (also the key), `video_id`
(`ILSVRC2012_val_NNNNNNNN`) and `frame`. Examples are written in order (no
shuffling), so a video's frames are contiguous and in order.

Where the frames come from is decided by what is in manual_dir, in this order:

1. Released: any of the Zenodo archives `noise.tar`, `blur.tar`,
   `weather.tar`, `digital.tar` holding `<perturbation>/<wnid>/<name>.mp4`
   members. Videos are decoded with PyAV (`pip install "tfds_bench[video]"`),
   one at a time; frames are stored as decoded.
2. Generated: `ILSVRC2012_img_val.tar`, through `tfds_bench.imagenet_p`:
   PIL RGB, Resize(256), `tfds_bench.corruptions.perturbations.sequence` with seed
   `tfds_bench.release.common.image_seed(0, file_name)` (the val file number), frames as PNG
   (no H.264 step, unlike the release).
3. Neither: `MissingArchiveError` naming both.

`builder.info.metadata["source"]` records "released" or "generated".
"""

from __future__ import annotations

import dataclasses
from absl import logging
from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_bench import archives
from tfds_bench.release import common
from tfds_bench.release import imagenet_p
from tfds_bench import labels
from tfds_bench.errors import DamagedInputError

SOURCE_RELEASED = common.SOURCE_RELEASED
SOURCE_GENERATED = common.SOURCE_GENERATED
FRAME_SIZE = common.CROP_SIZE


@dataclasses.dataclass(kw_only=True)
class BenchImagenetPConfig(tfds.core.BuilderConfig):
  """One perturbation, one of `imagenet_p.NAMES` (the config's name too)."""
  perturbation: str


def _make_configs():
  return [
      BenchImagenetPConfig(
          name=name,
          description=(f"{name} ({'test' if name in imagenet_p.TEST_NAMES else 'held-out'} "
                       f"perturbation), one example per frame, from "
                       f"{imagenet_p.ARCHIVE_OF[name]} or generated from "
                       f"{common.VAL_ARCHIVE_NAME}."),
          perturbation=name)
      for name in imagenet_p.NAMES
  ]


def frame_features() -> tfds.features.FeaturesDict:
  """Features of a frame example (shared with bench_sample_p)."""
  return tfds.features.FeaturesDict({
      "image": tfds.features.Image(shape=(FRAME_SIZE, FRAME_SIZE, 3),
                                   encoding_format="png"),
      "label": tfds.features.ClassLabel(names=list(labels.wnids())),
      "file_name": tfds.features.Text(),
      "video_id": tfds.features.Text(),
      "frame": tfds.features.Scalar(dtype=np.int32),
  })


class Builder(tfds.core.GeneratorBasedBuilder):
  """ImageNet-P frames (released videos, or generated from ImageNet val)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: released videos or generated."}
  BUILDER_CONFIGS = _make_configs()
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
  Either (preferred) the released archives, unextracted and unrenamed, from
  {imagenet_p.ZENODO_RECORD} (reading them needs {imagenet_p.VIDEO_EXTRA_INSTALL}):
    <manual_dir>/noise.tar, blur.tar, weather.tar, digital.tar
  (a perturbation is looked up in every one of them that is present), or, to
  generate the sequences with the release's pipeline,
    <manual_dir>/{common.VAL_ARCHIVE_NAME}
  from {common.VAL_ARCHIVE_URL} (needs an ImageNet account).
  """
  # The files this builder reads from manual_dir (README tables are checked against it).
  ARCHIVE_NAMES = imagenet_p.ARCHIVES + (common.VAL_ARCHIVE_NAME,)
  # See bench_imagenet_c: TFDS cannot infer this under the package_dir mapping.
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=frame_features(),
        supervised_keys=("image", "label"),
        homepage="https://github.com/hendrycks/robustness",
        # Written in generation order: a video's frames contiguous, ascending.
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict(),
    )

  def _download_and_prepare(self, dl_manager, download_config):
    # As bench_imagenet_c: Beam when the DownloadConfig names a runner or options.
    self._beam_requested = common.beam_requested(download_config)
    return super()._download_and_prepare(dl_manager, download_config)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    name = self.builder_config.name
    found = common.find_sources(dl_manager, self.url_infos, {
        archive: common.release_archive_url(imagenet_p.ZENODO_RECORD, archive)
        for archive in imagenet_p.ARCHIVES})
    if found is None:
      raise common.missing_sources_error(
          dl_manager, f"bench_imagenet_p/{name}",
          f"the released ImageNet-P archives (noise.tar, blur.tar, "
          f"weather.tar, digital.tar; {name} is expected in "
          f"{imagenet_p.ARCHIVE_OF[name]}) from {imagenet_p.ZENODO_RECORD}, "
          f"read with PyAV ({imagenet_p.VIDEO_EXTRA_INSTALL})")
    source, paths = found
    self.info.metadata["source"] = source
    if source == SOURCE_GENERATED:
      self.info.metadata["base_seed"] = imagenet_p.DEFAULT_BASE_SEED
      logging.info("bench_imagenet_p/%s: generated from %s", name, paths[0])
    else:
      logging.info("bench_imagenet_p/%s: released, from %s", name,
                   ", ".join(map(str, paths)))
      imagenet_p.import_av()  # Fail before writing.
    return {"test": self._generate_examples(source, paths)}

  def _generate_examples(self, source: str, paths):
    """Frame examples of the released videos, or generated from val."""
    if source == SOURCE_RELEASED:
      return self._released_examples(paths)
    if getattr(self, "_beam_requested", False):
      # One Beam element per val image; the writer orders frames by key
      # (disable_shuffling), the plain generator's order.
      beam = tfds.core.lazy_imports.apache_beam
      entries = archives.index_uncompressed_tar(paths[0])
      for name, _, _ in entries:
        common.check_val_member(name, paths[0])  # Fail fast, before Beam runs.
      return (
          beam.Create(sorted(entries))
          | beam.FlatMap(imagenet_p.generate_sequence, archive=str(paths[0]),
                         perturbation=self.builder_config.perturbation,
                         base_seed=imagenet_p.DEFAULT_BASE_SEED))
    return self._generated_examples(paths[0])

  def _released_examples(self, paths):
    name = self.builder_config.perturbation
    wnid_to_index = labels.wnid_to_index()
    found = 0
    seen = set()
    for archive in paths:
      for wnid, video_id, data in imagenet_p.iter_released_videos(archive, name):
        where = f"member {name}/{wnid}/{video_id}.mp4 of {archive}"
        if wnid not in wnid_to_index:
          raise DamagedInputError(
              f"Unexpected class folder {wnid!r} ({where}): not an ImageNet-1k wnid.")
        if video_id in seen:
          raise DamagedInputError(f"{where}: video {video_id!r} occurs twice")
        seen.add(video_id)
        found += 1
        frames = 0
        for index, frame in enumerate(imagenet_p.decode_video(data, where)):
          if frame.shape != (FRAME_SIZE, FRAME_SIZE, 3):
            raise DamagedInputError(
                f"{where}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, "
                f"expected {FRAME_SIZE}x{FRAME_SIZE}")
          frames += 1
          yield imagenet_p.frame_example(frame, video_id, index,
                                         wnid_to_index[wnid])
        if not frames:
          raise DamagedInputError(f"{where}: the video has no frames")
    if not found:
      raise DamagedInputError(
          f"No '{name}/<wnid>/<name>.mp4' member in "
          f"{', '.join(map(str, paths))}: are these the released ImageNet-P "
          f"archives ({name} is expected in {imagenet_p.ARCHIVE_OF[name]})?")

  def _generated_examples(self, val_archive: epath.Path):
    name = self.builder_config.perturbation
    for file_name, label, data in common.iter_val_images(val_archive):
      yield from imagenet_p.member_sequence_examples(
          file_name, label, data, f"member {file_name!r} of {val_archive}", name)
