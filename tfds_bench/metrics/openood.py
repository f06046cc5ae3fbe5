"""OpenOOD v1.5's out-of-distribution figures: AUROC, AUPR-In/-Out, FPR@95.

Definitions re-derived from OpenOOD's ``openood/evaluators/metrics.py``
(Jingkang50/OpenOOD, MIT; ``auc_and_fpr_recall`` and ``fpr_recall``), which
calls scikit-learn on a confidence ``conf`` (higher = more in-distribution)
and ``ood`` (1 for an OOD image):

* ``auroc``: ``auc(*roc_curve(ood, -conf)[:2])``, OOD positive.
* ``aupr_in``: ``auc(recall, precision)`` of
  ``precision_recall_curve(1 - ood, conf)``: the trapezoidal area under the
  precision-recall curve with ID positive. Not average precision (the step
  sum ImageNet-O's AUPR keeps): the two differ in general.
* ``aupr_out``: the same with ``precision_recall_curve(ood, -conf)``.
* ``fpr95_openood`` (what OpenOOD's tables report as FPR@95): OOD positive,
  ``fpr, tpr = roc_curve(ood, -conf)``, ``fpr[argmax(tpr >= 0.95)]``: the
  share of ID images flagged as OOD at the first operating point that catches
  95 % of OOD images.
* ``fpr95_odin`` (ODIN / Liang et al.'s convention, what most papers quote):
  ID positive, ``roc_curve(id, conf)``, the same rule: the share of OOD images
  accepted at the first operating point that keeps 95 % of ID images
  (OpenOOD's own ``fpr_recall`` helper computes this one).

The two FPR@95s are different quantities and differ on most inputs.

Ties: scikit-learn places one threshold per distinct score, so every image
with the same score moves together; everything here works on the counts of
ID and OOD images per distinct score, which is the same thing.
``roc_curve`` drops intermediate collinear points by default
(``drop_intermediate=True``), and the "first TPR >= 0.95" point is read off
the curve after that drop, so that drop is reproduced: it can move FPR@95 by
one step where a run of thresholds adds ID and OOD images at a constant
rate. The areas are the trapezoid rule on the same points as sklearn's
``auc``, so the figures equal scikit-learn's (tests/test_metrics_openood.py)
while this module needs numpy only.

The formulas take an array namespace ``xp`` (`formulas.NUMPY` here,
``keras_metrics.TENSORFLOW`` in the Keras class `OpenOODMetric`, which feeds
them a fixed histogram of the score: scores in the same bin count as tied,
the only approximation there).
"""

from __future__ import annotations

from typing import Dict, Mapping, Tuple

import numpy as np

from tfds_bench.metrics.formulas import NUMPY

# The figures `ood_metrics` returns, in OpenOOD's table order after FPR.
OOD_METRIC_NAMES = ("auroc", "aupr_in", "aupr_out", "fpr95_openood", "fpr95_odin")
# Recall OpenOOD reads FPR at (``compute_all_metrics``: ``recall = 0.95``).
TPR_LEVEL = 0.95
# Per-image scores from the logits, higher = more in-distribution.
LOGIT_SCORE_NAMES = ("msp", "max_logit", "energy")
# Sets of the OpenOOD v1.5 ImageNet-1k protocol (DATA_INFO["imagenet"]["ood"]
# in openood/evaluation_api/datasets.py), in OpenOOD's order.
NEAR_OOD_SETS = ("ssb_hard", "ninco")
FAR_OOD_SETS = ("inaturalist", "textures", "openimage_o")


def logit_scores(logits: np.ndarray) -> Dict[str, np.ndarray]:
  """The three logit-based scores OpenOOD's postprocessors compute.

  * ``msp``: maximum softmax probability (OpenOOD ``BasePostprocessor``);
  * ``max_logit``: the largest logit (``MaxLogitPostprocessor``);
  * ``energy``: ``logsumexp(logits)``, the negative free energy at
    temperature 1 (``EBOPostprocessor``, ``temperature: 1`` in ebo.yml).

  Args:
    logits: float ``[N, C]``.

  Returns:
    name -> float64 ``[N]``; higher means more in-distribution for all three.
  """
  logits = np.asarray(logits, dtype=np.float64)
  if logits.ndim != 2 or logits.shape[1] < 1:
    raise ValueError(f"logits must be [N, C], got shape {logits.shape}")
  top = logits.max(axis=1)
  # Shifted by the maximum so exp never overflows; the sum is >= 1.
  shifted_sum = np.exp(logits - top[:, None]).sum(axis=1)
  return {"msp": 1.0 / shifted_sum, "max_logit": top,
          "energy": top + np.log(shifted_sum)}


def counts_per_score(id_scores: np.ndarray, ood_scores: np.ndarray
                     ) -> Tuple[np.ndarray, np.ndarray]:
  """(ID count, OOD count) per distinct score, in ASCENDING score order."""
  id_scores = _finite_1d(id_scores, "id_scores")
  ood_scores = _finite_1d(ood_scores, "ood_scores")
  if not id_scores.size or not ood_scores.size:
    raise ValueError("OOD metrics need at least one ID and one OOD score, got "
                     f"{id_scores.size} and {ood_scores.size}")
  _, inverse = np.unique(np.concatenate([id_scores, ood_scores]), return_inverse=True)
  num_values = int(inverse.max()) + 1
  return (np.bincount(inverse[:id_scores.size], minlength=num_values),
          np.bincount(inverse[id_scores.size:], minlength=num_values))


def _finite_1d(scores, name: str) -> np.ndarray:
  scores = np.asarray(scores, dtype=np.float64).reshape(-1)
  if not np.isfinite(scores).all():
    raise ValueError(f"{name} contain NaN or infinite values")
  return scores


# --- the formulas, on counts per distinct score ------------------------------

def _trapezoid(xp, y, x):
  # numpy's trapezoid, term for term: sum(diff(x) * (y[1:] + y[:-1]) / 2).
  return xp.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0)


def _cumulative(xp, positives, negatives):
  """tps, fps (float64) at each occupied score, counts in DESCENDING score order."""
  occupied = (positives + negatives) > 0
  return (xp.float64(xp.cumsum(xp.mask(positives, occupied))),
          xp.float64(xp.cumsum(xp.mask(negatives, occupied))))


def roc_points(xp, positives, negatives):
  """(fpr, tpr) of sklearn's ``roc_curve`` (``drop_intermediate=True``).

  Args:
    xp: array namespace.
    positives, negatives: counts per score value in DESCENDING score order
      (the order thresholds are passed); empty values are skipped.
  """
  tps, fps = _cumulative(xp, positives, negatives)
  # A point is dropped when the steps before and after it are equal in both
  # coordinates (sklearn: np.diff(fps, 2) and np.diff(tps, 2) both 0); the
  # first and last points are always kept. Counts are exact in float64.
  corner = ((fps[2:] - 2.0 * fps[1:-1] + fps[:-2]) != 0) | (
      (tps[2:] - 2.0 * tps[1:-1] + tps[:-2]) != 0)
  # [True] at both ends (one end for a single point): tps >= 0 always.
  keep = xp.concat([tps[:1] >= 0, corner, tps[1:][-1:] >= 0])
  tps, fps = xp.mask(tps, keep), xp.mask(fps, keep)
  zero = xp.float64([0.0])
  tps, fps = xp.concat([zero, tps]), xp.concat([zero, fps])
  return fps / xp.maximum(fps[-1:], 1.0), tps / xp.maximum(tps[-1:], 1.0)


def auroc_from_counts(xp, positives, negatives):
  """sklearn's ``auc(fpr, tpr)`` on ``roc_points`` (descending-score counts)."""
  fpr, tpr = roc_points(xp, positives, negatives)
  return _trapezoid(xp, tpr, fpr)


def fpr_at_tpr_from_counts(xp, positives, negatives, tpr_level=TPR_LEVEL):
  """``fpr[argmax(tpr >= tpr_level)]`` on ``roc_points``.

  tpr never decreases, so the first index reaching the level is the number of
  points below it.
  """
  fpr, tpr = roc_points(xp, positives, negatives)
  first = xp.sum(xp.int64(tpr < tpr_level))
  return xp.take(fpr, first, axis=0)


def aupr_from_counts(xp, positives, negatives):
  """sklearn's ``auc(recall, precision)`` of ``precision_recall_curve``.

  Counts in DESCENDING score order. The curve is reversed (recall falling)
  and ends at (recall 0, precision 1), as sklearn returns it; ``auc`` then
  takes minus the trapezoid over the falling recall.
  """
  tps, fps = _cumulative(xp, positives, negatives)
  precision = tps / (tps + fps)  # every occupied threshold holds an image
  recall = tps / xp.maximum(tps[-1:], 1.0)
  precision = xp.concat([xp.reverse(precision), xp.float64([1.0])])
  recall = xp.concat([xp.reverse(recall), xp.float64([0.0])])
  return -1.0 * _trapezoid(xp, precision, recall)


def ood_metrics_from_counts(xp, id_counts, ood_counts) -> Dict[str, object]:
  """All five figures from (ID, OOD) counts per score, ASCENDING score order."""
  return {name: FORMULAS[name](xp, id_counts, ood_counts) for name in OOD_METRIC_NAMES}


# Each figure from (ID, OOD) counts per score in ASCENDING score order.
FORMULAS = {
    "auroc": lambda xp, i, o: auroc_from_counts(xp, o, i),
    "aupr_in": lambda xp, i, o: aupr_from_counts(xp, xp.reverse(i), xp.reverse(o)),
    "aupr_out": lambda xp, i, o: aupr_from_counts(xp, o, i),
    "fpr95_openood": lambda xp, i, o: fpr_at_tpr_from_counts(xp, o, i),
    "fpr95_odin": lambda xp, i, o: fpr_at_tpr_from_counts(
        xp, xp.reverse(i), xp.reverse(o)),
}


def score_bins(xp, scores, score_range: Tuple[float, float], num_bins: int):
  """int64 bin of each score: equal-width bins over ``score_range``, with
  scores outside it counted in the first / last bin (the state of the Keras
  class `OpenOODMetric`; scores in one bin count as tied)."""
  low, high = float(score_range[0]), float(score_range[1])
  position = (xp.float64(scores) - low) / (high - low) * float(num_bins)
  position = xp.where(position < num_bins - 1.0, position, num_bins - 1.0)
  return xp.int64(xp.where(position > 0.0, position, 0.0))


def binned_ood_metrics(id_scores, ood_scores, score_range: Tuple[float, float],
                       num_bins: int) -> Dict[str, float]:
  """`ood_metrics` with scores replaced by their bin (what `OpenOODMetric`
  computes): the numpy twin of the Keras class."""
  id_bins = score_bins(NUMPY, _finite_1d(id_scores, "id_scores"), score_range, num_bins)
  ood_bins = score_bins(NUMPY, _finite_1d(ood_scores, "ood_scores"), score_range, num_bins)
  return ood_metrics(id_bins, ood_bins)


# --- the library API ---------------------------------------------------------

def ood_metrics(id_scores: np.ndarray, ood_scores: np.ndarray) -> Dict[str, float]:
  """OpenOOD's figures for one ID / OOD pair, as fractions.

  Args:
    id_scores: float ``[N_id]``, the score of each in-distribution image;
      higher = more in-distribution (MSP, max logit, energy, ...).
    ood_scores: float ``[N_ood]``, the same score on the OOD images.

  Returns:
    ``{"auroc", "aupr_in", "aupr_out", "fpr95_openood", "fpr95_odin"}`` ->
    float, each equal to the scikit-learn computation in the module
    docstring on the same arrays, ties included.

  Raises:
    ValueError: a side is empty, or a score is NaN or infinite.
  """
  id_counts, ood_counts = counts_per_score(id_scores, ood_scores)
  return {name: float(value) for name, value in
          ood_metrics_from_counts(NUMPY, id_counts, ood_counts).items()}


def auroc(id_scores, ood_scores) -> float:
  """AUROC, OOD positive (OpenOOD's)."""
  return float(auroc_from_counts(NUMPY, *_ood_first(id_scores, ood_scores)))


def aupr_in(id_scores, ood_scores) -> float:
  """Trapezoidal area under the precision-recall curve, ID positive."""
  id_counts, ood_counts = counts_per_score(id_scores, ood_scores)
  return float(aupr_from_counts(NUMPY, id_counts[::-1], ood_counts[::-1]))


def aupr_out(id_scores, ood_scores) -> float:
  """Trapezoidal area under the precision-recall curve, OOD positive."""
  return float(aupr_from_counts(NUMPY, *_ood_first(id_scores, ood_scores)))


def fpr95_openood(id_scores, ood_scores) -> float:
  """Share of ID images flagged when 95 % of OOD images are caught (OpenOOD's)."""
  return float(fpr_at_tpr_from_counts(NUMPY, *_ood_first(id_scores, ood_scores)))


def fpr95_odin(id_scores, ood_scores) -> float:
  """Share of OOD images accepted when 95 % of ID images are kept (ODIN's)."""
  id_counts, ood_counts = counts_per_score(id_scores, ood_scores)
  return float(fpr_at_tpr_from_counts(NUMPY, id_counts[::-1], ood_counts[::-1]))


def _ood_first(id_scores, ood_scores):
  id_counts, ood_counts = counts_per_score(id_scores, ood_scores)
  return ood_counts, id_counts


def group_means(per_set: Mapping[str, float]) -> Dict[str, float]:
  """``{"near": mean, "far": mean}`` over the sets present, as OpenOOD's
  evaluator averages each figure over the near and the far sets (an
  unweighted mean of the per-set figures); a group with a missing set is
  left out rather than averaged over fewer sets."""
  means = {}
  for group, names in (("near", NEAR_OOD_SETS), ("far", FAR_OOD_SETS)):
    if all(name in per_set for name in names):
      means[group] = float(np.mean([per_set[name] for name in names]))
  return means
