"""Calibration metrics: ECE (15 equal-width bins) and RMS calibration error.

ECE, Guo et al. 2017 ("On Calibration of Modern Neural Networks") / Naeini et
al. 2015, as implemented by google-research/robustness_metrics
``metrics/uncertainty.py`` (``_KerasECEMetric``, the ``ece`` metric used for
ImageNet variants there): 15 bins of equal width on [0, 1]; the bin of a
confidence c is ``min(floor(15 c), 14)`` (``tf.histogram_fixed_width_bins``),
i.e. bins ``[i/15, (i+1)/15)`` closed on the LEFT, the last bin also holding
c = 1. ECE = sum over non-empty bins of ``count/N * |accuracy - mean
confidence|``. (Guo et al.'s PyTorch code closes bins on the right,
``(lower, upper]``; the two differ only for a confidence exactly equal to an
interior edge i/15.) Binning is done in float64.

RMS calibration error, Hendrycks et al. (ImageNet-A/-O, "Natural Adversarial
Examples", CVPR 2021), defined by hendrycks/natural-adv-examples
``calibration_tools.py`` ``calib_err(confidence, correct, p='2', beta=100)``:
adaptive bins of 100 examples in order of increasing confidence, the last bin
taking the remainder (100 to 199 examples);
``sqrt(sum_b |b|/N * (mean conf_b - mean correct_b)^2)``. NOTE: the reference
loops ``for i in range(len(bins) - 1)`` and so leaves the LAST (highest
confidence) bin out of the sum while still dividing by all N examples. The
published numbers were computed that way, so that is the default here
(``include_last_bin=False``); ``include_last_bin=True`` gives the textbook
adaptive-binning estimate. The reference sorts with ``np.argsort`` (quicksort,
tie order unspecified); here ties in confidence are ordered by input position
(stable sort), which can only matter when tied confidences straddle a bin
edge. RMS with adaptive bins needs every example's confidence, so no Keras
class is offered for it: score it from per-example predictions.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from tfds_bench.metrics import formulas
from tfds_bench.metrics.formulas import NUMPY

DEFAULT_NUM_BINS = 15
DEFAULT_ADAPTIVE_BIN_SIZE = 100


def softmax_confidence(scores: np.ndarray, *, from_logits: bool,
                       class_subset: np.ndarray | None = None
                       ) -> Tuple[np.ndarray, np.ndarray]:
  """Max-softmax confidence and top-1 prediction (1000-class index).

  With ``class_subset`` (the 200-class sets), the softmax runs over the subset
  logits only, as hendrycks/natural-adv-examples ``eval_many_models.py``
  (``F.softmax(output[:, mask])``). From probabilities, the subset softmax is
  the renormalised subset probabilities (softmax is shift invariant:
  ``softmax(log p)_S = p_S / sum p_S``).

  Args:
    scores: float ``[N, C]`` logits (``from_logits=True``) or probabilities.
    from_logits: whether ``scores`` are logits.
    class_subset: optional int ``[S]`` class indices to restrict to.

  Returns:
    ``(confidence float64 [N], top1 int64 [N])``; ties go to the lower index.
  """
  scores = np.asarray(scores, dtype=np.float64)
  if scores.ndim != 2:
    raise ValueError(f"scores must be [N, C], got {scores.shape}")
  if class_subset is not None:
    class_subset = np.asarray(class_subset, dtype=np.int64)
  top1 = formulas.top_k_in(NUMPY, scores, 1, class_subset)[:, 0]
  if class_subset is not None:
    scores = scores[:, class_subset]
  confidence = formulas.max_softmax(NUMPY, scores, from_logits=from_logits,
                                    renormalise=class_subset is not None)
  return confidence, top1


def _check(confidence: np.ndarray, correct: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
  correct = np.asarray(correct).reshape(-1)
  if confidence.shape != correct.shape:
    raise ValueError(f"{confidence.size} confidences but {correct.size} correctness values")
  if confidence.size and (np.nanmin(confidence) < 0 or np.nanmax(confidence) > 1
                          or np.isnan(confidence).any()):
    raise ValueError("confidence must lie in [0, 1]")
  return confidence, correct.astype(bool)


def equal_width_bin_index(confidence: np.ndarray, num_bins: int = DEFAULT_NUM_BINS) -> np.ndarray:
  """Bin of each confidence: ``min(floor(num_bins * c), num_bins - 1)``."""
  return formulas.equal_width_bins(NUMPY, np.asarray(confidence, dtype=np.float64),
                                  num_bins)


def reliability_diagram(confidence: np.ndarray, correct: np.ndarray,
                        num_bins: int = DEFAULT_NUM_BINS) -> Dict[str, np.ndarray]:
  """Per-bin statistics for the equal-width bins of the ECE.

  Returns:
    dict with ``bin_edges`` float ``[num_bins + 1]``, ``bin_count`` int,
    ``bin_correct`` int (number right), ``bin_accuracy`` and
    ``bin_confidence`` (mean; NaN for an empty bin), all ``[num_bins]``.
  """
  confidence, correct = _check(confidence, correct)
  bins = equal_width_bin_index(confidence, num_bins)
  count = np.bincount(bins, minlength=num_bins).astype(np.int64)
  num_correct = np.bincount(bins[correct], minlength=num_bins).astype(np.int64)
  confidence_sum = np.bincount(bins, weights=confidence, minlength=num_bins)
  return reliability_from_sums(count, num_correct, confidence_sum)


def reliability_from_sums(count: np.ndarray, num_correct: np.ndarray,
                          confidence_sum: np.ndarray) -> Dict[str, np.ndarray]:
  """`reliability_diagram` from per-bin sufficient statistics."""
  count = np.asarray(count, dtype=np.int64)
  num_bins = count.shape[0]
  with np.errstate(invalid="ignore", divide="ignore"):
    accuracy = np.where(count > 0, np.asarray(num_correct) / count, np.nan)
    mean_confidence = np.where(count > 0, np.asarray(confidence_sum) / count, np.nan)
  return {
      "bin_edges": np.linspace(0.0, 1.0, num_bins + 1),
      "bin_count": count,
      "bin_correct": np.asarray(num_correct, dtype=np.int64),
      "bin_accuracy": accuracy,
      "bin_confidence": mean_confidence,
  }


def ece_from_sums(count: np.ndarray, num_correct: np.ndarray,
                  confidence_sum: np.ndarray) -> float:
  """ECE from per-bin counts, correct counts and confidence sums."""
  return float(formulas.ece_from_sums(NUMPY, np.asarray(count, dtype=np.int64),
                                      np.asarray(num_correct), np.asarray(confidence_sum),
                                      float("nan")))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               num_bins: int = DEFAULT_NUM_BINS) -> float:
  """Expected calibration error with equal-width bins (see module doc).

  Args:
    confidence: float ``[N]`` in [0, 1] (max softmax probability).
    correct: bool ``[N]``, whether the top-1 prediction is right.
    num_bins: number of equal-width bins on [0, 1].

  Returns:
    ECE as a fraction (NaN for N = 0).
  """
  confidence, correct = _check(confidence, correct)
  bins = equal_width_bin_index(confidence, num_bins)
  count = np.bincount(bins, minlength=num_bins)
  num_correct = np.bincount(bins[correct], minlength=num_bins)
  confidence_sum = np.bincount(bins, weights=confidence, minlength=num_bins)
  return ece_from_sums(count, num_correct, confidence_sum)


def rms_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                          bin_size: int = DEFAULT_ADAPTIVE_BIN_SIZE,
                          include_last_bin: bool = False) -> float:
  """RMS calibration error with adaptive bins (Hendrycks et al.; module doc).

  Args:
    confidence: float ``[N]`` in [0, 1].
    correct: bool ``[N]``.
    bin_size: target examples per bin (``beta`` in the reference).
    include_last_bin: False reproduces the reference code, which leaves the
      highest-confidence bin out of the sum; True includes it.

  Returns:
    RMS calibration error as a fraction.

  Raises:
    ValueError: fewer than ``bin_size`` examples (the reference fails there).
  """
  confidence, correct = _check(confidence, correct)
  n = confidence.size
  num_bins = n // bin_size
  if num_bins == 0:
    raise ValueError(f"RMS calibration error needs at least {bin_size} examples, got {n}")
  order = np.argsort(confidence, kind="stable")
  confidence = confidence[order]
  correct = correct[order].astype(np.float64)
  starts = np.arange(num_bins) * bin_size
  ends = np.append(starts[1:], n)  # the last bin takes the remainder
  used = num_bins if include_last_bin else num_bins - 1
  squared = 0.0
  for start, end in zip(starts[:used], ends[:used]):
    gap = np.mean(confidence[start:end]) - np.mean(correct[start:end])
    squared += (end - start) / n * gap * gap
  return float(np.sqrt(squared))
