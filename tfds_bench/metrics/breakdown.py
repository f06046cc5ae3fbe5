"""Where a model fails: per-class and per-group accuracy, and factor error ratios.

* Per class: ``correct / total`` over the images of each class (label), from
  integer counts; classes without images have no accuracy (NaN).
* Summaries over the classes that have images: the worst class, the mean of
  the worst ``fraction`` of classes (``ceil(fraction * classes)``, at least
  one), and the balanced accuracy (the plain mean over classes).
* Groups of classes (ImageNet-X's metaclasses, a label space's classes) are
  the same with the label mapped to its group first.
* Factors of variation (ImageNet-X, Idrissi et al. 2022): an image carries
  each factor or not (0/1 per image). A factor's accuracy is the accuracy
  over the images carrying it; its error ratio is
  ``(1 - factor accuracy) / (1 - accuracy over all the annotated images)``:
  above 1, the factor makes the model err more than its average.

All counts are int64; ratios float64.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from tfds_bench.imagenet_x import FACTORS as IMAGENET_X_FACTORS
from tfds_bench.labels import NUM_CLASSES
from tfds_bench.metrics import formulas
from tfds_bench.metrics.accuracy import as_top_k
from tfds_bench.metrics.formulas import NUMPY

WORST_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class Counts:
  """Integer counts per class (or group).

  Attributes:
    correct: int64 [C] images of the class that were right.
    total: int64 [C] images of the class.
  """
  correct: np.ndarray
  total: np.ndarray

  @property
  def accuracy(self) -> np.ndarray:
    """float64 [C]: ``correct / total``, NaN where the class has no image."""
    return formulas.ratio(NUMPY, self.correct, self.total, float("nan"))

  @property
  def present(self) -> np.ndarray:
    """bool [C]: the classes with at least one image."""
    return self.total > 0


def class_counts(correct: np.ndarray, labels: np.ndarray,
                 num_classes: int = NUM_CLASSES) -> Counts:
  """Per-class counts of ``correct`` (bool [N]) by ``labels`` (int [N]).

  Labels must be in ``0 .. num_classes - 1``; an image without a label has
  no class to count in, so a negative label is refused, not dropped.
  """
  correct = np.asarray(correct, bool).reshape(-1)
  labels = np.asarray(labels).reshape(-1).astype(np.int64)
  if correct.shape != labels.shape:
    raise ValueError(f"{correct.shape[0]} correctness flags but {labels.shape[0]} labels")
  if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(f"labels must be in [0, {num_classes}), got "
                     f"{labels.min()}..{labels.max()}")
  total = np.bincount(labels, minlength=num_classes).astype(np.int64)
  right = np.bincount(labels[correct], minlength=num_classes).astype(np.int64)
  return Counts(right, total)


def per_class_accuracy(top1: np.ndarray, labels: np.ndarray, num_classes: int = NUM_CLASSES,
                       k: int = 1) -> Counts:
  """Per-class top-``k`` accuracy counts.

  Args:
    top1: the predictions: int [N] top-1 classes, int [N, >=k] top-k indices
      best first, or float [N, C] scores (ranked as `accuracy.top_k_indices`).
    labels: int [N] class indices.
    num_classes: length of the per-class arrays.
    k: top-k (1 by default).

  Returns:
    `Counts`; ``.accuracy`` is the per-class accuracy (NaN for a class
    with no image).
  """
  predictions = np.asarray(top1)
  if predictions.ndim == 1:
    if not np.issubdtype(predictions.dtype, np.integer):
      raise ValueError(f"a 1-D top1 must hold class indices (int), got {predictions.dtype}")
    predictions = predictions[:, None]
  labels = np.asarray(labels).reshape(-1).astype(np.int64)
  topk = as_top_k(predictions, k)
  if topk.shape[0] != labels.shape[0]:
    raise ValueError(f"{topk.shape[0]} predictions but {labels.shape[0]} labels")
  return class_counts((topk == labels[:, None]).any(axis=1), labels, num_classes)


def balanced_accuracy(counts: Counts) -> float:
  """Mean over the classes with images of their accuracy (NaN if none)."""
  return float(formulas.class_mean(NUMPY, counts.correct, counts.total, float("nan")))


def worst_class_accuracy(counts: Counts) -> float:
  """The lowest accuracy of a class with images (NaN if none)."""
  return float(formulas.class_min(NUMPY, counts.correct, counts.total, float("nan")))


def worst_classes(counts: Counts, fraction: float = WORST_FRACTION) -> np.ndarray:
  """int64: the worst ``ceil(fraction * classes)`` classes with images, worst
  first (ties: the lower class index first)."""
  if not 0 < fraction <= 1:
    raise ValueError(f"fraction must be in (0, 1], got {fraction}")
  present = np.flatnonzero(counts.present)
  kept = math.ceil(fraction * present.size)
  order = np.argsort(counts.accuracy[present], kind="stable")
  return present[order[:kept]].astype(np.int64)


def worst_fraction_accuracy(counts: Counts, fraction: float = WORST_FRACTION) -> float:
  """Mean accuracy of the worst ``ceil(fraction * classes)`` classes with images
  (NaN if none). Ties at the cut do not matter: tied classes have equal accuracy.
  """
  worst = np.sort(worst_classes(counts, fraction))  # summed in class order
  return balanced_accuracy(Counts(counts.correct[worst], counts.total[worst]))


def group_of_labels(labels: np.ndarray, group_of_class: np.ndarray) -> np.ndarray:
  """int64 [N]: each label's group (``group_of_class[label]``), -1 where uncovered."""
  group_of_class = np.asarray(group_of_class, np.int64)
  return group_of_class[np.asarray(labels, np.int64)]


def group_top_k_correct(topk: np.ndarray, labels: np.ndarray,
                        group_of_class: np.ndarray) -> np.ndarray:
  """bool [N]: a top-k prediction falls in the label's group (group-level accuracy,
  ImageNet-X's "metaclass" correctness with k = 1)."""
  topk = np.asarray(topk, np.int64)
  group_of_class = np.asarray(group_of_class, np.int64)
  target = group_of_labels(labels, group_of_class)
  return ((group_of_class[topk] == target[:, None]) & (target[:, None] >= 0)).any(axis=1)


def _factor_names(annotations: Mapping, factors: Optional[Sequence[str]]) -> Sequence[str]:
  if factors is not None:
    return tuple(factors)
  names = tuple(f for f in IMAGENET_X_FACTORS if f in annotations)
  if not names:
    raise ValueError(f"the annotations have none of the factors {IMAGENET_X_FACTORS}")
  return names


def _factor_indicator(annotations: Mapping, name: str, n: int) -> np.ndarray:
  values = np.asarray(annotations[name])
  if values.shape != (n,):
    raise ValueError(f"factor {name!r}: {values.shape} values for {n} images")
  if not np.isin(values, (0, 1)).all():
    raise ValueError(f"factor {name!r} must be 0/1 per image")
  return values.astype(bool)


def factor_accuracies(correct: np.ndarray, annotations: Mapping,
                      factors: Optional[Sequence[str]] = None) -> Dict[str, Counts]:
  """Counts per factor: images carrying it, and those of them that were right.

  Args:
    correct: bool [N] per annotated image.
    annotations: factor name -> 0/1 [N] for the same images in the same order
      (a dict, a pandas DataFrame with those columns, or
      `tfds_bench.imagenet_x.Annotations.factors`).
    factors: the names to count (default: the ImageNet-X factors present).

  Returns:
    name -> `Counts` with scalar ``correct`` / ``total``.
  """
  correct = np.asarray(correct, bool).reshape(-1)
  result = {}
  for name in _factor_names(annotations, factors):
    carried = _factor_indicator(annotations, name, correct.shape[0])
    result[name] = Counts(np.int64(np.sum(correct & carried)), np.int64(np.sum(carried)))
  return result


def error_ratio(factor_correct, factor_total, correct, total) -> float:
  """``(1 - factor accuracy) / (1 - overall accuracy)`` from counts.

  NaN when the factor has no image or the model made no error at all (the
  ratio is undefined, not infinite).
  """
  if factor_total <= 0 or total <= 0 or correct >= total:
    return float("nan")
  return float((1.0 - factor_correct / factor_total) / (1.0 - correct / total))


def factor_error_ratios(correct: np.ndarray, annotations: Mapping,
                        factors: Optional[Sequence[str]] = None) -> Dict[str, float]:
  """ImageNet-X error ratio of each factor (Idrissi et al. 2022).

  ``(1 - accuracy on the images carrying the factor) / (1 - accuracy on all
  the annotated images)``; ``correct`` and ``annotations`` as in
  `factor_accuracies` (pass the images ImageNet-X scores: prototypes
  dropped). NaN for a factor no image carries, or when nothing is wrong.
  """
  correct = np.asarray(correct, bool).reshape(-1)
  n, right = correct.shape[0], int(np.sum(correct))
  return {name: error_ratio(int(c.correct), int(c.total), right, n)
          for name, c in factor_accuracies(correct, annotations, factors).items()}
