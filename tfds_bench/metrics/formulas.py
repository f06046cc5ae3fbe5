"""The metric formulas, written once for numpy arrays and for TensorFlow tensors.

Each formula takes an array namespace ``xp`` first: `NUMPY` here (the
``--predictions`` scoring path, which never loads TensorFlow) or
``keras_metrics.TENSORFLOW`` (the Keras classes, eager and in graph, under
MirroredStrategy). The namespaces offer the same few primitives with numpy's
semantics, so a formula reads the same for both and the two paths cannot drift
apart. Counts stay integers; ratios are float64.
"""

from __future__ import annotations

import numpy as np


class NumpyOps:
  """The primitives of the formulas on numpy arrays."""

  float64 = staticmethod(lambda x: np.asarray(x, dtype=np.float64))
  int64 = staticmethod(lambda x: np.asarray(x).astype(np.int64))
  any = staticmethod(np.any)
  sum = staticmethod(np.sum)
  max = staticmethod(np.max)
  min = staticmethod(np.min)
  exp = staticmethod(np.exp)
  abs = staticmethod(np.abs)
  maximum = staticmethod(np.maximum)
  where = staticmethod(np.where)
  cumsum = staticmethod(lambda x: np.cumsum(x, axis=0))
  reverse = staticmethod(lambda x: x[::-1])
  concat = staticmethod(lambda xs: np.concatenate(xs, axis=0))
  mask = staticmethod(lambda x, keep: x[keep])
  matmul = staticmethod(np.matmul)

  @staticmethod
  def take(x, indices, axis):
    return np.take(x, indices, axis=axis)

  @staticmethod
  def top_k(scores, k):
    """int64 [N, k] indices of the k highest scores, ties to the lower index."""
    if k == 1:
      # argmax returns the first (lowest-index) maximum: the same tie rule.
      return np.argmax(scores, axis=1).astype(np.int64)[:, None]
    return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)


NUMPY = NumpyOps()


def in_label_sets(xp, topk, label_sets):
  """bool [N]: any of the top-k indices [N, k] is in the -1 padded sets [N, L].

  Top-k accuracy is this with ``label_sets = labels[:, None]``; ReaL with the
  ReaL lists; the multi-label rule with the accepted codes.
  """
  hits = (topk[:, :, None] == label_sets[:, None, :]) & (label_sets >= 0)[:, None, :]
  return xp.any(xp.any(hits, axis=2), axis=1)


def top_k_in(xp, scores, k, class_subset=None):
  """int64 [N, k] 1000-class indices ranked over ``class_subset``'s scores only."""
  if class_subset is None:
    return xp.top_k(scores, k)
  return xp.take(class_subset, xp.top_k(xp.take(scores, class_subset, axis=1), k), axis=0)


def category_means(xp, probabilities, averaging):
  """float64 [N, C]: probabilities [N, K] averaged over each category's
  members; ``averaging`` [K, C] holds 1/|members| at (member, category)."""
  return xp.matmul(xp.float64(probabilities), xp.float64(averaging))


def max_softmax(xp, scores, *, from_logits: bool, renormalise: bool):
  """Max-softmax confidence [N] of float64 scores [N, C] (see
  `calibration.softmax_confidence`): from logits ``1 / sum exp(s - max s)``
  (no division of two roundings); from probabilities restricted to a subset,
  the renormalised maximum; otherwise the maximum."""
  if from_logits:
    shifted = scores - xp.max(scores, axis=1, keepdims=True)
    return 1.0 / xp.sum(xp.exp(shifted), axis=1)
  if renormalise:
    return xp.max(scores, axis=1) / xp.sum(scores, axis=1)
  return xp.max(scores, axis=1)


def equal_width_bins(xp, confidence, num_bins: int):
  """Bin of each confidence: ``min(floor(num_bins * c), num_bins - 1)``, int64."""
  bins = xp.float64(confidence) * float(num_bins)
  bins = xp.where(bins < num_bins - 1.0, bins, num_bins - 1.0)
  return xp.int64(xp.where(bins > 0.0, bins, 0.0))


def ratio(xp, numerator, denominator, empty):
  """numerator / denominator in float64; ``empty`` where the denominator is 0."""
  numerator, denominator = xp.float64(numerator), xp.float64(denominator)
  return xp.where(denominator > 0, numerator / xp.maximum(denominator, 1.0), empty)


def class_mean(xp, correct, total, empty):
  """Mean over classes with ``total > 0`` of ``correct / total``."""
  present = total > 0
  per_class = xp.float64(xp.mask(correct, present)) / xp.float64(xp.mask(total, present))
  return ratio(xp, xp.sum(per_class), xp.sum(xp.int64(present)), empty)


def class_min(xp, correct, total, empty):
  """Lowest ``correct / total`` over the classes with ``total > 0``."""
  lowest = xp.min(ratio(xp, correct, total, float("inf")))
  return xp.where(xp.sum(xp.int64(total > 0)) > 0, lowest, empty)


def ece_from_sums(xp, count, num_correct, confidence_sum, empty):
  """ECE from per-bin counts, correct counts and confidence sums."""
  count = xp.float64(count)
  total = xp.sum(count)
  safe = xp.maximum(count, 1.0)
  gap = xp.abs(xp.float64(num_correct) / safe - xp.float64(confidence_sum) / safe)
  # Empty bins contribute 0 (count 0).
  return xp.where(total > 0, xp.sum(count / xp.maximum(total, 1.0) * gap), empty)


def average_precision_from_histogram(xp, positives, negatives, empty):
  """sklearn's average precision from counts per score, ASCENDING score order.

  Thresholds at the occupied scores from high to low; ``AP = sum_t (R_t -
  R_{t-1}) P_t`` in sklearn's order (reversed, (P=1, R=0) appended); the
  -0.0 rounding can give is clipped as sklearn does.
  """
  positives, negatives = xp.reverse(positives), xp.reverse(negatives)
  occupied = (positives + negatives) > 0
  tps = xp.float64(xp.cumsum(xp.mask(positives, occupied)))
  fps = xp.float64(xp.cumsum(xp.mask(negatives, occupied)))
  num_pos = xp.float64(xp.sum(positives))
  precision = tps / xp.maximum(tps + fps, 1.0)
  recall = tps / xp.maximum(num_pos, 1.0)
  precision = xp.concat([xp.reverse(precision), xp.float64([1.0])])
  recall = xp.concat([xp.reverse(recall), xp.float64([0.0])])
  ap = xp.maximum(-xp.sum((recall[1:] - recall[:-1]) * precision[:-1]), 0.0)
  return xp.where(num_pos > 0, ap, empty)


def auroc_from_histogram(xp, positives, negatives, empty):
  """AUROC from counts per score (ascending), Mann-Whitney with ties 1/2.

  ``2U`` is summed in float64, exact for any count below 2^53.
  """
  positives, negatives = xp.float64(positives), xp.float64(negatives)
  negatives_below = xp.cumsum(negatives) - negatives
  twice_u = 2.0 * xp.sum(positives * negatives_below) + xp.sum(positives * negatives)
  return ratio(xp, twice_u, 2.0 * xp.sum(positives) * xp.sum(negatives), empty)
