"""Keras metric classes over the pure definitions in this package.

Each class keeps integer counts (or other sufficient statistics) as state,
never a running mean of batch means, so the result is the pure function's
value on all examples seen. All states are created with Keras's default
``aggregation="sum"`` and ``synchronization="on_read"``: under
``tf.distribute.MirroredStrategy`` every replica counts its share and a read
sums them. Create the metric inside ``strategy.scope()``.

Padding (the final batch of the input pipeline) is masked two ways, and an
example counts only if both say so:

* ``sample_weight`` is a MASK: an example counts (once) where its weight is
  > 0. Weights are not multiplicities. NOTE: Keras 3 passes sample weights
  only to ``compile(weighted_metrics=[...])``; metrics given in
  ``compile(metrics=[...])`` are called without them.
* a negative target marks "no label": class index -1 (TopKAccuracy,
  ExpectedCalibrationError, the OOD metrics), an all -1 ReaL row, original
  label -1 in the multi-label target. So padding the targets with -1 masks
  padding under ``metrics=[...]`` as well.

The multi-label metric also skips problematic images (the definition).

Results are float64; a metric that has counted nothing returns NaN.

Tie rule: ``tf.math.top_k`` puts the lower index first among equal scores,
the same as `accuracy.top_k_indices`.

Keras 3 with the TensorFlow backend; these are ``tf.keras.metrics.Metric``
subclasses too.
"""

from __future__ import annotations

from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfds_bench.labels import NUM_CLASSES
from tfds_bench.metrics.accuracy import (MULTILABEL_FIRST_CODE_COLUMN,
                                         MULTILABEL_ORIGINAL_COLUMN,
                                         MULTILABEL_PROBLEMATIC_COLUMN,
                                         MULTILABEL_VARIANTS, UNCLEAR_OFFSET)
from tfds_bench.metrics.calibration import DEFAULT_NUM_BINS

DEFAULT_OOD_HISTOGRAM_BINS = 2**16
# Default row width of the packed multi-label target (2 header columns).
MULTILABEL_TARGET_WIDTH = 32


def _example_mask(sample_weight, batch_size) -> tf.Tensor:
  """bool [B]: weight > 0 (all True without weights)."""
  if sample_weight is None:
    return tf.ones([batch_size], tf.bool)
  weight = tf.cast(tf.convert_to_tensor(sample_weight), tf.float32)
  if weight.shape.rank == 0:
    return tf.fill([batch_size], weight > 0)
  weight = tf.reshape(weight, [batch_size, -1])
  return tf.reduce_any(weight > 0, axis=1)


def _subset_constant(class_subset) -> Optional[tf.Tensor]:
  if class_subset is None:
    return None
  return tf.constant(np.asarray(class_subset, dtype=np.int64))


def _top_k(y_pred, k: int, class_subset: Optional[Sequence[int]]) -> tf.Tensor:
  """int64 [B, k] class indices (1000-class space), best first."""
  y_pred = tf.convert_to_tensor(y_pred)
  if y_pred.dtype.is_integer:
    # Already top-k indices, best first.
    return tf.cast(y_pred[:, :k], tf.int64)
  subset = _subset_constant(class_subset)
  if subset is not None:
    y_pred = tf.gather(y_pred, subset, axis=1)
  indices = tf.cast(tf.math.top_k(y_pred, k=k, sorted=True).indices, tf.int64)
  if subset is not None:
    indices = tf.gather(subset, indices)
  return indices


def _confidence_and_top1(y_pred, from_logits: bool, class_subset):
  """float64 max-softmax confidence [B] and int64 top-1 [B]; see
  `calibration.softmax_confidence` (same formulas)."""
  scores = tf.cast(tf.convert_to_tensor(y_pred), tf.float64)
  subset = _subset_constant(class_subset)
  if subset is not None:
    scores = tf.gather(scores, subset, axis=1)
  top1 = tf.cast(tf.math.top_k(scores, k=1).indices[:, 0], tf.int64)
  if subset is not None:
    top1 = tf.gather(subset, top1)
  if from_logits:
    shifted = scores - tf.reduce_max(scores, axis=1, keepdims=True)
    confidence = 1.0 / tf.reduce_sum(tf.exp(shifted), axis=1)
  elif subset is not None:
    confidence = tf.reduce_max(scores, axis=1) / tf.reduce_sum(scores, axis=1)
  else:
    confidence = tf.reduce_max(scores, axis=1)
  return confidence, top1


def _equal_width_bins(confidence, num_bins: int) -> tf.Tensor:
  bins = tf.floor(confidence * tf.constant(num_bins, tf.float64))
  return tf.cast(tf.clip_by_value(bins, 0.0, num_bins - 1.0), tf.int64)


def _ratio(numerator, denominator) -> tf.Tensor:
  numerator = tf.cast(numerator, tf.float64)
  denominator = tf.cast(denominator, tf.float64)
  return tf.where(denominator > 0, numerator / tf.maximum(denominator, 1.0),
                  tf.constant(np.nan, tf.float64))


def _int_count(flags) -> tf.Tensor:
  return tf.reduce_sum(tf.cast(flags, tf.int64))


class _CountMetric(keras.metrics.Metric):
  """Base: integer ``correct`` and ``total`` counters; result correct/total."""

  def __init__(self, name: str, **kwargs):
    super().__init__(name=name, **kwargs)
    self.correct = self.add_variable(shape=(), initializer="zeros", dtype="int64",
                                     name="correct")
    self.total = self.add_variable(shape=(), initializer="zeros", dtype="int64",
                                   name="total")

  def _add(self, hit, counted) -> None:
    self.correct.assign_add(_int_count(tf.logical_and(hit, counted)))
    self.total.assign_add(_int_count(counted))

  def result(self):
    return _ratio(self.correct, self.total)


class TopKAccuracy(_CountMetric):
  """Top-k accuracy; `accuracy.topk_correct` as counts.

  ``y_true``: int class index ``[B]`` or ``[B, 1]``. ``y_pred``: scores
  ``[B, C]`` or int top-k indices ``[B, >=k]``. With ``class_subset`` (the
  200 1000-class indices of ImageNet-A/-R/-O) only those scores are ranked
  (`accuracy.subset_top_k`).
  """

  def __init__(self, k: int = 1, name: Optional[str] = None,
               class_subset: Optional[Sequence[int]] = None, **kwargs):
    super().__init__(name=name or f"top{k}", **kwargs)
    self.k = int(k)
    self.class_subset = None if class_subset is None else [int(c) for c in class_subset]

  def update_state(self, y_true, y_pred, sample_weight=None):
    topk = _top_k(y_pred, self.k, self.class_subset)
    labels = tf.reshape(tf.cast(y_true, tf.int64), [-1])
    hit = tf.reduce_any(tf.equal(topk, labels[:, None]), axis=1)
    self._add(hit, _example_mask(sample_weight, tf.shape(topk)[0]) & (labels >= 0))

  def get_config(self):
    return {**super().get_config(), "k": self.k, "class_subset": self.class_subset}


class ReaLAccuracy(_CountMetric):
  """ReaL top-k accuracy; `accuracy.real_correct` as counts.

  ``y_true``: int ``[B, L]`` ReaL label lists padded with -1 (an all -1 row
  has no ReaL label and is not counted). ``y_pred``: scores or top-k indices.
  """

  def __init__(self, k: int = 1, name: Optional[str] = None, **kwargs):
    super().__init__(name=name or f"real_top{k}", **kwargs)
    self.k = int(k)

  def update_state(self, y_true, y_pred, sample_weight=None):
    topk = _top_k(y_pred, self.k, None)
    label_sets = tf.cast(y_true, tf.int64)
    label_sets = tf.reshape(label_sets, [tf.shape(topk)[0], -1])
    has_labels = tf.reduce_any(label_sets >= 0, axis=1)
    # -1 padding never equals a predicted index (>= 0).
    hit = tf.reduce_any(tf.equal(topk[:, :, None], label_sets[:, None, :]), axis=[1, 2])
    counted = tf.logical_and(_example_mask(sample_weight, tf.shape(topk)[0]), has_labels)
    self._add(hit, counted)

  def get_config(self):
    return {**super().get_config(), "k": self.k}


def encode_multilabel_target(original_label, is_problematic, correct_multi_labels,
                             unclear_multi_labels,
                             width: int = MULTILABEL_TARGET_WIDTH) -> tf.Tensor:
  """One example's multi-label annotation as the packed int64 ``[width]`` row.

  For ``tf.data`` maps over ``imagenet2012_multilabel`` examples; layout as
  `accuracy.encode_multilabel_targets`: ``[original_label, is_problematic,
  codes...]`` with code c (correct) or 1000 + c (unclear), -1 padded.
  """
  codes = tf.concat([tf.cast(tf.reshape(correct_multi_labels, [-1]), tf.int64),
                     tf.cast(tf.reshape(unclear_multi_labels, [-1]), tf.int64) + UNCLEAR_OFFSET],
                    axis=0)
  slots = width - MULTILABEL_FIRST_CODE_COLUMN
  num_codes = tf.shape(codes, out_type=tf.int64)[0]
  with tf.control_dependencies([tf.debugging.assert_less_equal(
      num_codes, tf.constant(slots, tf.int64),
      message=f"more multi-labels than the {slots} slots of the target; raise width")]):
    codes = tf.pad(codes, [[0, slots - num_codes]], constant_values=-1)
  header = tf.stack([tf.cast(original_label, tf.int64), tf.cast(is_problematic, tf.int64)])
  return tf.ensure_shape(tf.concat([header, codes], axis=0), [width])


class MultiLabelAccuracy(keras.metrics.Metric):
  """Multi-label accuracy (Shankar et al. 2020); `accuracy.multilabel_accuracy`.

  ``y_true``: int ``[B, W]`` packed rows ``[original_label, is_problematic,
  code_1, ..., code_{W-2}]``, code c = correct label c, 1000 + c = unclear
  label c, -1 = padding (`encode_multilabel_target` /
  `accuracy.encode_multilabel_targets`). ``y_pred``: scores or top-1 indices.

  State: per original class, int64 counts of non-problematic images and of
  right ones, so ``class_mean`` is exact.

  Args:
    variant: ``class_mean`` (right if in correct or unclear; mean of per-class
      accuracies), ``image_mean`` (same rule, mean over images) or
      ``correct_only_class_mean`` (right only if in correct).
  """

  def __init__(self, variant: str = "class_mean", name: Optional[str] = None, **kwargs):
    if variant not in MULTILABEL_VARIANTS:
      raise ValueError(f"unknown variant {variant!r}; known: {MULTILABEL_VARIANTS}")
    super().__init__(name=name or f"multilabel_{variant}", **kwargs)
    self.variant = variant
    self.correct = self.add_variable(shape=(NUM_CLASSES,), initializer="zeros",
                                     dtype="int64", name="correct")
    self.total = self.add_variable(shape=(NUM_CLASSES,), initializer="zeros",
                                   dtype="int64", name="total")

  def update_state(self, y_true, y_pred, sample_weight=None):
    top1 = _top_k(y_pred, 1, None)[:, 0]
    targets = tf.cast(y_true, tf.int64)
    original = targets[:, MULTILABEL_ORIGINAL_COLUMN]
    problematic = tf.not_equal(targets[:, MULTILABEL_PROBLEMATIC_COLUMN], 0)
    codes = targets[:, MULTILABEL_FIRST_CODE_COLUMN:]
    if self.variant == "correct_only_class_mean":
      accepted = tf.where((codes >= 0) & (codes < UNCLEAR_OFFSET), codes, -1)
    else:
      # floormod would map the -1 padding to 999: keep it -1.
      accepted = tf.where(codes >= 0, tf.math.floormod(codes, UNCLEAR_OFFSET), -1)
    right = tf.reduce_any(tf.equal(accepted, top1[:, None]), axis=1)
    keep = (_example_mask(sample_weight, tf.shape(top1)[0]) & ~problematic
            & (original >= 0) & (original < NUM_CLASSES))
    kept_classes = tf.boolean_mask(original, keep)
    self.total.assign_add(tf.math.unsorted_segment_sum(
        tf.ones_like(kept_classes), kept_classes, NUM_CLASSES))
    self.correct.assign_add(tf.math.unsorted_segment_sum(
        tf.cast(tf.boolean_mask(right, keep), tf.int64), kept_classes, NUM_CLASSES))

  def result(self):
    if self.variant == "image_mean":
      return _ratio(tf.reduce_sum(self.correct), tf.reduce_sum(self.total))
    present = self.total > 0
    per_class = tf.boolean_mask(self.correct, present)
    per_class = tf.cast(per_class, tf.float64) / tf.cast(tf.boolean_mask(self.total, present),
                                                        tf.float64)
    return _ratio(tf.reduce_sum(per_class), tf.size(per_class))

  def get_config(self):
    return {**super().get_config(), "variant": self.variant}


class ExpectedCalibrationError(keras.metrics.Metric):
  """ECE with equal-width bins; `calibration.expected_calibration_error`.

  ``y_true``: int class ``[B]`` / ``[B, 1]``. ``y_pred``: logits
  (``from_logits=True``) or probabilities ``[B, C]``. Confidence = max
  softmax (over ``class_subset`` only when given), correct = top-1 == label.
  State per bin: int64 count, int64 number correct, float64 confidence sum
  (exact up to the order of float64 summation).
  """

  def __init__(self, *, from_logits: bool, num_bins: int = DEFAULT_NUM_BINS,
               class_subset: Optional[Sequence[int]] = None, name: str = "ece", **kwargs):
    super().__init__(name=name, **kwargs)
    self.from_logits = bool(from_logits)
    self.num_bins = int(num_bins)
    self.class_subset = None if class_subset is None else [int(c) for c in class_subset]
    self.bin_count = self.add_variable(shape=(self.num_bins,), initializer="zeros",
                                       dtype="int64", name="bin_count")
    self.bin_correct = self.add_variable(shape=(self.num_bins,), initializer="zeros",
                                         dtype="int64", name="bin_correct")
    self.bin_confidence_sum = self.add_variable(shape=(self.num_bins,), initializer="zeros",
                                                dtype="float64", name="bin_confidence_sum")

  def update_state(self, y_true, y_pred, sample_weight=None):
    confidence, top1 = _confidence_and_top1(y_pred, self.from_logits, self.class_subset)
    labels = tf.reshape(tf.cast(y_true, tf.int64), [-1])
    keep = _example_mask(sample_weight, tf.shape(top1)[0]) & (labels >= 0)
    confidence = tf.boolean_mask(confidence, keep)
    correct = tf.boolean_mask(tf.equal(top1, labels), keep)
    bins = _equal_width_bins(confidence, self.num_bins)
    self.bin_count.assign_add(tf.math.unsorted_segment_sum(
        tf.ones_like(bins), bins, self.num_bins))
    self.bin_correct.assign_add(tf.math.unsorted_segment_sum(
        tf.cast(correct, tf.int64), bins, self.num_bins))
    self.bin_confidence_sum.assign_add(tf.math.unsorted_segment_sum(
        confidence, bins, self.num_bins))

  def result(self):
    count = tf.cast(self.bin_count, tf.float64)
    total = tf.reduce_sum(count)
    safe = tf.maximum(count, 1.0)
    gap = tf.abs(tf.cast(self.bin_correct, tf.float64) / safe - self.bin_confidence_sum / safe)
    # Empty bins contribute 0 (count 0); NaN when nothing was counted.
    ece = tf.reduce_sum(count / tf.maximum(total, 1.0) * gap)
    return tf.where(total > 0, ece, tf.constant(np.nan, tf.float64))

  def get_config(self):
    return {**super().get_config(), "from_logits": self.from_logits,
            "num_bins": self.num_bins, "class_subset": self.class_subset}


class _OODHistogramMetric(keras.metrics.Metric):
  """Histogram of max-softmax confidence for OOD (row 1) and in-dist (row 0).

  ``y_true``: 1 for an OOD (ImageNet-O) image, 0 for in-distribution, -1
  for padding, ``[B]`` or ``[B, 1]``. ``y_pred``: logits or probabilities ``[B, C]``;
  pass ``class_subset=labels.subset("imagenet_o")[1]`` for the 200 classes.
  Score = -confidence. Scores within one of ``num_bins`` equal-width
  confidence bins count as tied; otherwise this equals the sklearn metric
  (`ood.confidence_histogram` is the numpy twin of this state).
  """

  def __init__(self, *, from_logits: bool, name: str,
               class_subset: Optional[Sequence[int]] = None,
               num_bins: int = DEFAULT_OOD_HISTOGRAM_BINS, **kwargs):
    super().__init__(name=name, **kwargs)
    self.from_logits = bool(from_logits)
    self.num_bins = int(num_bins)
    self.class_subset = None if class_subset is None else [int(c) for c in class_subset]
    self.histogram = self.add_variable(shape=(2, self.num_bins), initializer="zeros",
                                       dtype="int64", name="histogram")

  def update_state(self, y_true, y_pred, sample_weight=None):
    confidence, _ = _confidence_and_top1(y_pred, self.from_logits, self.class_subset)
    targets = tf.reshape(tf.cast(y_true, tf.int64), [-1])
    is_ood = tf.cast(tf.greater(targets, 0), tf.int64)
    keep = _example_mask(sample_weight, tf.shape(confidence)[0]) & (targets >= 0)
    bins = _equal_width_bins(tf.boolean_mask(confidence, keep), self.num_bins)
    flat = tf.boolean_mask(is_ood, keep) * self.num_bins + bins
    counts = tf.math.unsorted_segment_sum(tf.ones_like(flat), flat, 2 * self.num_bins)
    self.histogram.assign_add(tf.reshape(counts, [2, self.num_bins]))

  def _ascending_score_counts(self):
    # Score = -confidence: ascending score is descending confidence bin.
    histogram = tf.convert_to_tensor(self.histogram)
    return tf.reverse(histogram[1], [0]), tf.reverse(histogram[0], [0])

  def get_config(self):
    return {**super().get_config(), "from_logits": self.from_logits,
            "num_bins": self.num_bins, "class_subset": self.class_subset}


class OODAveragePrecision(_OODHistogramMetric):
  """AUPR (sklearn average precision, OOD positive); see `ood.aupr`."""

  def __init__(self, *, from_logits: bool, name: str = "aupr", **kwargs):
    super().__init__(from_logits=from_logits, name=name, **kwargs)

  def result(self):
    positives, negatives = self._ascending_score_counts()
    # Thresholds from the highest score down, at occupied bins only.
    positives, negatives = tf.reverse(positives, [0]), tf.reverse(negatives, [0])
    occupied = (positives + negatives) > 0
    tps = tf.cast(tf.cumsum(tf.boolean_mask(positives, occupied)), tf.float64)
    fps = tf.cast(tf.cumsum(tf.boolean_mask(negatives, occupied)), tf.float64)
    num_pos = tf.reduce_sum(tf.cast(positives, tf.float64))
    precision = tps / tf.maximum(tps + fps, 1.0)
    recall = tps / tf.maximum(num_pos, 1.0)
    # sklearn's order: reversed, with (precision 1, recall 0) appended.
    precision = tf.concat([tf.reverse(precision, [0]), [1.0]], axis=0)
    recall = tf.concat([tf.reverse(recall, [0]), [0.0]], axis=0)
    ap = tf.maximum(0.0, -tf.reduce_sum((recall[1:] - recall[:-1]) * precision[:-1]))
    return tf.where(num_pos > 0, ap, tf.constant(np.nan, tf.float64))


class OODAUROC(_OODHistogramMetric):
  """AUROC (OOD positive, ties count 1/2); see `ood.auroc`."""

  def __init__(self, *, from_logits: bool, name: str = "auroc", **kwargs):
    super().__init__(from_logits=from_logits, name=name, **kwargs)

  def result(self):
    positives, negatives = self._ascending_score_counts()
    negatives_below = tf.cumsum(negatives, exclusive=True)
    twice_u = 2 * tf.reduce_sum(positives * negatives_below) + tf.reduce_sum(
        positives * negatives)
    pairs = 2 * tf.reduce_sum(positives) * tf.reduce_sum(negatives)
    return _ratio(twice_u, pairs)
