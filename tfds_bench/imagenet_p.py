"""ImageNet-P: release preprocessing, frames as examples, archive reading, scoring.

Shared by the `bench_imagenet_p` builder (released videos, or sequences
generated from ImageNet val), the `bench_sample_p` builder (sequences of the
offline sample photos) and the `imagenet_p` / `sample_p` benchmarks.

The release (Hendrycks & Dietterich 2019; hendrycks/robustness
`ImageNet-P/create_p/make_imagenet_p.py`, Zenodo record 3565846) is one mp4 per
(perturbation, val image): `Resize(256)` of the val image, the perturbation
(`tfds_bench.perturbations`), `CenterCrop(224)`, frames encoded with libx264.

Frames as examples: a sequence is stored as one example per FRAME, with
`file_name` `<video_id>/<frame:03d>` (`video_id` the val file's stem,
`ILSVRC2012_val_00000001`, or the sample photo's), the frame as a lossless PNG
(decoded video pixels must not be re-compressed), and `label`. The existing
pipeline (one image per example) then streams frames in order with flat
memory, and `videos_from_predictions` regroups the compact per-frame
predictions (top-5 indices) by video for scoring; no video is ever held in
memory as pixels beyond the one being decoded or generated.

Scoring (`score_imagenet_p`), per perturbation, with the definitions of
`tfds_bench.metrics.perturbation` (hendrycks/robustness `ImageNet-P/test.py`,
difficulty 1):
  * `flip_probability/<p>`, `top5_distance/<p>`; n = videos.
  * over the 10 test perturbations (only when all 10 are given):
    `mfp` and `mt5d`, each perturbation's value divided by AlexNet's, when the
    AlexNet values are given (the paper's mFR / mT5D). No public file has
    AlexNet's values; they are never invented. Without them the unnormalised
    means are reported as `mean_flip_probability` and `mean_top5_distance`.
    The benchmark scorer reads them from `<manual_dir>/imagenet_p_alexnet.json`
    (`{"flip_probability": {p: v}, "top5_distance": {p: v}}`) when present.

This module imports TensorFlow, PyAV and `tfds_bench.benchmarks` lazily.
"""

from __future__ import annotations

import io
import json
import os
from typing import (TYPE_CHECKING, Callable, Dict, Iterator, List, Mapping,
                    Optional, Sequence, Tuple)

import numpy as np
import PIL.Image

from tfds_bench import errors
from tfds_bench import imagenet_c
from tfds_bench.metrics import perturbation as perturbation_metrics

if TYPE_CHECKING:  # Only for annotations; see the module doc on lazy imports.
  from tfds_bench.benchmarks import Result, Source
  from tfds_bench.predictions import Predictions

BENCHMARK_ID = "imagenet_p"
BUILDER_NAME = "bench_imagenet_p"
SAMPLE_BENCHMARK_ID = "sample_p"
SAMPLE_BUILDER_NAME = "bench_sample_p"

NAMES = perturbation_metrics.ALL_PERTURBATIONS
TEST_NAMES = perturbation_metrics.TEST_PERTURBATIONS
HELDOUT_NAMES = perturbation_metrics.HELDOUT_PERTURBATIONS

RESIZE_SHORTER_SIDE = 256
CROP_SIZE = 224

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
VAL_ARCHIVE_NAME = imagenet_c.VAL_ARCHIVE_NAME
VAL_ARCHIVE_URL = imagenet_c.VAL_ARCHIVE_URL
ALEXNET_FILE = "imagenet_p_alexnet.json"
VIDEO_EXTRA_INSTALL = 'pip install "tfds_bench[video]"'

DEFAULT_BASE_SEED = 0


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


def encode_png(frame: np.ndarray) -> bytes:
  """Lossless PNG of a uint8 [H, W, 3] frame."""
  buffer = io.BytesIO()
  PIL.Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(buffer, format="PNG")
  return buffer.getvalue()


# --- generation ---------------------------------------------------------------

def release_resize(image_bytes: bytes, where: str = "image") -> np.ndarray:
  """Decodes an image as the release did before perturbing: RGB, Resize(256).

  PIL decode, `convert("RGB")`, torchvision `Resize(256)` (shorter side 256,
  PIL bilinear). The release resized before `convert("RGB")`; for RGB
  JPEGs (all but a handful of ImageNet val images) the order does not matter;
  converting first (as `tfds_bench.imagenet_c`) keeps CMYK/gray images sane.

  Returns:
    uint8 `[H, W, 3]` with min(H, W) = 256.
  """
  return resize_shorter_side(imagenet_c.decode_rgb(image_bytes, where))


def resize_shorter_side(image: PIL.Image.Image | np.ndarray) -> np.ndarray:
  """torchvision Resize(256) of an RGB image, as uint8 `[H, W, 3]`."""
  if isinstance(image, np.ndarray):
    image = PIL.Image.fromarray(np.asarray(image, dtype=np.uint8))
  resized = imagenet_c.resize_shorter_side(image, RESIZE_SHORTER_SIDE)
  return np.asarray(resized, dtype=np.uint8)


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
  from tfds_bench.corruptions import perturbations  # pylint: disable=g-import-not-at-top
  frames = perturbations.sequence(resized, perturbation, seed=seed).numpy()
  for index, frame in enumerate(frames):
    yield frame_example(frame, video_id, index, label)


def frame_example(frame: np.ndarray, video_id: str, index: int, label: int
                  ) -> Tuple[str, Dict[str, object]]:
  """(key, example) of one frame; the key is the frame's file name."""
  file_name = frame_file_name(video_id, index)
  return file_name, {
      "image": encode_png(frame),
      "label": int(label),
      "file_name": file_name,
      "video_id": video_id,
      "frame": int(index),
  }


# --- released videos ---------------------------------------------------------------

def _import_av():
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
  av = _import_av()
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
  accepted, as the archives' exact top level is not documented). An
  uncompressed tar is indexed and only this perturbation's members are read.
  Members of other perturbations, and non-mp4 files, are passed over.
  """
  selected = lambda name: _released_member(name, perturbation) is not None
  for name, data in imagenet_c._iter_selected_members(  # pylint: disable=protected-access
      archive, lambda name: not selected(name)):
    wnid, video_id = _released_member(name, perturbation)
    yield wnid, video_id, data


# --- scoring ------------------------------------------------------------------

METRICS = ("mfp", "mt5d", "mean_flip_probability", "mean_top5_distance",
           "flip_probability/<perturbation>", "top5_distance/<perturbation>")

Videos = Tuple[np.ndarray, np.ndarray]  # (top1 [V, F], top5 [V, F, 5])


def videos_from_predictions(predictions: "Predictions", what: str = "predictions"
                            ) -> Videos:
  """Regroups per-frame predictions into (top1 [V, F], top5 [V, F, 5]).

  Videos are ordered by id; frames by number. Every video must have frames
  0..F-1 exactly once, with the same F for all.

  Raises:
    UserError: a file name that is not `<video_id>/<frame>`, a duplicate or
      missing frame, or videos of different lengths.
  """
  by_video: Dict[str, Dict[int, int]] = {}
  for row, file_name in enumerate(np.asarray(predictions.file_name).astype(str)):
    try:
      video_id, frame = parse_frame_file_name(file_name)
    except ValueError as e:
      raise errors.UserError(f"{what}: {e}") from None
    frames = by_video.setdefault(video_id, {})
    if frame in frames:
      raise errors.UserError(f"{what}: frame {file_name!r} occurs twice")
    frames[frame] = row
  if not by_video:
    raise errors.UserError(f"{what}: no frames")
  lengths = {}
  for video_id, frames in by_video.items():
    if set(frames) != set(range(len(frames))):
      missing = sorted(set(range(max(frames) + 1)) - set(frames))
      raise errors.UserError(
          f"{what}: video {video_id!r} lacks frames {missing[:5]}")
    lengths.setdefault(len(frames), video_id)
  if len(lengths) > 1:
    raise errors.UserError(
        f"{what}: videos differ in length: "
        + ", ".join(f"{v!r} has {n} frames" for n, v in sorted(lengths.items())))
  rows = np.array([[frames[f] for f in range(len(frames))]
                   for _, frames in sorted(by_video.items())])
  top5 = np.asarray(predictions.top5)[rows]
  return top5[..., 0], top5


def score_imagenet_p(predictions_by_perturbation: Mapping[str, Videos],
                     alexnet_fp: Optional[Mapping[str, float]] = None,
                     alexnet_t5d: Optional[Mapping[str, float]] = None,
                     benchmark: str = BENCHMARK_ID) -> List["Result"]:
  """ImageNet-P figures from per-perturbation video predictions.

  Args:
    predictions_by_perturbation: `{perturbation: (top1 [V, F], top5 [V, F,
      5])}`, top-5 best first (ties to the lower class index).
    alexnet_fp: AlexNet's flip probability per test perturbation, to
      normalise `mfp`; without it `mean_flip_probability` is reported instead.
    alexnet_t5d: likewise for `mt5d` / `mean_top5_distance`.
    benchmark: benchmark name written into the results.

  Returns:
    `tfds_bench.benchmarks.Result` rows (values as defined in the module doc;
    n = videos for per-perturbation figures, summed over the 10 test
    perturbations for the means).
  """
  from tfds_bench.benchmarks import Result  # pylint: disable=g-import-not-at-top
  fp, t5d, n = {}, {}, {}
  results = []
  for name in sorted(predictions_by_perturbation, key=_perturbation_sort_key):
    if name not in NAMES:
      raise errors.UserError(
          f"{benchmark}: unknown perturbation {name!r}; known: {', '.join(NAMES)}")
    top1, top5 = predictions_by_perturbation[name]
    top1, top5 = np.asarray(top1), np.asarray(top5)
    if top1.ndim != 2 or top5.shape[:2] != top1.shape or top5.ndim != 3:
      raise errors.UserError(
          f"{benchmark}: {name} needs top1 [V, F] and top5 [V, F, 5], got "
          f"{top1.shape} and {top5.shape}")
    fp[name] = perturbation_metrics.flip_probability(top1, name, 1)
    t5d[name] = perturbation_metrics.top5_distance(top5, name, 1)
    n[name] = int(top1.shape[0])
    results.append(Result(benchmark, f"flip_probability/{name}", fp[name], n[name]))
    results.append(Result(benchmark, f"top5_distance/{name}", t5d[name], n[name]))
  if all(p in fp for p in TEST_NAMES):
    total = sum(n[p] for p in TEST_NAMES)
    for values, alexnet, normalised, plain in (
        (fp, alexnet_fp, "mfp", "mean_flip_probability"),
        (t5d, alexnet_t5d, "mt5d", "mean_top5_distance")):
      if alexnet is not None:
        missing = [p for p in TEST_NAMES if p not in alexnet]
        if missing:
          raise errors.UserError(
              f"{benchmark}: AlexNet values for {normalised} lack {missing}")
        results.append(Result(benchmark, normalised, float(np.mean(
            [values[p] / alexnet[p] for p in TEST_NAMES])), total))
      results.append(Result(benchmark, plain, float(np.mean(
          [values[p] for p in TEST_NAMES])), total))
  return results


def _perturbation_sort_key(name: str):
  return (NAMES.index(name), name) if name in NAMES else (len(NAMES), name)


def load_alexnet(path: os.PathLike | str
                 ) -> Tuple[Dict[str, float], Dict[str, float]]:
  """(flip probabilities, top-5 distances) of AlexNet from a JSON file.

  Format: `{"flip_probability": {perturbation: value}, "top5_distance":
  {perturbation: value}}`; either key may be absent ({} then).
  """
  try:
    with open(path) as f:
      table = json.load(f)
    return ({str(k): float(v) for k, v in table.get("flip_probability", {}).items()},
            {str(k): float(v) for k, v in table.get("top5_distance", {}).items()})
  except (OSError, ValueError, AttributeError, TypeError) as e:
    raise errors.UserError(f"cannot read AlexNet values from {path}: {e}") from None


def has_source_archives(manual_dir: Optional[os.PathLike | str]) -> bool:
  """Whether manual_dir holds a released archive or the val tar.

  For the benchmark table: with neither, `imagenet_p` cannot be prepared and
  the offline `sample_p` sequences are the fallback (the caller decides).
  """
  if not manual_dir:
    return False
  return any(os.path.isfile(os.path.join(manual_dir, name))
             for name in ARCHIVES + (VAL_ARCHIVE_NAME,))


def imagenet_p_sources(perturbations: Sequence[str] = NAMES,
                       builder: str = BUILDER_NAME) -> Tuple["Source", ...]:
  """`benchmarks.Source` rows, one per `<builder>/<perturbation>`."""
  from tfds_bench.benchmarks import Source  # pylint: disable=g-import-not-at-top
  sources = []
  for name in perturbations:
    if name not in NAMES:
      raise ValueError(f"unknown perturbation {name!r}; known: {', '.join(NAMES)}")
    manual = ""
    if builder == BUILDER_NAME:
      manual = (f"{ARCHIVE_OF[name]} (ImageNet-P release, {ZENODO_RECORD}; "
                f"needs {VIDEO_EXTRA_INSTALL}) or, to generate it, "
                f"{VAL_ARCHIVE_NAME}")
    sources.append(Source(key=f"{builder}/{name}:test", builder=f"{builder}/{name}",
                          split="test", manual_files=manual))
  return tuple(sources)


def sample_p_sources(perturbations: Sequence[str] = NAMES) -> Tuple["Source", ...]:
  """Sources of the offline sample sequences (`bench_sample_p/<perturbation>`)."""
  return imagenet_p_sources(perturbations, builder=SAMPLE_BUILDER_NAME)


def benchmark_scorer(sources: Sequence["Source"], benchmark: str = BENCHMARK_ID
                     ) -> Callable[..., List["Result"]]:
  """`Benchmark.score` for `sources` (one per perturbation, in order).

  The returned function receives one Predictions per source and the table's
  ScoringContext; AlexNet normalisers are read from
  `<context.manual_dir>/imagenet_p_alexnet.json` when that file exists.
  """
  names = [s.builder.split("/", 1)[1] for s in sources]

  def score(predictions: Sequence["Predictions"],
            context: object = None) -> List["Result"]:
    if len(predictions) != len(names):
      raise ValueError(f"{benchmark}: expected {len(names)} predictions (one "
                       f"per perturbation), got {len(predictions)}")
    videos = {name: videos_from_predictions(p, f"{benchmark}/{name}")
              for name, p in zip(names, predictions)}
    alexnet_fp = alexnet_t5d = None
    manual_dir = getattr(context, "manual_dir", None)
    if manual_dir and os.path.isfile(os.path.join(manual_dir, ALEXNET_FILE)):
      alexnet_fp, alexnet_t5d = load_alexnet(os.path.join(manual_dir, ALEXNET_FILE))
      alexnet_fp, alexnet_t5d = alexnet_fp or None, alexnet_t5d or None
    return score_imagenet_p(videos, alexnet_fp, alexnet_t5d, benchmark)

  return score


__all__ = [
    "ARCHIVES", "ARCHIVE_OF", "ARCHIVE_PERTURBATIONS", "BENCHMARK_ID",
    "BUILDER_NAME", "METRICS", "NAMES", "SAMPLE_BENCHMARK_ID",
    "SAMPLE_BUILDER_NAME", "TEST_NAMES", "benchmark_scorer", "decode_video",
    "encode_png", "frame_example", "frame_file_name", "has_source_archives",
    "imagenet_p_sources",
    "iter_released_videos", "load_alexnet", "parse_frame_file_name",
    "release_resize", "resize_shorter_side", "sample_p_sources",
    "score_imagenet_p", "sequence_examples", "video_id_of",
    "videos_from_predictions",
]
