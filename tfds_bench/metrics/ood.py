"""ImageNet-O out-of-distribution detection: MSP score, AUPR and AUROC.

Definition (hendrycks/natural-adv-examples ``eval_many_models.py``
``get_imagenet_o_results`` with ``calibration_tools.get_measures``):
  * logits are restricted to the 200 ImageNet-O classes and the softmax is
    taken over those 200 logits only (``F.softmax(output[:, mask])``);
  * score = -(max softmax probability), so a HIGHER score means "more OOD";
  * ImageNet-O images are the positive class, ImageNet val images of the 200
    classes the negatives;
  * AUPR = ``sklearn.metrics.average_precision_score(is_ood, score)``,
    AUROC = ``sklearn.metrics.roc_auc_score(is_ood, score)``.

Both are computed here in numpy from the counts of positives and negatives at
each distinct score, which is exactly how sklearn treats tied scores (one
threshold per distinct value). `average_precision_from_histogram` and
`auroc_from_histogram` take such counts directly; the Keras classes feed them
a fixed histogram of the confidence, which treats scores falling into the same
histogram bin as tied (the only approximation there).
"""

from __future__ import annotations

import numpy as np

from tfds_bench.metrics import formulas
from tfds_bench.metrics.calibration import softmax_confidence
from tfds_bench.metrics.formulas import NUMPY


def ood_scores(scores: np.ndarray, *, from_logits: bool,
               class_subset: np.ndarray | None = None) -> np.ndarray:
  """Anomaly score -(max softmax) over the (subset) classes.

  Args:
    scores: float ``[N, C]`` logits or probabilities. Pass the full 1000-way
      output with ``class_subset=label_spaces.get("imagenet_o").imagenet_indices``, or an
      already restricted ``[N, 200]`` array without ``class_subset``.
    from_logits: whether ``scores`` are logits. Probabilities restricted to a
      subset are renormalised over it (= softmax of the subset logits).
    class_subset: optional class indices to restrict to.

  Returns:
    float64 ``[N]`` in [-1, 0); higher means more likely out-of-distribution.
  """
  confidence, _ = softmax_confidence(scores, from_logits=from_logits, class_subset=class_subset)
  return -confidence


def confidence_histogram(confidence: np.ndarray, is_ood: np.ndarray,
                         num_bins: int) -> tuple[np.ndarray, np.ndarray]:
  """Counts of (OOD, in-distribution) examples per confidence bin.

  The fixed-memory state of the Keras OOD metrics: bin
  ``min(floor(num_bins * confidence), num_bins - 1)``. Returned in ASCENDING
  score order (score = -confidence, so highest confidence bin first), ready
  for `average_precision_from_histogram` / `auroc_from_histogram`.
  """
  confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
  is_ood = _binary(is_ood, confidence.size)
  bins = formulas.equal_width_bins(NUMPY, confidence, num_bins)
  positives = np.bincount(bins[is_ood], minlength=num_bins)[::-1]
  negatives = np.bincount(bins[~is_ood], minlength=num_bins)[::-1]
  return positives.astype(np.int64), negatives.astype(np.int64)


def _binary(is_ood: np.ndarray, n: int) -> np.ndarray:
  is_ood = np.asarray(is_ood).reshape(-1)
  if is_ood.size != n:
    raise ValueError(f"{n} scores but {is_ood.size} labels")
  if not np.all((is_ood == 0) | (is_ood == 1)):
    raise ValueError("is_ood must be 0/1 (or bool)")
  return is_ood.astype(bool)


def _counts_per_distinct_score(scores: np.ndarray, is_ood: np.ndarray):
  scores = np.asarray(scores, dtype=np.float64).reshape(-1)
  if np.isnan(scores).any():
    raise ValueError("scores contain NaN")
  is_ood = _binary(is_ood, scores.size)
  _, inverse = np.unique(scores, return_inverse=True)  # ascending score
  num_values = int(inverse.max()) + 1 if inverse.size else 0
  positives = np.bincount(inverse[is_ood], minlength=num_values)
  negatives = np.bincount(inverse[~is_ood], minlength=num_values)
  return positives, negatives


def average_precision_from_histogram(positives: np.ndarray, negatives: np.ndarray) -> float:
  """Average precision from counts per score value, in ASCENDING score order.

  Same arithmetic as sklearn's ``average_precision_score`` (thresholds at the
  distinct scores from high to low; ``AP = sum_t (R_t - R_{t-1}) P_t``).
  """
  positives = np.asarray(positives, dtype=np.int64)
  negatives = np.asarray(negatives, dtype=np.int64)
  if positives.sum() == 0:
    raise ValueError("average precision needs at least one positive (OOD) example")
  return float(formulas.average_precision_from_histogram(NUMPY, positives, negatives, np.nan))


def auroc_from_histogram(positives: np.ndarray, negatives: np.ndarray) -> float:
  """AUROC from counts per score value (any order along score, ascending here).

  Mann-Whitney form: P(score_pos > score_neg) plus half of P(tie), which is
  the area under sklearn's ROC curve (`formulas.auroc_from_histogram`).
  """
  positives = np.asarray(positives, dtype=np.int64)
  negatives = np.asarray(negatives, dtype=np.int64)
  if positives.sum() == 0 or negatives.sum() == 0:
    raise ValueError("AUROC needs both OOD and in-distribution examples")
  return float(formulas.auroc_from_histogram(NUMPY, positives, negatives, np.nan))


def aupr(scores: np.ndarray, is_ood: np.ndarray) -> float:
  """Average precision with OOD images as positives (sklearn definition).

  Args:
    scores: float ``[N]``, higher = more OOD (e.g. `ood_scores`).
    is_ood: bool or 0/1 ``[N]``.
  """
  return average_precision_from_histogram(*_counts_per_distinct_score(scores, is_ood))


def auroc(scores: np.ndarray, is_ood: np.ndarray) -> float:
  """Area under the ROC curve with OOD images as positives (ties count 1/2)."""
  return auroc_from_histogram(*_counts_per_distinct_score(scores, is_ood))
