"""ImageNet-P as released: sequences as frame examples, released videos.

The release (Hendrycks & Dietterich 2019; hendrycks/robustness
`ImageNet-P/create_p/make_imagenet_p.py`, Zenodo record 3565846) is one mp4 per
(perturbation, val image): `Resize(256)` of the val image, the perturbation
(`tfds_bench.corruptions.perturbations`), `CenterCrop(224)`, frames encoded
with libx264.

Frames as examples: a sequence is stored as one example per FRAME, with
`file_name` `<video_id>/<frame:03d>` (`video_id` the val file's stem,
`ILSVRC2012_val_00000001`, or the sample photo's), the frame as a lossless PNG
(decoded video pixels must not be re-compressed), and `label`. The input
pipeline (one image per example) then streams frames in order with flat
memory, and `tfds_bench.scoring.imagenet_p` regroups the per-frame
predictions by video; no video is ever held in memory as pixels beyond the
one being decoded or generated.

Used by the `bench_imagenet_p` and `bench_sample_p` builders.
"""

from __future__ import annotations

import io
import os
from typing import Dict, Iterator, Optional, Tuple

from etils import epath
import numpy as np

from tfds_bench import archives
from tfds_bench import errors
from tfds_bench import labels
from tfds_bench.corruptions import names as perturbation_names
from tfds_bench.release import common

BUILDER_NAME = "bench_imagenet_p"
SAMPLE_BUILDER_NAME = "bench_sample_p"

NAMES = perturbation_names.PERTURBATIONS
TEST_NAMES = perturbation_names.TEST_PERTURBATIONS
HELDOUT_NAMES = perturbation_names.HELDOUT_PERTURBATIONS

ZENODO_RECORD = "https://zenodo.org/record/3565846"
# The four released archives (file names as downloaded by the release's
# users: https://zenodo.org/record/3565846/files/<name>). Which perturbation
# each holds is not documented; this split, by analogy with ImageNet-C's, is
# used for messages only: the reader looks for a perturbation in every one of
# the four present in manual_dir.
ARCHIVE_PERTURBATIONS: Dict[str, Tuple[str, ...]] = {
    "noise.tar": ("gaussian_noise", "shot_noise", "speckle_noise"),
    "blur.tar": ("motion_blur", "zoom_blur", "gaussian_blur"),
    "weather.tar": ("snow", "brightness", "spatter"),
    "digital.tar": ("translate", "rotate", "tilt", "scale", "shear"),
}
ARCHIVE_OF: Dict[str, str] = {
    p: archive for archive, names in ARCHIVE_PERTURBATIONS.items() for p in names}
ARCHIVES = tuple(ARCHIVE_PERTURBATIONS)
VIDEO_EXTRA_INSTALL = 'pip install "tfds_bench[video]"'

DEFAULT_BASE_SEED = common.DEFAULT_BASE_SEED


# --- frames as examples -------------------------------------------------------------

def frame_file_name(video_id: str, frame: int) -> str:
  """`ILSVRC2012_val_00000001`, 7 -> `ILSVRC2012_val_00000001/007`."""
  return f"{video_id}/{int(frame):03d}"


def parse_frame_file_name(file_name: str) -> Tuple[str, int]:
  """`<video_id>/<frame>` -> (video_id, frame); raises ValueError otherwise."""
  video_id, sep, frame = str(file_name).rpartition("/")
  if not sep or not video_id or not frame.isdigit():
    raise ValueError(
        f"{file_name!r} is not an ImageNet-P frame name '<video_id>/<frame>'")
  return video_id, int(frame)


def video_id_of(file_name: str) -> str:
  """The video id of a val (or mp4) file: its base name without extension."""
  return os.path.splitext(os.path.basename(file_name))[0]


def release_resize(image_bytes: bytes, where: str = "image") -> np.ndarray:
  """Decodes an image as the release did before perturbing: RGB, Resize(256).

  PIL decode, `convert("RGB")`, torchvision `Resize(256)` (shorter side 256,
  PIL bilinear). The release resized before `convert("RGB")`; for RGB
  JPEGs (all but a handful of ImageNet val images) the order does not matter;
  converting first (as ImageNet-C's pipeline) keeps CMYK/gray images sane.

  Returns:
    uint8 `[H, W, 3]` with min(H, W) = 256.
  """
  return common.resize_array(common.decode_rgb(image_bytes, where))


def sequence_examples(resized: np.ndarray, video_id: str, label: int,
                      perturbation: str, seed: int
                      ) -> Iterator[Tuple[str, Dict[str, object]]]:
  """(key, example) per frame of one generated sequence, in frame order.

  Args:
    resized: uint8 `[H, W, 3]`, the Resize(256) image (`release_resize`).
    video_id: the example's video id (val file stem or sample photo stem).
    label: its 1000-class index.
    perturbation: one of `NAMES`.
    seed: the sequence's seed (`tfds_bench.corruptions.perturbations.sequence`).
  """
  from tfds_bench.corruptions import perturbations  # lazy: tensorflow
  frames = perturbations.sequence(resized, perturbation, seed=seed).numpy()
  for index, frame in enumerate(frames):
    yield frame_example(frame, video_id, index, label)


def member_sequence_examples(file_name: str, label: int, data: bytes, where: str,
                             perturbation: str, base_seed: int = DEFAULT_BASE_SEED
                             ) -> Iterator[Tuple[str, Dict[str, object]]]:
  """(key, example) per frame of the sequence generated from one val image.

  The builder's one per-image step, run by its plain generator and by its
  Beam path (`generate_sequence`) alike.
  """
  resized = release_resize(data, where=where)
  seed = common.image_seed(base_seed, file_name)
  yield from sequence_examples(resized, video_id_of(file_name), label, perturbation, seed)


_FRAMES_PER_KEY = 100


def generate_sequence(entry: Tuple[str, int, int], archive: str, perturbation: str,
                      base_seed: int = DEFAULT_BASE_SEED
                      ) -> Iterator[Tuple[str, Dict[str, object]]]:
  """Frame examples of one indexed val-tar member (`archives.index_uncompressed_tar`).

  A module-level function of picklable arguments, so that Beam workers can
  run it (`beam.FlatMap`). Keys are integers, val file number * 100 + frame
  (a sequence has at most 41 frames): TFDS's Beam writer orders unshuffled
  datasets by key and takes only integer keys; this order is the plain
  generator's (val files in order, frames in order).
  """
  name, offset, size = entry
  file_name, label = common.check_val_member(name, archive)
  data = archives.read_member_at(archive, offset, size, name)
  number = labels.val_file_number(file_name)
  for key, example in member_sequence_examples(file_name, label, data,
                                               f"member {name!r} of {archive}",
                                               perturbation, base_seed):
    yield number * _FRAMES_PER_KEY + parse_frame_file_name(key)[1], example


def frame_example(frame: np.ndarray, video_id: str, index: int, label: int
                  ) -> Tuple[str, Dict[str, object]]:
  """(key, example) of one frame; the key is the frame's file name."""
  file_name = frame_file_name(video_id, index)
  return file_name, {
      "image": common.encode_png(frame),
      "label": int(label),
      "file_name": file_name,
      "video_id": video_id,
      "frame": int(index),
  }


# --- released videos ---------------------------------------------------------------

def import_av():
  """PyAV, or a UserError naming the `[video]` extra that installs it."""
  try:
    import av  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.UserError(
        "Reading the released ImageNet-P videos (mp4) needs PyAV, which is not "
        f"installed ({e}); install it with: {VIDEO_EXTRA_INSTALL}") from None
  return av


def decode_video(data: bytes, where: str = "video") -> Iterator[np.ndarray]:
  """Frames of an mp4 (or any ffmpeg-readable video) as uint8 `[H, W, 3]` RGB.

  Frames are decoded and yielded one at a time (flat memory).

  Raises:
    UserError: PyAV is not installed (names the `[video]` extra).
    DamagedInputError: the bytes are not a decodable video.
  """
  av = import_av()
  try:
    with av.open(io.BytesIO(data), mode="r") as container:
      if not container.streams.video:
        raise errors.DamagedInputError(f"{where} has no video stream")
      for frame in container.decode(video=0):
        yield frame.to_ndarray(format="rgb24")
  except av.error.FFmpegError as e:
    raise errors.DamagedInputError(
        f"{where} is not a readable video ({type(e).__name__}: {e}); the "
        "archive is damaged, download it again.") from e


def _released_member(name: str, perturbation: str) -> Optional[Tuple[str, str]]:
  """(wnid, video id) when `name` is `[...]/<perturbation>/<wnid>/<id>.mp4`."""
  parts = name.split("/")
  if len(parts) < 3 or parts[-3] != perturbation or not parts[-1].endswith(".mp4"):
    return None
  return parts[-2], video_id_of(parts[-1])


def iter_released_videos(archive: os.PathLike | str, perturbation: str
                         ) -> Iterator[Tuple[str, str, bytes]]:
  """(wnid, video id, mp4 bytes) of one perturbation in a released archive.

  Members are `<perturbation>/<wnid>/<name>.mp4` (any leading folders are
  accepted, as the archives' exact top level is not documented). Only this
  perturbation's members are read (`archives.iter_selected_members`).
  Members of other perturbations, and non-mp4 files, are passed over.
  """
  for name, data in archives.iter_selected_members(
      archive, lambda name: _released_member(name, perturbation) is None):
    wnid, video_id = _released_member(name, perturbation)
    yield wnid, video_id, data


def has_source_archives(manual_dir: Optional[os.PathLike | str]) -> bool:
  """Whether manual_dir holds a released archive or the val tar.

  With neither, `bench_imagenet_p` cannot be prepared; the benchmark table
  then falls back to the offline `sample_p` sequences.
  """
  if not manual_dir:
    return False
  folder = epath.Path(manual_dir)
  return any((folder / name).exists()
             for name in ARCHIVES + (common.VAL_ARCHIVE_NAME,))
