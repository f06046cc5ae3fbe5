"""ImageNet-P scoring: flip probability and top-5 distance, mFP and mT5D.

Per perturbation, with the definitions of `tfds_bench.metrics.perturbation`
(hendrycks/robustness `ImageNet-P/test.py`, difficulty 1):
  * `flip_probability/<p>`, `top5_distance/<p>`; n = videos.
  * over the 10 test perturbations (only when all 10 are given):
    `mfp` and `mt5d`, each perturbation's value divided by AlexNet's, when the
    AlexNet values are given (the paper's mFR / mT5D). No public file has
    AlexNet's values; they are never invented. Without them the unnormalised
    means are reported as `mean_flip_probability` and `mean_top5_distance`.
    The benchmark scorer reads them from `<manual_dir>/imagenet_p_alexnet.json`
    (`{"flip_probability": {p: v}, "top5_distance": {p: v}}`) when present.

Predictions arrive per frame (`tfds_bench.release.imagenet_p`: file names
`<video_id>/<frame>`); `videos_from_predictions` regroups them by video.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfds_bench import errors, progress
from tfds_bench.benchmark_types import Result, ScoringContext, reads, statistic_result
from tfds_bench.metrics import perturbation as perturbation_metrics
from tfds_bench.predictions import Predictions
from tfds_bench.release.imagenet_p import NAMES, TEST_NAMES, parse_frame_file_name

ALEXNET_FILE = "imagenet_p_alexnet.json"

METRICS = ("mfp", "mt5d", "mean_flip_probability", "mean_top5_distance",
           "flip_probability/<perturbation>", "top5_distance/<perturbation>")

Videos = Tuple[np.ndarray, np.ndarray]  # (top1 [V, F], top5 [V, F, 5])


def videos_from_predictions(predictions: Predictions, what: str = "predictions"
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
                     benchmark: str = "imagenet_p",
                     video_ids: Optional[Mapping[str, np.ndarray]] = None,
                     on_perturbation_scored: Optional[Callable[[int], None]] = None
                     ) -> List[Result]:
  """ImageNet-P figures from per-perturbation video predictions.

  Args:
    predictions_by_perturbation: `{perturbation: (top1 [V, F], top5 [V, F,
      5])}`, top-5 best first (ties to the lower class index).
    alexnet_fp: AlexNet's flip probability per test perturbation, to
      normalise `mfp`; without it `mean_flip_probability` is reported instead.
    alexnet_t5d: likewise for `mt5d` / `mean_top5_distance`.
    benchmark: benchmark name written into the results.
    video_ids: per perturbation, the ids of its videos in order (what the
      bootstrap intervals resample and paired tests pair on); default
      positions. The means over perturbations get an interval only when all
      test perturbations have the same videos.
    on_perturbation_scored: called with 1 after each perturbation (progress).

  Returns:
    Result rows (values as defined in the module doc; n = videos for
    per-perturbation figures, summed over the 10 test perturbations for the
    means).
  """
  fp, t5d, n = {}, {}, {}
  videos = {}
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
    fp[name] = _video_statistic(perturbation_metrics.flip_probability, top1, name)
    t5d[name] = _video_statistic(perturbation_metrics.top5_distance, top5, name)
    n[name] = int(top1.shape[0])
    videos[name] = (np.asarray(video_ids[name]) if video_ids is not None
                    else np.arange(n[name]).astype(str))
    results.append(statistic_result(benchmark, f"flip_probability/{name}", fp[name],
                                    videos[name]))
    results.append(statistic_result(benchmark, f"top5_distance/{name}", t5d[name],
                                    videos[name]))
    if on_perturbation_scored is not None:
      on_perturbation_scored(1)
  if all(p in fp for p in TEST_NAMES):
    total = sum(n[p] for p in TEST_NAMES)
    same_videos = all(np.array_equal(videos[p], videos[TEST_NAMES[0]]) for p in TEST_NAMES)
    for values, alexnet, normalised, plain in (
        (fp, alexnet_fp, "mfp", "mean_flip_probability"),
        (t5d, alexnet_t5d, "mt5d", "mean_top5_distance")):
      if alexnet is not None:
        missing = [p for p in TEST_NAMES if p not in alexnet]
        if missing:
          raise errors.UserError(
              f"{benchmark}: AlexNet values for {normalised} lack {missing}")
      # divisors: AlexNet's values for the normalised mean, 1 for the plain one.
      for metric, divisors in ((normalised, alexnet), (plain, None)):
        if metric == normalised and alexnet is None:
          continue
        mean = _mean_over_perturbations(values, divisors)
        if same_videos:
          results.append(statistic_result(benchmark, metric, mean, videos[TEST_NAMES[0]],
                                          total))
        else:
          # Different videos per perturbation: no joint resampling unit, no interval.
          value = np.mean([values[p](np.arange(n[p])) / (divisors[p] if divisors else 1.0)
                           for p in TEST_NAMES])
          results.append(Result(benchmark, metric, float(value), total))
  return results


def _video_statistic(metric: Callable, predictions: np.ndarray, name: str) -> Callable:
  """The figure of ``metric`` over the videos at the given indices."""
  return lambda i: float(metric(predictions[i], name, 1))


def _mean_over_perturbations(statistics: Mapping[str, Callable],
                             divisors: Optional[Mapping[str, float]]) -> Callable:
  """Mean over the test perturbations of each one's figure (over the same videos)."""
  return lambda i: float(np.mean([statistics[p](i) / (divisors[p] if divisors else 1.0)
                                  for p in TEST_NAMES]))


def video_ids(predictions: Predictions) -> np.ndarray:
  """The ids of the videos of per-frame predictions, in `videos_from_predictions` order."""
  names = np.asarray(predictions.file_name).astype(str)
  return np.array(sorted({parse_frame_file_name(f)[0] for f in names}))


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


def check_alexnet_file(context: ScoringContext) -> None:
  """`<manual_dir>/imagenet_p_alexnet.json`, read and checked before the
  forward passes (`Benchmark.check_inputs`); no file is no check."""
  _alexnet_values(context.manual_dir)


def _alexnet_values(manual_dir: Optional[str]
                    ) -> Tuple[Optional[Dict[str, float]], Optional[Dict[str, float]]]:
  """AlexNet's (flip probabilities, top-5 distances) from manual_dir, None each when absent."""
  if not (manual_dir and os.path.isfile(os.path.join(manual_dir, ALEXNET_FILE))):
    return None, None
  alexnet_fp, alexnet_t5d = load_alexnet(os.path.join(manual_dir, ALEXNET_FILE))
  return alexnet_fp or None, alexnet_t5d or None


@reads("manual_dir")
def score_imagenet_p_row(predictions: Sequence[Predictions],
                         context: ScoringContext) -> List[Result]:
  """The scorer of a row with one `sources.ImageNetPSource` per perturbation.

  AlexNet normalisers are read from `<manual_dir>/imagenet_p_alexnet.json`
  when that file exists.
  """
  benchmark = context.row.id
  names = [source.perturbation for source in context.row.sources]
  alexnet_fp, alexnet_t5d = _alexnet_values(context.manual_dir)
  # Regrouping frames into videos, then the metrics: two steps per perturbation.
  with progress.progress(context.progress_factory, f"{benchmark}: scoring steps",
                         2 * len(names)) as update:
    videos, ids = {}, {}
    for name, p in zip(names, predictions):
      videos[name] = videos_from_predictions(p, f"{benchmark}/{name}")
      ids[name] = video_ids(p)
      update(1)
    return score_imagenet_p(videos, alexnet_fp, alexnet_t5d, benchmark, ids,
                            on_perturbation_scored=update)
