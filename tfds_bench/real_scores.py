"""ReaL accuracy at any operating point, from the Dawid-Skene scores.

The ReaL labels (Beyer et al. 2020, "Are we done with ImageNet?") are a
threshold on per-(image, class) Dawid & Skene (1979) scores. The scores ship as
``tfds_bench/data/real_scores.npz`` (google-research/reassessed-imagenet
``scores.npz``, Apache-2.0): ``tensor`` holds N floats in [0, 1] and ``info``
the N ``(val file name, class index as str)`` pairs they score. The
reassessed-imagenet README says these scores "could be used if you want to try
different operating points than the one we used"; it does not state the rule
that turned them into ``real.json``. The rule below was MEASURED against the
shipped ``real.json`` (see ``tests/test_real_scores.py``) and reproduces all
50,000 label sets exactly (agreement 1.0):

* Rated image (24,889 of the 50,000 val images have at least one scored
  pair): its set is every scored class with ``score >= 0.8``
  (``REAL_THRESHOLD``). In the shipped data the lowest score of a ReaL label
  is 0.80002 and the highest score of a rejected pair is 0.79999, so ``>=``
  and ``>`` give the same sets at 0.8. A rated image with no class at or above
  the threshold gets an EMPTY set (3,163 images at 0.8) and is skipped by the
  accuracy, as in ReaL.
* Unrated image (the other 25,111): its set is the original ImageNet label
  alone. Every unrated image's ``real.json`` entry is exactly
  ``[original label]``: in the paper, images whose label proposals were only
  the original label were not sent to raters and kept their label.

The original label plays no other role: for a rated image it is one of the
scored classes (it is rated for all 24,889 rated images) and is kept only if
its score passes the threshold.

Everything here is numpy; nothing loads TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

from tfds_bench import labels
from tfds_bench.metrics import accuracy as accuracy_lib

# The operating point of the released real.json (measured: see module doc).
REAL_THRESHOLD = 0.8
NUM_VAL_IMAGES = 50000
# Default thresholds of `accuracy_curve`: the paper's Figure 3 sweeps the
# whole precision-recall curve; 0.05 steps cover it and include 0.8.
DEFAULT_CURVE_THRESHOLDS = np.round(np.linspace(0.05, 0.95, 19), 10)
# How `soft_correct` treats images the raters never saw.
UNRATED_SKIP = "skip"
UNRATED_ORIGINAL_LABEL = "original_label"


@dataclasses.dataclass(frozen=True)
class _ScoreTable:
  """The scores, indexed for vectorised lookups.

  Attributes:
    keys: int64 sorted ``val_index * NUM_CLASSES + class`` of each scored pair.
    scores: float64 score of each key.
    rated: bool [50000], True where the image has at least one scored pair.
    max_score: float64 [50000], highest score of the image (-inf if unrated).
  """
  keys: np.ndarray
  scores: np.ndarray
  rated: np.ndarray
  max_score: np.ndarray


@functools.lru_cache(maxsize=None)
def _score_table() -> _ScoreTable:
  with labels.data_path("real_scores.npz").open("rb") as f:
    with np.load(f, allow_pickle=False) as payload:
      scores = np.asarray(payload["tensor"], dtype=np.float64)
      info = np.asarray(payload["info"])
  if info.shape != (len(scores), 2):
    raise RuntimeError(f"real_scores.npz: info has shape {info.shape}, "
                       f"expected ({len(scores)}, 2)")
  image = _val_indices(info[:, 0])
  classes = info[:, 1].astype(np.int64)
  if classes.min() < 0 or classes.max() >= labels.NUM_CLASSES:
    raise RuntimeError("real_scores.npz: class index out of range")
  keys = image * labels.NUM_CLASSES + classes
  order = np.argsort(keys, kind="stable")
  keys, scores = keys[order], scores[order]
  if np.any(keys[1:] == keys[:-1]):
    raise RuntimeError("real_scores.npz: a (file, class) pair is scored twice")
  rated = np.zeros(NUM_VAL_IMAGES, bool)
  rated[image] = True
  max_score = np.full(NUM_VAL_IMAGES, -np.inf)
  np.maximum.at(max_score, keys // labels.NUM_CLASSES, scores)
  for array in (keys, scores, rated, max_score):
    array.setflags(write=False)
  return _ScoreTable(keys, scores, rated, max_score)


def _val_indices(file_names: Sequence[str]) -> np.ndarray:
  """0-based val index of each file name (``..._00000001.JPEG`` -> 0)."""
  return labels.val_file_numbers(file_names) - 1


def _images(file_names: Optional[Sequence[str]]) -> np.ndarray:
  if file_names is None:
    return np.arange(NUM_VAL_IMAGES, dtype=np.int64)
  return _val_indices(np.asarray(file_names).reshape(-1))


def _check_threshold(threshold: float) -> float:
  threshold = float(threshold)
  if not 0.0 <= threshold <= 1.0:
    raise ValueError(f"threshold must be in [0, 1], got {threshold}")
  return threshold


def scores_of(images: np.ndarray, classes: np.ndarray) -> np.ndarray:
  """Dawid-Skene score of (val index, class) pairs; 0 where the pair is unrated.

  Args:
    images: int [...] 0-based val indices.
    classes: int [...] class indices, broadcastable against ``images``.

  Returns:
    float64 of the broadcast shape. A pair the raters were never asked about
    scores 0: on a rated image, every label proposal was rated, so an
    unproposed class counts as a "no".
  """
  table = _score_table()
  images, classes = np.broadcast_arrays(np.asarray(images, np.int64),
                                        np.asarray(classes, np.int64))
  keys = images * labels.NUM_CLASSES + classes
  position = np.clip(np.searchsorted(table.keys, keys), 0, len(table.keys) - 1)
  found = (table.keys[position] == keys) & (classes >= 0)
  return np.where(found, table.scores[position], 0.0)


def label_sets_at(threshold: float = REAL_THRESHOLD,
                  file_names: Optional[Sequence[str]] = None) -> np.ndarray:
  """ReaL-style label sets at a chosen operating point.

  Args:
    threshold: a class is in the set of a rated image when its score is
      ``>= threshold``. At ``REAL_THRESHOLD`` (0.8) the sets equal
      ``real.json``'s.
    file_names: val file names (``ILSVRC2012_val_NNNNNNNN.JPEG``, any folder
      prefix), or None for all 50,000 in val order.

  Returns:
    int64 ``[N, L]``, each row its set in ascending class order, padded with
    -1 (an all -1 row is an empty set: skipped by the accuracy). Unrated
    images get their original label, whatever the threshold.
  """
  threshold = _check_threshold(threshold)
  table = _score_table()
  images = _images(file_names)
  # Pairs kept, grouped by image (keys are sorted, so by image then class).
  kept = table.scores >= threshold
  kept_image = table.keys[kept] // labels.NUM_CLASSES
  kept_class = table.keys[kept] % labels.NUM_CLASSES
  start = np.searchsorted(kept_image, images, side="left")
  stop = np.searchsorted(kept_image, images, side="right")
  count = np.where(table.rated[images], stop - start, 1)
  width = max(int(count.max(initial=0)), 1)
  out = np.full((len(images), width), -1, dtype=np.int64)
  column = np.arange(width)
  rated_rows = table.rated[images]
  gather = start[:, None] + column[None, :]
  inside = (column[None, :] < (stop - start)[:, None]) & rated_rows[:, None]
  out[inside] = kept_class[gather[inside]]
  original = labels.val_labels()[images]
  out[~rated_rows, 0] = original[~rated_rows]
  return out


def _correct_at(top_k: np.ndarray, images: np.ndarray, threshold: float,
                k: int) -> tuple[np.ndarray, np.ndarray]:
  """(correct, valid) of the first k predictions at ``threshold``, vectorised."""
  table = _score_table()
  top_k = accuracy_lib.as_top_k(top_k, k)
  if len(top_k) != len(images):
    raise ValueError(f"{len(top_k)} predictions but {len(images)} file names")
  rated = table.rated[images]
  # Rated: in the set iff its score passes; the set is non-empty iff the best
  # score does. Unrated: the set is the original label.
  best_predicted = scores_of(images[:, None], top_k).max(axis=1)
  original = labels.val_labels()[images]
  valid = np.where(rated, table.max_score[images] >= threshold, True)
  correct = np.where(rated, best_predicted >= threshold,
                     np.any(top_k == original[:, None], axis=1)) & valid
  return correct, valid


def real_correct_at(top_k: np.ndarray, file_names: Sequence[str],
                    threshold: float = REAL_THRESHOLD,
                    k: int = 1) -> tuple[np.ndarray, np.ndarray]:
  """Per-image ReaL correctness at ``threshold``: ``(correct, valid)``, bool [N].

  Same rule as `tfds_bench.metrics.real_correct` on `label_sets_at` (right if
  any of the first k predictions is in the set; ``valid`` False for an empty
  set), without building the sets.
  """
  return _correct_at(top_k, _images(file_names), _check_threshold(threshold), k)


def real_accuracy_at(top_k: np.ndarray, file_names: Sequence[str],
                     threshold: float = REAL_THRESHOLD, k: int = 1) -> float:
  """ReaL top-k accuracy at an operating point; images with an empty set skipped.

  Args:
    top_k: int ``[N, >=k]`` predicted class indices, best first (or float
      scores ``[N, 1000]``).
    file_names: the N val file names.
    threshold: score threshold of the label sets (0.8 = ReaL).
    k: how many predictions count (ReaL top-1 is k=1).

  Returns:
    correct / valid images; NaN when no image has a non-empty set.
  """
  correct, valid = real_correct_at(top_k, file_names, threshold, k)
  return float(correct.sum() / valid.sum()) if valid.any() else float("nan")


def soft_correct(top1: np.ndarray, file_names: Sequence[str],
                 unrated: str = UNRATED_SKIP) -> tuple[np.ndarray, np.ndarray]:
  """Per-image expected correctness under the scores: ``(score, valid)``.

  ``score[i]`` is the Dawid-Skene score of the predicted class of image i:
  the posterior probability, under the raters' model, that the class is a
  correct label. A predicted class the raters were never asked about scores 0.

  Args:
    top1: int ``[N]`` or ``[N, >=1]`` predicted classes (best first), or float
      scores ``[N, 1000]``.
    file_names: the N val file names.
    unrated: images without any scored pair (25,111 of the 50,000 val images):
      ``"skip"`` leaves them out (``valid`` False), ``"original_label"``
      scores them 1 if the prediction is the original label and 0 otherwise
      (the rule ReaL itself applies to them).

  Returns:
    float64 ``score`` [N] and bool ``valid`` [N].
  """
  if unrated not in (UNRATED_SKIP, UNRATED_ORIGINAL_LABEL):
    raise ValueError(f"unrated must be {UNRATED_SKIP!r} or {UNRATED_ORIGINAL_LABEL!r}, "
                     f"got {unrated!r}")
  top1 = np.asarray(top1)
  if top1.ndim == 1:
    top1 = top1[:, None]
  predicted = accuracy_lib.as_top_k(top1, 1)[:, 0]
  images = _images(file_names)
  if len(predicted) != len(images):
    raise ValueError(f"{len(predicted)} predictions but {len(images)} file names")
  rated = _score_table().rated[images]
  score = scores_of(images, predicted)
  if unrated == UNRATED_SKIP:
    return np.where(rated, score, 0.0), rated
  original = labels.val_labels()[images]
  return np.where(rated, score, (predicted == original).astype(np.float64)), np.ones_like(rated)


def soft_accuracy(top1: np.ndarray, file_names: Sequence[str],
                  unrated: str = UNRATED_SKIP) -> float:
  """Expected accuracy under the Dawid-Skene scores (threshold-free ReaL).

  The mean, over the rated images among ``file_names`` (by default), of the
  score of the predicted class; see `soft_correct` for the exact rule and the
  ``unrated`` option. NaN when no image counts.
  """
  score, valid = soft_correct(top1, file_names, unrated)
  return float(score[valid].mean()) if valid.any() else float("nan")


def accuracy_curve(top1: np.ndarray, file_names: Sequence[str],
                   thresholds: Sequence[float] = DEFAULT_CURVE_THRESHOLDS,
                   k: int = 1) -> Dict[str, np.ndarray]:
  """ReaL accuracy across operating points, for a report plot.

  Returns:
    ``{"thresholds": float64 [T], "accuracy": float64 [T], "n": int64 [T]}``:
    the ReaL top-k accuracy at each threshold and the number of images with
    a non-empty set it is over (NaN accuracy where n is 0).
  """
  thresholds = np.asarray([_check_threshold(t) for t in np.asarray(thresholds).ravel()])
  images = _images(file_names)
  accuracy = np.empty(len(thresholds))
  n = np.empty(len(thresholds), dtype=np.int64)
  for i, threshold in enumerate(thresholds):
    correct, valid = _correct_at(top1, images, threshold, k)
    n[i] = valid.sum()
    accuracy[i] = correct.sum() / n[i] if n[i] else np.nan
  return {"thresholds": thresholds, "accuracy": accuracy, "n": n}


Curve = Mapping[str, np.ndarray]


def plot_accuracy_curve(curve: Union[Curve, Mapping[str, Curve]], path: str,
                        title: str = "ReaL accuracy vs. label-score threshold") -> str:
  """Writes a PNG of `accuracy_curve` output(s): accuracy and images kept vs threshold.

  Args:
    curve: one `accuracy_curve` result, or ``{model name: result}``.
    path: the PNG to write.
    title: figure title.

  Returns:
    ``path``.
  """
  # A bare Figure with an Agg canvas: no pyplot global state, no display.
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  curves = {"": curve} if "thresholds" in curve else dict(curve)
  figure = Figure(figsize=(7.0, 4.5), dpi=100)
  FigureCanvasAgg(figure)
  axes = figure.add_subplot(1, 1, 1)
  kept_axes = axes.twinx()
  handles = []
  for name, one in curves.items():
    handles += axes.plot(one["thresholds"], 100.0 * np.asarray(one["accuracy"]), marker="o",
                         markersize=3, label=f"{name} accuracy".strip())
  # n depends only on the images, not the model: draw it once.
  first = next(iter(curves.values()))
  handles += kept_axes.plot(first["thresholds"], first["n"], color="0.6", linestyle="--",
                            label="images with a non-empty set")
  axes.axvline(REAL_THRESHOLD, color="0.3", linestyle=":", linewidth=1)
  axes.annotate(" ReaL (0.8)", (REAL_THRESHOLD, 0.97), xycoords=("data", "axes fraction"),
                ha="left", va="top", fontsize=8, color="0.3")
  axes.set_xlabel("Dawid-Skene score threshold")
  axes.set_ylabel("ReaL top-1 accuracy (%)")
  kept_axes.set_ylabel("images counted (n)", color="0.4")
  axes.set_title(title)
  axes.grid(alpha=0.3)
  axes.legend(handles, [h.get_label() for h in handles], loc="lower left", fontsize=8)
  figure.tight_layout()
  figure.savefig(path, format="png")
  return path
