"""Top-k, ReaL, 200-class-subset and multi-label accuracy on numpy arrays.

The formulas live once in ``formulas`` (shared with the Keras classes in
``keras_metrics``, which keep integer counts); these functions check and shape
numpy inputs and apply them.

Conventions:
  * Class indices live in the 1000-class space of sorted wnids
    (``tfds_bench.labels``).
  * Predictions are either scores (logits or probabilities, float ``[N, C]``)
    or top-k class indices (int ``[N, k]``, best first). The dtype decides:
    an integer array is indices, a floating array is scores.
  * Tie rule: among equal scores the LOWER class index ranks first. This is
    ``np.argsort(-scores, kind="stable")``, ``tf.math.top_k`` ("the lower-index
    element appears first") and ``scipy.stats.rankdata(-x, method="ordinal")``
    as used by hendrycks/robustness ImageNet-P/test.py, so every layer ranks the
    same way.
  * Multi-label targets are fixed-width int arrays padded with -1.
"""

from __future__ import annotations

from typing import Dict, Sequence, Union

import numpy as np

from tfds_bench.labels import NUM_CLASSES, pad_label_lists
from tfds_bench.metrics import formulas
from tfds_bench.metrics.formulas import NUMPY

ArrayOrLists = Union[np.ndarray, Sequence[Sequence[int]]]

# Column layout of the single fixed-width multi-label target tensor
# (see `encode_multilabel_targets`).
MULTILABEL_ORIGINAL_COLUMN = 0
MULTILABEL_PROBLEMATIC_COLUMN = 1
MULTILABEL_FIRST_CODE_COLUMN = 2
# An unclear label c is stored as UNCLEAR_OFFSET + c, a correct label as c.
UNCLEAR_OFFSET = NUM_CLASSES

MULTILABEL_VARIANTS = ("class_mean", "image_mean", "correct_only_class_mean")


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
  """Indices of the k highest scores per row, best first.

  Ties: the lower class index wins (stable sort of the negated scores).

  Args:
    scores: float ``[N, C]`` logits or probabilities.
    k: number of indices to keep, ``1 <= k <= C``.

  Returns:
    int64 ``[N, k]``.
  """
  scores = np.asarray(scores)
  if scores.ndim != 2:
    raise ValueError(f"scores must be [N, C], got shape {scores.shape}")
  if not 1 <= k <= scores.shape[1]:
    raise ValueError(f"k={k} must be in [1, {scores.shape[1]}]")
  return NUMPY.top_k(scores, k)


def as_top_k(predictions: np.ndarray, k: int) -> np.ndarray:
  """Top-k indices from either scores (float) or top-k indices (int)."""
  predictions = np.asarray(predictions)
  if predictions.ndim != 2:
    raise ValueError(f"predictions must be [N, C] or [N, k], got {predictions.shape}")
  if np.issubdtype(predictions.dtype, np.integer):
    if predictions.shape[1] < k:
      raise ValueError(
          f"top-{k} needs at least {k} predicted indices per example, "
          f"got {predictions.shape[1]}")
    return predictions[:, :k].astype(np.int64)
  return top_k_indices(predictions, k)


def _labels_1d(labels: np.ndarray) -> np.ndarray:
  labels = np.asarray(labels)
  if labels.ndim == 2 and labels.shape[1] == 1:
    labels = labels[:, 0]
  if labels.ndim != 1:
    raise ValueError(f"labels must be [N] or [N, 1], got shape {labels.shape}")
  return labels.astype(np.int64)


def topk_correct(topk: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
  """Whether the label is among the first k predicted indices.

  Args:
    topk: int ``[N, >=k]`` predicted class indices, best first (or float
      scores ``[N, C]``, ranked with `top_k_indices`).
    labels: int ``[N]`` (or ``[N, 1]``) class indices.
    k: how many predictions count.

  Returns:
    bool ``[N]``.
  """
  topk = as_top_k(topk, k)
  labels = _labels_1d(labels)
  if topk.shape[0] != labels.shape[0]:
    raise ValueError(f"{topk.shape[0]} predictions but {labels.shape[0]} labels")
  return formulas.in_label_sets(NUMPY, topk, labels[:, None])


def _padded(label_sets: ArrayOrLists) -> np.ndarray:
  if isinstance(label_sets, np.ndarray):
    if label_sets.ndim != 2:
      raise ValueError(f"label sets must be [N, L] padded with -1, got {label_sets.shape}")
    return label_sets.astype(np.int64)
  return pad_label_lists(label_sets)


def real_correct(topk: np.ndarray, label_sets: ArrayOrLists,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
  """ReaL top-k correctness (Beyer et al. 2020, "Are we done with ImageNet?").

  Definition from google-research/reassessed-imagenet README: an image is
  right if the top-1 prediction is in its ReaL label list; images with an
  empty list are excluded from the mean. Top-5 ReaL follows timm's
  ``RealLabelsImagenet``: right if ANY of the top 5 is in the list.

  Args:
    topk: int ``[N, >=k]`` predicted indices (or float scores ``[N, C]``).
    label_sets: int ``[N, L]`` label lists padded with -1, or a list of lists.
    k: how many predictions count.

  Returns:
    ``(correct, valid)``, both bool ``[N]``; ``valid`` is False for an empty
    list and ``correct`` is False wherever ``valid`` is. ReaL accuracy is
    ``correct.sum() / valid.sum()``.
  """
  topk = as_top_k(topk, k)
  label_sets = _padded(label_sets)
  if topk.shape[0] != label_sets.shape[0]:
    raise ValueError(f"{topk.shape[0]} predictions but {label_sets.shape[0]} label lists")
  valid = np.any(label_sets >= 0, axis=1)
  return formulas.in_label_sets(NUMPY, topk, label_sets), valid


def subset_top_k(scores: np.ndarray, subset_indices: np.ndarray, k: int) -> np.ndarray:
  """Top-k over a class subset's scores only, as 1000-class indices.

  ImageNet-A/-R/-O are scored by ranking only the 200 subset logits
  (hendrycks/natural-adv-examples eval.py: ``output[:, indices_in_1k]``), not
  by a 1000-way ranking mapped afterwards.

  Args:
    scores: float ``[N, 1000]``.
    subset_indices: int ``[S]`` 1000-class indices of the subset (sorted, as
      from ``tfds_bench.labels.subset``; ties then still favour the lower
      1000-class index).
    k: how many to return.

  Returns:
    int64 ``[N, k]`` 1000-class indices.
  """
  subset_indices = np.asarray(subset_indices, dtype=np.int64)
  scores = np.asarray(scores)
  if scores.ndim != 2 or not 1 <= k <= subset_indices.size:
    raise ValueError(f"scores must be [N, C] and k in [1, {subset_indices.size}], "
                     f"got {scores.shape} and k={k}")
  return formulas.top_k_in(NUMPY, scores, k, subset_indices)


def encode_multilabel_targets(original_labels: np.ndarray,
                              is_problematic: np.ndarray,
                              correct_sets: ArrayOrLists,
                              unclear_sets: ArrayOrLists,
                              width: int | None = None) -> np.ndarray:
  """Packs the multi-label annotation into ONE fixed-width int64 array.

  Layout of each row (what `MultiLabelAccuracy` takes as ``y_true``)::

    [original_label, is_problematic (0/1), code_1, ..., code_L]

  where each code is ``c`` for a correct label c and ``1000 + c`` for an
  unclear label c, padded with -1. Wrong labels are not stored (they never
  count as right).

  Args:
    original_labels: int ``[N]`` original ImageNet label.
    is_problematic: bool ``[N]``.
    correct_sets: ``[N, Lc]`` -1 padded (or list of lists).
    unclear_sets: ``[N, Lu]`` -1 padded (or list of lists).
    width: total row width (2 + number of code slots); default: the least
      that fits.

  Returns:
    int64 ``[N, width]``.
  """
  correct_sets = _padded(correct_sets)
  unclear_sets = _padded(unclear_sets)
  rows = []
  for c_row, u_row in zip(correct_sets, unclear_sets):
    rows.append([int(c) for c in c_row if c >= 0] +
                [UNCLEAR_OFFSET + int(u) for u in u_row if u >= 0])
  codes = pad_label_lists(rows, None if width is None else width - 2)
  original_labels = _labels_1d(original_labels)
  header = np.stack([original_labels,
                     np.asarray(is_problematic).astype(np.int64).reshape(-1)], axis=1)
  return np.concatenate([header, codes], axis=1)


def multilabel_accuracy(top1: np.ndarray, correct_sets: ArrayOrLists,
                        unclear_sets: ArrayOrLists, original_labels: np.ndarray,
                        is_problematic: np.ndarray) -> Dict[str, float]:
  """Multi-label accuracy of Shankar et al. 2020 ("Evaluating machine accuracy
  on ImageNet", ICML), as specified in the TFDS ``imagenet2012_multilabel``
  README (its NumPy snippet).

  Problematic images are skipped. A prediction is right if it is in the
  correct or the unclear labels (lenient with unclear). Accuracy is computed
  per original class and then averaged over classes.

  Args:
    top1: int ``[N]`` (or ``[N, >=1]`` indices, or float scores ``[N, C]``).
    correct_sets: ``[N, Lc]`` -1 padded (or list of lists).
    unclear_sets: ``[N, Lu]`` -1 padded (or list of lists).
    original_labels: int ``[N]``.
    is_problematic: bool ``[N]``.

  Returns:
    dict with
      ``class_mean``: the TFDS definition above, averaged over the classes
        that have at least one non-problematic image (all 1000 on the full
        set, where the TFDS snippet asserts that);
      ``image_mean``: same rule, plain mean over non-problematic images;
      ``correct_only_class_mean``: class mean counting only correct labels;
      ``n``: number of non-problematic images.
    Means over zero images are NaN.
  """
  top1 = np.asarray(top1)
  if top1.ndim == 1:
    top1 = top1[:, None]
  top1 = as_top_k(top1, 1)[:, 0]
  correct_sets = _padded(correct_sets)
  unclear_sets = _padded(unclear_sets)
  original_labels = _labels_1d(original_labels)
  is_problematic = np.asarray(is_problematic).astype(bool).reshape(-1)
  n_rows = top1.shape[0]
  for name, arr in (("correct_sets", correct_sets), ("unclear_sets", unclear_sets),
                    ("original_labels", original_labels),
                    ("is_problematic", is_problematic)):
    if arr.shape[0] != n_rows:
      raise ValueError(f"{name} has {arr.shape[0]} rows, predictions have {n_rows}")

  in_correct = formulas.in_label_sets(NUMPY, top1[:, None], correct_sets)
  in_unclear = formulas.in_label_sets(NUMPY, top1[:, None], unclear_sets)
  return multilabel_accuracy_from_counts(
      *_per_class_counts(original_labels, ~is_problematic, in_correct | in_unclear),
      correct_only_counts=_per_class_counts(
          original_labels, ~is_problematic, in_correct)[0])


def _per_class_counts(original_labels: np.ndarray, keep: np.ndarray,
                      right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  num_classes = max(NUM_CLASSES, int(original_labels.max(initial=-1)) + 1)
  total = np.bincount(original_labels[keep], minlength=num_classes)
  correct = np.bincount(original_labels[keep & right], minlength=num_classes)
  return correct.astype(np.int64), total.astype(np.int64)


def class_mean_accuracy(correct: np.ndarray, total: np.ndarray) -> float:
  """Mean over classes with ``total > 0`` of ``correct / total`` (NaN if none)."""
  return float(formulas.class_mean(NUMPY, np.asarray(correct), np.asarray(total),
                                   float("nan")))


def multilabel_accuracy_from_counts(correct: np.ndarray, total: np.ndarray,
                                    correct_only_counts: np.ndarray | None = None
                                    ) -> Dict[str, float]:
  """The `multilabel_accuracy` dict from per-class integer counts."""
  n = int(np.sum(total))
  result = {
      "class_mean": class_mean_accuracy(correct, total),
      "image_mean": float(np.sum(correct) / n) if n else float("nan"),
      "n": n,
  }
  if correct_only_counts is not None:
    result["correct_only_class_mean"] = class_mean_accuracy(correct_only_counts, total)
  return result
