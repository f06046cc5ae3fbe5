"""ImageNet-P: flip probability, top-5 distance, mFP (mFR) and mT5D.

Definitions follow hendrycks/robustness ``ImageNet-P/test.py`` exactly
(Hendrycks & Dietterich 2019, Sec. 4):

* ``noise_perturbation = 'noise' in perturbation`` (gaussian_noise,
  shot_noise, speckle_noise): every frame is compared with the FIRST frame,
  whatever the difficulty (for noise, difficulty only selects another set of
  sequences, ``<name>_<difficulty>``).
* otherwise, with ``step = difficulty``: frame j is compared with frame
  j + step, for every j (``vid[i::step]`` chains for i < step, each compared
  with its predecessor).
* the comparisons of a video are averaged, then the per-video means are
  averaged over videos.
* flip: 1 if the top-1 predictions differ.
* top-5 distance (``ranking_dist`` / ``dist(mode='top5')``): with sigma(i) the
  rank in the later frame of the class ranked i in the earlier frame (ranks
  from ``rankdata(-logits, method='ordinal')``, ties to the lower index),
  ``d = sum_{i=1..5} |i - min(sigma(i), 6)|``. Only the earlier frame's top-5
  classes and their positions in the later frame's top-5 matter, so top-5
  indices per frame suffice.
* mFP / mT5D: mean over the 10 test perturbations of FP / FP^AlexNet (the
  paper's flip rate) and T5D / T5D^AlexNet. No public file has AlexNet's
  values, so they are an input; without them the unnormalised mean is given.
"""

from __future__ import annotations

from typing import Mapping, Sequence, Union

import numpy as np

# The perturbation names are the engine's (tfds_bench.corruptions.names: one
# list for the engine and the metrics; importing it does not load TensorFlow).
from tfds_bench.corruptions.names import HELDOUT_PERTURBATIONS
from tfds_bench.corruptions.names import PERTURBATIONS as ALL_PERTURBATIONS
from tfds_bench.corruptions.names import TEST_PERTURBATIONS

Videos = Union[np.ndarray, Sequence[np.ndarray]]


def is_noise_perturbation(perturbation: str) -> bool:
  """The reference's rule: ``'noise' in perturbation``."""
  return "noise" in perturbation


def _check_perturbation(perturbation: str, difficulty: int) -> None:
  if perturbation not in ALL_PERTURBATIONS:
    raise ValueError(f"unknown perturbation {perturbation!r}; known: {ALL_PERTURBATIONS}")
  if int(difficulty) != difficulty or difficulty < 1:
    raise ValueError(f"difficulty must be a positive integer, got {difficulty}")


def frame_pairs(num_frames: int, perturbation: str, difficulty: int = 1) -> np.ndarray:
  """(earlier, later) frame index pairs compared by the reference, ``[P, 2]``."""
  _check_perturbation(perturbation, difficulty)
  if is_noise_perturbation(perturbation):
    later = np.arange(1, num_frames)
    earlier = np.zeros_like(later)
  else:
    earlier = np.arange(0, max(num_frames - difficulty, 0))
    later = earlier + difficulty
  if later.size == 0:
    raise ValueError(
        f"{num_frames} frames leave nothing to compare for {perturbation} "
        f"at difficulty {difficulty}")
  return np.stack([earlier, later], axis=1)


def _videos(values: Videos, trailing_ndim: int, name: str) -> list:
  if isinstance(values, np.ndarray) or not isinstance(values, (list, tuple)):
    values = np.asarray(values)
    if values.ndim != 2 + trailing_ndim:
      raise ValueError(f"{name} must be [num_videos, num_frames{', 5' * trailing_ndim}], "
                       f"got shape {values.shape}")
    return list(values)
  return [np.asarray(v) for v in values]


def flip_probability(predictions: Videos, perturbation: str, difficulty: int = 1) -> float:
  """Flip probability of top-1 predictions over perturbation sequences.

  Args:
    predictions: int ``[num_videos, num_frames]`` top-1 class per frame (or a
      list of ``[num_frames_v]`` arrays when videos differ in length).
    perturbation: ImageNet-P perturbation name (decides noise vs sequential).
    difficulty: 1, 2 or 3 (the frame step for non-noise perturbations).

  Returns:
    mean over videos of the per-video fraction of compared frame pairs whose
    top-1 prediction differs.
  """
  per_video = []
  for video in _videos(predictions, 0, "predictions"):
    pairs = frame_pairs(video.shape[0], perturbation, difficulty)
    per_video.append(np.mean(video[pairs[:, 0]] != video[pairs[:, 1]]))
  if not per_video:
    raise ValueError("no videos")
  return float(np.mean(per_video))


def top5_pair_distance(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
  """The reference's ``dist(sigma, 'top5')`` for batches of frame pairs.

  Args:
    earlier: int ``[P, 5]`` top-5 classes of the earlier frame, best first.
    later: int ``[P, 5]`` top-5 classes of the later frame, best first.

  Returns:
    int64 ``[P]``: ``sum_{r=0..4} |r - min(position of earlier[r] in later, 5)|``
    with position 5 for a class outside the later top-5.
  """
  earlier = np.asarray(earlier)
  later = np.asarray(later)
  match = earlier[:, :, None] == later[:, None, :]  # [P, 5 (earlier), 5 (later)]
  position = np.where(match.any(axis=2), match.argmax(axis=2), 5)
  return np.abs(np.arange(5)[None, :] - position).sum(axis=1).astype(np.int64)


def top5_distance(top5: Videos, perturbation: str, difficulty: int = 1) -> float:
  """Mean top-5 distance over perturbation sequences (T5D).

  Args:
    top5: int ``[num_videos, num_frames, 5]`` top-5 classes per frame, best
      first (ties in the scores resolved to the lower class index, as
      ``rankdata(method='ordinal')``), or a list of ``[num_frames_v, 5]``.
    perturbation: ImageNet-P perturbation name.
    difficulty: 1, 2 or 3.

  Returns:
    mean over videos of the per-video mean top-5 distance.
  """
  per_video = []
  for video in _videos(top5, 1, "top5"):
    if video.ndim != 2 or video.shape[1] < 5:
      raise ValueError(f"each video needs [num_frames, 5] top-5 indices, got {video.shape}")
    video = video[:, :5]
    pairs = frame_pairs(video.shape[0], perturbation, difficulty)
    per_video.append(np.mean(top5_pair_distance(video[pairs[:, 0]], video[pairs[:, 1]])))
  if not per_video:
    raise ValueError("no videos")
  return float(np.mean(per_video))


def _mean_over_test_perturbations(values: Mapping[str, float],
                                  alexnet: Mapping[str, float] | None, what: str) -> float:
  missing = [p for p in TEST_PERTURBATIONS if p not in values]
  if missing:
    raise ValueError(f"{what} needs all 10 test perturbations; missing {missing}")
  if alexnet is None:
    return float(np.mean([values[p] for p in TEST_PERTURBATIONS]))
  missing = [p for p in TEST_PERTURBATIONS if p not in alexnet]
  if missing:
    raise ValueError(f"AlexNet {what} normaliser missing for {missing}")
  return float(np.mean([values[p] / alexnet[p] for p in TEST_PERTURBATIONS]))


def mean_flip_rate(fp_by_perturbation: Mapping[str, float],
                   alexnet_fp: Mapping[str, float] | None = None) -> float:
  """mFP: mean over the 10 test perturbations of FP (divided by AlexNet's FP
  when ``alexnet_fp`` is given, the paper's mFR; otherwise unnormalised)."""
  return _mean_over_test_perturbations(fp_by_perturbation, alexnet_fp, "mFP")


def mean_top5_distance(t5d_by_perturbation: Mapping[str, float],
                       alexnet_t5d: Mapping[str, float] | None = None) -> float:
  """mT5D: mean over the 10 test perturbations of T5D (AlexNet-normalised
  when ``alexnet_t5d`` is given; otherwise unnormalised)."""
  return _mean_over_test_perturbations(t5d_by_perturbation, alexnet_t5d, "mT5D")


mfp = mean_flip_rate
mt5d = mean_top5_distance
