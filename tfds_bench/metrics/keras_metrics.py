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

Results are computed in float64 and returned in the metric's ``dtype``
(default ``"float64"``, so results equal the numpy functions exactly); a
metric that has counted nothing returns 0.0, as Keras's own metrics do.
Targets are class indices (``[B]`` or ``[B, 1]``); a one-hot ``[B, C]``
target is refused with a message saying how to convert it.

Every formula is the one in ``formulas`` (shared with the numpy functions),
run here on the `TENSORFLOW` namespace. Every class is registered with
``keras.saving.register_keras_serializable(package="tfds_bench")``, so a
saved model compiled with them loads without ``custom_objects``.

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

from tfds_bench import label_spaces
from tfds_bench.labels import NUM_CLASSES
from tfds_bench.metrics.accuracy import (MULTILABEL_FIRST_CODE_COLUMN,
                                         MULTILABEL_ORIGINAL_COLUMN,
                                         MULTILABEL_PROBLEMATIC_COLUMN,
                                         MULTILABEL_VARIANTS, UNCLEAR_OFFSET)
from tfds_bench.metrics import formulas
from tfds_bench.metrics import model_vs_human
from tfds_bench.metrics import openood
from tfds_bench.metrics.calibration import DEFAULT_NUM_BINS

DEFAULT_OOD_HISTOGRAM_BINS = 2**16
# Default row width of the packed multi-label target (2 header columns).
MULTILABEL_TARGET_WIDTH = 32


class TensorFlowOps:
  """The primitives of `formulas` on tensors, with numpy's semantics."""

  float64 = staticmethod(lambda x: tf.cast(x, tf.float64))
  int64 = staticmethod(lambda x: tf.cast(x, tf.int64))
  exp = staticmethod(tf.exp)
  abs = staticmethod(tf.abs)
  maximum = staticmethod(tf.maximum)
  cumsum = staticmethod(lambda x: tf.cumsum(x, axis=0))
  reverse = staticmethod(lambda x: tf.reverse(x, [0]))
  concat = staticmethod(lambda xs: tf.concat(xs, axis=0))
  mask = staticmethod(tf.boolean_mask)
  matmul = staticmethod(tf.matmul)

  @staticmethod
  def any(x, axis=None):
    return tf.reduce_any(x, axis=axis)

  @staticmethod
  def sum(x, axis=None):
    return tf.reduce_sum(x, axis=axis)

  @staticmethod
  def max(x, axis=None, keepdims=False):
    return tf.reduce_max(x, axis=axis, keepdims=keepdims)

  @staticmethod
  def min(x, axis=None):
    return tf.reduce_min(x, axis=axis)

  @staticmethod
  def where(condition, x, y):
    return tf.where(condition, x, y)

  @staticmethod
  def take(x, indices, axis):
    return tf.gather(x, indices, axis=axis)

  @staticmethod
  def top_k(scores, k):
    # tf.math.top_k puts the lower index first among equal scores.
    return tf.cast(tf.math.top_k(scores, k=k, sorted=True).indices, tf.int64)


TENSORFLOW = TensorFlowOps()


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


def _class_indices(y_true, metric) -> tf.Tensor:
  """int64 [B] class indices from ``[B]`` / ``[B, 1]``; one-hot refused."""
  y_true = tf.convert_to_tensor(y_true)
  if y_true.shape.rank == 2 and y_true.shape[1] is not None and y_true.shape[1] > 1:
    raise ValueError(
        f"{type(metric).__name__} ({metric.name}) takes class indices [B] or "
        f"[B, 1] as y_true (-1 for padding), got shape {y_true.shape}: a "
        "one-hot target? Pass keras.ops.argmax(y_true, axis=-1) instead.")
  return tf.reshape(tf.cast(y_true, tf.int64), [-1])


def _top_k(y_pred, k: int, class_subset: Optional[Sequence[int]]) -> tf.Tensor:
  """int64 [B, k] class indices (1000-class space), best first."""
  y_pred = tf.convert_to_tensor(y_pred)
  if y_pred.dtype.is_integer:
    # Already top-k indices, best first.
    return tf.cast(y_pred[:, :k], tf.int64)
  return formulas.top_k_in(TENSORFLOW, y_pred, k, _subset_constant(class_subset))


def _confidence_and_top1(y_pred, from_logits: bool, class_subset):
  """float64 max-softmax confidence [B] and int64 top-1 [B]
  (`calibration.softmax_confidence`, the same `formulas`)."""
  scores = tf.cast(tf.convert_to_tensor(y_pred), tf.float64)
  subset = _subset_constant(class_subset)
  top1 = formulas.top_k_in(TENSORFLOW, scores, 1, subset)[:, 0]
  if subset is not None:
    scores = tf.gather(scores, subset, axis=1)
  confidence = formulas.max_softmax(TENSORFLOW, scores, from_logits=from_logits,
                                    renormalise=subset is not None)
  return confidence, top1


def _int_count(flags) -> tf.Tensor:
  return tf.reduce_sum(tf.cast(flags, tf.int64))


class _Float64Metric(keras.metrics.Metric):
  """Base: float64 results by default, cast to the metric's ``dtype``."""

  def __init__(self, name: str, dtype="float64", **kwargs):
    super().__init__(name=name, dtype=dtype, **kwargs)

  def _out(self, value) -> tf.Tensor:
    return tf.cast(value, self.dtype)

  def __deepcopy__(self, memo):
    # Keras's generic copy rebuilds the metric with empty state: copy the
    # counts too, so a copy reports what the original reports.
    clone = type(self).from_config(self.get_config())
    for target, source in zip(clone.variables, self.variables):
      target.assign(source)
    memo[id(self)] = clone
    return clone


class _CountMetric(_Float64Metric):
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
    return self._out(formulas.ratio(TENSORFLOW, self.correct, self.total, 0.0))


@keras.saving.register_keras_serializable(package="tfds_bench")
class TopKAccuracy(_CountMetric):
  """Top-k accuracy; `accuracy.topk_correct` as counts.

  ``y_true``: int class index ``[B]`` or ``[B, 1]``. ``y_pred``: scores
  ``[B, C]`` or int top-k indices ``[B, >=k]``. With ``class_subset`` (the
  200 1000-class indices of ImageNet-A/-R/-O) only those scores are ranked
  (`accuracy.subset_top_k`).

  >>> metric = TopKAccuracy(k=1)
  >>> metric.update_state([1, 0, -1], [[0.1, 0.9], [0.2, 0.8], [0.5, 0.5]])
  >>> float(metric.result())  # the -1 target is padding
  0.5
  >>> metric.reset_state(); float(metric.result()) == 0.0  # nothing counted
  True
  """

  def __init__(self, k: int = 1, name: Optional[str] = None,
               class_subset: Optional[Sequence[int]] = None, **kwargs):
    super().__init__(name=name or f"top{k}", **kwargs)
    self.k = int(k)
    self.class_subset = None if class_subset is None else [int(c) for c in class_subset]

  def update_state(self, y_true, y_pred, sample_weight=None):
    topk = _top_k(y_pred, self.k, self.class_subset)
    labels = _class_indices(y_true, self)
    hit = formulas.in_label_sets(TENSORFLOW, topk, labels[:, None])
    self._add(hit, _example_mask(sample_weight, tf.shape(topk)[0]) & (labels >= 0))

  def get_config(self):
    return {**super().get_config(), "k": self.k, "class_subset": self.class_subset}


@keras.saving.register_keras_serializable(package="tfds_bench")
class ReaLAccuracy(_CountMetric):
  """ReaL top-k accuracy; `accuracy.real_correct` as counts.

  ``y_true``: int ``[B, L]`` ReaL label lists padded with -1 (an all -1 row
  has no ReaL label and is not counted). ``y_pred``: scores or top-k indices.

  >>> metric = ReaLAccuracy(k=1)
  >>> metric.update_state([[1, 2], [0, -1], [-1, -1]],
  ...                     [[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [1.0, 0.0, 0.0]])
  >>> float(metric.result())  # the third image has no ReaL label
  0.5
  """

  def __init__(self, k: int = 1, name: Optional[str] = None, **kwargs):
    super().__init__(name=name or f"real_top{k}", **kwargs)
    self.k = int(k)

  def update_state(self, y_true, y_pred, sample_weight=None):
    topk = _top_k(y_pred, self.k, None)
    label_sets = tf.cast(y_true, tf.int64)
    label_sets = tf.reshape(label_sets, [tf.shape(topk)[0], -1])
    has_labels = tf.reduce_any(label_sets >= 0, axis=1)
    hit = formulas.in_label_sets(TENSORFLOW, topk, label_sets)
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


@keras.saving.register_keras_serializable(package="tfds_bench")
class MultiLabelAccuracy(_Float64Metric):
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

  >>> metric = MultiLabelAccuracy("image_mean")
  >>> metric.update_state([[3, 0, 3, -1], [5, 0, 1005, -1], [7, 1, 7, -1]],
  ...                     [[3], [5], [0]])  # top-1 indices
  >>> float(metric.result())  # 5 is an unclear label; image 3 is problematic
  1.0
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
    right = formulas.in_label_sets(TENSORFLOW, top1[:, None], accepted)
    keep = (_example_mask(sample_weight, tf.shape(top1)[0]) & ~problematic
            & (original >= 0) & (original < NUM_CLASSES))
    kept_classes = tf.boolean_mask(original, keep)
    self.total.assign_add(tf.math.unsorted_segment_sum(
        tf.ones_like(kept_classes), kept_classes, NUM_CLASSES))
    self.correct.assign_add(tf.math.unsorted_segment_sum(
        tf.cast(tf.boolean_mask(right, keep), tf.int64), kept_classes, NUM_CLASSES))

  def result(self):
    if self.variant == "image_mean":
      return self._out(formulas.ratio(TENSORFLOW, tf.reduce_sum(self.correct),
                                      tf.reduce_sum(self.total), 0.0))
    return self._out(formulas.class_mean(TENSORFLOW, tf.convert_to_tensor(self.correct),
                                         tf.convert_to_tensor(self.total), 0.0))

  def get_config(self):
    return {**super().get_config(), "variant": self.variant}


@keras.saving.register_keras_serializable(package="tfds_bench")
class ExpectedCalibrationError(_Float64Metric):
  """ECE with equal-width bins; `calibration.expected_calibration_error`.

  ``y_true``: int class ``[B]`` / ``[B, 1]``. ``y_pred``: logits
  (``from_logits=True``) or probabilities ``[B, C]``. Confidence = max
  softmax (over ``class_subset`` only when given), correct = top-1 == label.
  State per bin: int64 count, int64 number correct, float64 confidence sum
  (exact up to the order of float64 summation).

  >>> metric = ExpectedCalibrationError(from_logits=False, num_bins=2)
  >>> metric.update_state([1, 1], [[0.2, 0.8], [0.4, 0.6]])
  >>> round(float(metric.result()), 6)  # right twice at mean confidence 0.7
  0.3
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
    labels = _class_indices(y_true, self)
    keep = _example_mask(sample_weight, tf.shape(top1)[0]) & (labels >= 0)
    confidence = tf.boolean_mask(confidence, keep)
    correct = tf.boolean_mask(tf.equal(top1, labels), keep)
    bins = formulas.equal_width_bins(TENSORFLOW, confidence, self.num_bins)
    self.bin_count.assign_add(tf.math.unsorted_segment_sum(
        tf.ones_like(bins), bins, self.num_bins))
    self.bin_correct.assign_add(tf.math.unsorted_segment_sum(
        tf.cast(correct, tf.int64), bins, self.num_bins))
    self.bin_confidence_sum.assign_add(tf.math.unsorted_segment_sum(
        confidence, bins, self.num_bins))

  def result(self):
    return self._out(formulas.ece_from_sums(
        TENSORFLOW, tf.convert_to_tensor(self.bin_count),
        tf.convert_to_tensor(self.bin_correct),
        tf.convert_to_tensor(self.bin_confidence_sum), 0.0))

  def get_config(self):
    return {**super().get_config(), "from_logits": self.from_logits,
            "num_bins": self.num_bins, "class_subset": self.class_subset}


class _OODHistogramMetric(_Float64Metric):
  """Histogram of max-softmax confidence for OOD (row 1) and in-dist (row 0).

  ``y_true``: 1 for an OOD (ImageNet-O) image, 0 for in-distribution, -1
  for padding, ``[B]`` or ``[B, 1]``. ``y_pred``: logits or probabilities ``[B, C]``;
  pass ``class_subset=label_spaces.get("imagenet_o").imagenet_indices`` for the 200 classes.
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
    targets = _class_indices(y_true, self)
    is_ood = tf.cast(tf.greater(targets, 0), tf.int64)
    keep = _example_mask(sample_weight, tf.shape(confidence)[0]) & (targets >= 0)
    bins = formulas.equal_width_bins(TENSORFLOW, tf.boolean_mask(confidence, keep),
                                     self.num_bins)
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


@keras.saving.register_keras_serializable(package="tfds_bench")
class OODAveragePrecision(_OODHistogramMetric):
  """AUPR (sklearn average precision, OOD positive); see `ood.aupr`.

  >>> metric = OODAveragePrecision(from_logits=False, num_bins=100)
  >>> metric.update_state([1, 0, 0], [[0.5, 0.5], [0.9, 0.1], [0.8, 0.2]])
  >>> float(metric.result())  # the OOD image is the least confident
  1.0
  """

  def __init__(self, *, from_logits: bool, name: str = "aupr", **kwargs):
    super().__init__(from_logits=from_logits, name=name, **kwargs)

  def result(self):
    positives, negatives = self._ascending_score_counts()
    return self._out(formulas.average_precision_from_histogram(
        TENSORFLOW, positives, negatives, 0.0))


@keras.saving.register_keras_serializable(package="tfds_bench")
class OODAUROC(_OODHistogramMetric):
  """AUROC (OOD positive, ties count 1/2); see `ood.auroc`.

  >>> metric = OODAUROC(from_logits=False, num_bins=100)
  >>> metric.update_state([1, 0, 0], [[0.5, 0.5], [0.9, 0.1], [0.5, 0.5]])
  >>> float(metric.result())  # one tie counts 1/2
  0.75
  """

  def __init__(self, *, from_logits: bool, name: str = "auroc", **kwargs):
    super().__init__(from_logits=from_logits, name=name, **kwargs)

  def result(self):
    positives, negatives = self._ascending_score_counts()
    return self._out(formulas.auroc_from_histogram(TENSORFLOW, positives, negatives, 0.0))


def _category_decisions(y_pred, averaging: tf.Tensor) -> tf.Tensor:
  """int64 [B]: the 16-class decision (`model_vs_human.sixteen_class_decisions`)."""
  means = formulas.category_means(TENSORFLOW, tf.convert_to_tensor(y_pred), averaging)
  return TENSORFLOW.top_k(means, 1)[:, 0]


# The label space whose categories the model-vs-human metrics default to.
MODEL_VS_HUMAN_SPACE = "model_vs_human_16"


class _CategoryMetric(_CountMetric):
  """Base: decisions over categories given as lists of 1000-class members
  (default: the 16 categories of label space ``model_vs_human_16``)."""

  def __init__(self, members: Optional[Sequence[Sequence[int]]], name: str, **kwargs):
    super().__init__(name=name, **kwargs)
    if members is None:
      members = label_spaces.get(MODEL_VS_HUMAN_SPACE).members
    self.members = [[int(i) for i in m] for m in members]
    self._averaging = tf.constant(model_vs_human.averaging_matrix(self.members))

  def get_config(self):
    return {**super().get_config(), "members": self.members}


@keras.saving.register_keras_serializable(package="tfds_bench")
class SixteenClassAccuracy(_CategoryMetric):
  """Accuracy of the 16-class decision (model-vs-human); counts.

  ``y_true``: int category index ``[B]`` / ``[B, 1]`` (-1: padding).
  ``y_pred``: softmax probabilities ``[B, 1000]``. ``members``: the
  categories' 1000-class indices (default: label space ``model_vs_human_16``). The decision is the category whose members' MEAN
  probability is highest.

  >>> metric = SixteenClassAccuracy(members=[[0], [1, 2]])
  >>> probs = np.zeros((3, 1000), np.float32)
  >>> probs[:, :3] = [[0.5, 0.3, 0.2], [0.3, 0.5, 0.0], [0.1, 0.9, 0.0]]
  >>> metric.update_state([0, 1, -1], probs)
  >>> float(metric.result())  # row 1: mean 0.25 < 0.3, so category 0
  0.5
  """

  def __init__(self, members: Optional[Sequence[Sequence[int]]] = None,
               name: str = "sixteen_class_accuracy", **kwargs):
    super().__init__(members, name=name, **kwargs)

  def update_state(self, y_true, y_pred, sample_weight=None):
    decisions = _category_decisions(y_pred, self._averaging)
    labels = _class_indices(y_true, self)
    counted = _example_mask(sample_weight, tf.shape(decisions)[0]) & (labels >= 0)
    self._add(tf.equal(decisions, labels), counted)


@keras.saving.register_keras_serializable(package="tfds_bench")
class ShapeBias(_CategoryMetric):
  """Shape bias on cue-conflict images (`model_vs_human.shape_bias`); counts.

  ``y_true``: int ``[B, 2]``, (shape category, texture category) per image,
  -1 rows for padding. ``y_pred``: softmax probabilities ``[B, 1000]``.
  Counts shape hits and texture hits over images whose two categories
  differ; the result is shape / (shape + texture), 0.0 before any hit.

  >>> metric = ShapeBias(members=[[0], [1], [2]])
  >>> probs = np.zeros((3, 1000), np.float32)
  >>> probs[:, :3] = [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.1, 0.9]]
  >>> metric.update_state([[0, 1], [0, 1], [0, 0]], probs)
  >>> float(metric.result())  # the third image has no conflict
  0.5
  """

  def __init__(self, members: Optional[Sequence[Sequence[int]]] = None, name: str = "shape_bias",
               **kwargs):
    super().__init__(members, name=name, **kwargs)

  def update_state(self, y_true, y_pred, sample_weight=None):
    decisions = _category_decisions(y_pred, self._averaging)
    y_true = tf.cast(tf.convert_to_tensor(y_true), tf.int64)
    if y_true.shape.rank != 2 or y_true.shape[1] != 2:
      raise ValueError(f"{type(self).__name__} ({self.name}) takes y_true [B, 2] "
                       f"(shape category, texture category), got shape {y_true.shape}")
    shape, texture = y_true[:, 0], y_true[:, 1]
    counted = (_example_mask(sample_weight, tf.shape(decisions)[0]) & (shape >= 0)
               & (texture >= 0) & tf.not_equal(shape, texture))
    shape_hit = tf.equal(decisions, shape)
    # correct = shape hits, total = shape hits + texture hits.
    self._add(shape_hit, counted & (shape_hit | tf.equal(decisions, texture)))


@keras.saving.register_keras_serializable(package="tfds_bench")
class OpenOODMetric(_Float64Metric):
  """One of OpenOOD v1.5's figures (`openood.OOD_METRIC_NAMES`) over a binned score.

  ``y_true``: 1 for an OOD image, 0 for in-distribution, -1 for padding
  (``[B]`` or ``[B, 1]``). ``y_pred``: logits ``[B, C]`` (probabilities with
  ``from_logits=False``, MSP only). The score (`openood.LOGIT_SCORE_NAMES`:
  ``msp``, ``max_logit``, ``energy``; higher = more in-distribution) of each
  image is counted in one of ``num_bins`` equal-width bins over
  ``score_range`` (scores outside it in the end bins): integer counts,
  summed across replicas. AUROC, the AUPRs and FPR@95 are functions of the
  whole ranking, which no fixed set of counts holds exactly; scores in one bin
  count as tied, which is the only difference from `openood.ood_metrics`
  (`openood.binned_ood_metrics` is the exact numpy twin of this state). MSP
  lies in [0, 1] and gets that range by default; max logit and energy are
  unbounded and need an explicit ``score_range`` covering the model's scores.

  >>> metric = OpenOODMetric("fpr95_openood", "msp", from_logits=False, num_bins=100)
  >>> metric.update_state([1, 0, 0], [[0.5, 0.5], [0.9, 0.1], [0.8, 0.2]])
  >>> float(metric.result())  # the OOD image is the least confident
  0.0
  """

  def __init__(self, metric: str = "auroc", score: str = "msp", *,
               from_logits: bool = True, score_range=None,
               num_bins: int = DEFAULT_OOD_HISTOGRAM_BINS, name: Optional[str] = None,
               **kwargs):
    if metric not in openood.OOD_METRIC_NAMES:
      raise ValueError(f"unknown OpenOOD metric {metric!r}; known: "
                       f"{', '.join(openood.OOD_METRIC_NAMES)}")
    if score not in openood.LOGIT_SCORE_NAMES:
      raise ValueError(f"unknown score {score!r}; known: "
                       f"{', '.join(openood.LOGIT_SCORE_NAMES)}")
    if not from_logits and score != "msp":
      raise ValueError(f"score {score!r} needs logits (from_logits=True)")
    if score_range is None:
      if score != "msp":
        raise ValueError(f"score {score!r} is unbounded: pass score_range=(low, high) "
                         "covering the model's scores")
      score_range = (0.0, 1.0)
    if not float(score_range[0]) < float(score_range[1]):
      raise ValueError(f"score_range must be (low, high) with low < high, got {score_range}")
    super().__init__(name=name or f"{metric}_{score}", **kwargs)
    self.metric, self.score = metric, score
    self.from_logits = bool(from_logits)
    self.score_range = (float(score_range[0]), float(score_range[1]))
    self.num_bins = int(num_bins)
    self.histogram = self.add_variable(shape=(2, self.num_bins), initializer="zeros",
                                       dtype="int64", name="histogram")

  def _scores(self, y_pred) -> tf.Tensor:
    scores = tf.cast(tf.convert_to_tensor(y_pred), tf.float64)
    if self.score == "msp":
      return formulas.max_softmax(TENSORFLOW, scores, from_logits=self.from_logits,
                                  renormalise=False)
    if self.score == "max_logit":
      return tf.reduce_max(scores, axis=1)
    return tf.reduce_logsumexp(scores, axis=1)

  def update_state(self, y_true, y_pred, sample_weight=None):
    scores = self._scores(y_pred)
    targets = _class_indices(y_true, self)
    keep = _example_mask(sample_weight, tf.shape(scores)[0]) & (targets >= 0)
    bins = openood.score_bins(TENSORFLOW, tf.boolean_mask(scores, keep),
                              self.score_range, self.num_bins)
    is_ood = tf.cast(tf.boolean_mask(targets, keep) > 0, tf.int64)
    flat = is_ood * self.num_bins + bins
    counts = tf.math.unsorted_segment_sum(tf.ones_like(flat), flat, 2 * self.num_bins)
    self.histogram.assign_add(tf.reshape(counts, [2, self.num_bins]))

  def result(self):
    histogram = tf.convert_to_tensor(self.histogram)
    id_counts, ood_counts = histogram[0], histogram[1]
    value = openood.FORMULAS[self.metric](TENSORFLOW, id_counts, ood_counts)
    has_both = (tf.reduce_sum(id_counts) > 0) & (tf.reduce_sum(ood_counts) > 0)
    return self._out(tf.where(has_both, value, tf.constant(0.0, tf.float64)))

  def get_config(self):
    return {**super().get_config(), "metric": self.metric, "score": self.score,
            "from_logits": self.from_logits, "score_range": list(self.score_range),
            "num_bins": self.num_bins}
class _PerClassMetric(_Float64Metric):
  """Base: int64 ``correct`` and ``total`` per class (`breakdown.class_counts`).

  ``y_true``: int class index ``[B]`` or ``[B, 1]`` (-1: padding; a label
  outside ``0 .. num_classes - 1`` is not counted). ``y_pred``: scores
  ``[B, C]`` or int top-k indices ``[B, >=k]``; with ``class_subset`` only
  those classes' scores are ranked (ImageNet-A / -R).
  """

  def __init__(self, k: int = 1, num_classes: int = NUM_CLASSES, name: Optional[str] = None,
               class_subset: Optional[Sequence[int]] = None, **kwargs):
    super().__init__(name=name, **kwargs)
    self.k = int(k)
    self.num_classes = int(num_classes)
    self.class_subset = None if class_subset is None else [int(c) for c in class_subset]
    self.correct = self.add_variable(shape=(self.num_classes,), initializer="zeros",
                                     dtype="int64", name="correct")
    self.total = self.add_variable(shape=(self.num_classes,), initializer="zeros",
                                   dtype="int64", name="total")

  def update_state(self, y_true, y_pred, sample_weight=None):
    topk = _top_k(y_pred, self.k, self.class_subset)
    labels = _class_indices(y_true, self)
    hit = formulas.in_label_sets(TENSORFLOW, topk, labels[:, None])
    keep = (_example_mask(sample_weight, tf.shape(topk)[0]) & (labels >= 0)
            & (labels < self.num_classes))
    kept = tf.boolean_mask(labels, keep)
    self.total.assign_add(tf.math.unsorted_segment_sum(
        tf.ones_like(kept), kept, self.num_classes))
    self.correct.assign_add(tf.math.unsorted_segment_sum(
        tf.cast(tf.boolean_mask(hit, keep), tf.int64), kept, self.num_classes))

  def get_config(self):
    return {**super().get_config(), "k": self.k, "num_classes": self.num_classes,
            "class_subset": self.class_subset}


@keras.saving.register_keras_serializable(package="tfds_bench")
class PerClassAccuracy(_PerClassMetric):
  """Top-k accuracy of each class, a vector ``[num_classes]``;
  `breakdown.per_class_accuracy` as counts. A class with no image reads 0.0
  (Keras's convention for an empty metric; its ``total`` is 0).

  >>> metric = PerClassAccuracy(k=1, num_classes=3)
  >>> metric.update_state([0, 0, 1, -1], [[0], [1], [1], [2]])  # top-1 indices
  >>> [float(v) for v in metric.result()]
  [0.5, 1.0, 0.0]
  """

  def __init__(self, k: int = 1, num_classes: int = NUM_CLASSES, name: Optional[str] = None,
               **kwargs):
    super().__init__(k=k, num_classes=num_classes, name=name or f"per_class_top{k}", **kwargs)

  def result(self):
    return self._out(formulas.ratio(TENSORFLOW, self.correct, self.total, 0.0))


@keras.saving.register_keras_serializable(package="tfds_bench")
class BalancedAccuracy(_PerClassMetric):
  """Mean over the classes with images of their top-k accuracy;
  `breakdown.balanced_accuracy` as counts.

  >>> metric = BalancedAccuracy(k=1, num_classes=3)
  >>> metric.update_state([0, 0, 1], [[0], [1], [1]])
  >>> float(metric.result())  # (1/2 + 1) / 2; class 2 has no image
  0.75
  """

  def __init__(self, k: int = 1, num_classes: int = NUM_CLASSES, name: Optional[str] = None,
               **kwargs):
    super().__init__(k=k, num_classes=num_classes, name=name or f"balanced_top{k}", **kwargs)

  def result(self):
    return self._out(formulas.class_mean(TENSORFLOW, tf.convert_to_tensor(self.correct),
                                         tf.convert_to_tensor(self.total), 0.0))


@keras.saving.register_keras_serializable(package="tfds_bench")
class WorstClassAccuracy(_PerClassMetric):
  """The lowest top-k accuracy of a class with images;
  `breakdown.worst_class_accuracy` as counts.

  >>> metric = WorstClassAccuracy(k=1, num_classes=3)
  >>> metric.update_state([0, 0, 1], [[0], [1], [1]])
  >>> float(metric.result())
  0.5
  """

  def __init__(self, k: int = 1, num_classes: int = NUM_CLASSES, name: Optional[str] = None,
               **kwargs):
    super().__init__(k=k, num_classes=num_classes, name=name or f"worst_class_top{k}",
                     **kwargs)

  def result(self):
    return self._out(formulas.class_min(TENSORFLOW, tf.convert_to_tensor(self.correct),
                                        tf.convert_to_tensor(self.total), 0.0))
