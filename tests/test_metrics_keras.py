"""Keras metric classes: equal to the pure functions, in compile/evaluate too."""

import copy

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfds_bench import labels as labels_lib
from tfds_bench import label_spaces
from tfds_bench import metrics
from tfds_bench.metrics import keras_metrics

BATCH = 16


def _batches(arrays, batch=BATCH):
  """Yields (arrays..., weight) batches; the final one padded with garbage, weight 0."""
  n = len(arrays[0])
  for start in range(0, n, batch):
    chunk = [a[start:start + batch] for a in arrays]
    pad = batch - len(chunk[0])
    weight = np.concatenate([np.ones(len(chunk[0])), np.zeros(pad)]).astype(np.float32)
    chunk = [np.concatenate([c, np.full((pad,) + c.shape[1:], -1, c.dtype)
                             if np.issubdtype(c.dtype, np.integer)
                             else np.full((pad,) + c.shape[1:], 7.0, c.dtype)])
             for c in chunk]
    yield chunk + [weight]


def _feed(metric, y_true, y_pred):
  for yt, yp, w in _batches([y_true, y_pred]):
    metric.update_state(tf.constant(yt), tf.constant(yp), sample_weight=tf.constant(w))
  # An all-padding batch changes nothing.
  metric.update_state(tf.constant(yt), tf.constant(yp), sample_weight=tf.zeros([BATCH]))
  return float(metric.result())


def _data(seed=0, n=101, c=1000):
  rng = np.random.default_rng(seed)
  logits = (rng.normal(size=(n, c)) * 3).astype(np.float32)
  labels = rng.integers(0, c, n)
  hits = rng.random(n) < 0.5
  logits[hits, labels[hits]] += 20.0
  return logits, labels


def test_are_tf_keras_metrics():
  for cls in (keras_metrics.TopKAccuracy, keras_metrics.ReaLAccuracy,
              keras_metrics.MultiLabelAccuracy, keras_metrics.ExpectedCalibrationError,
              keras_metrics.OODAveragePrecision, keras_metrics.OODAUROC):
    assert issubclass(cls, tf.keras.metrics.Metric)
    assert issubclass(cls, keras.metrics.Metric)
  assert metrics.TopKAccuracy is keras_metrics.TopKAccuracy


def test_empty_metric_is_zero_and_reset():
  metric = keras_metrics.TopKAccuracy(1)
  assert float(metric.result()) == 0.0
  metric.update_state(tf.constant([1]), tf.constant([[0.0, 1.0]]))
  assert float(metric.result()) == 1.0
  metric.reset_state()
  assert int(metric.total) == 0 and float(metric.result()) == 0.0
  # All weights zero: nothing counted, for every metric.
  for metric in _all_metrics():
    targets = _targets_for(metric, np.array([1, 2]))
    metric.update_state(targets, tf.constant(_data(0, 2, 1000)[0]), sample_weight=tf.zeros([2]))
    assert float(metric.result()) == 0.0, metric.name


@pytest.mark.parametrize("k", [1, 5])
def test_top_k_equals_pure(k):
  logits, labels = _data(1)
  got = _feed(keras_metrics.TopKAccuracy(k), labels, logits)
  assert got == metrics.topk_correct(logits, labels, k).mean()
  subset = label_spaces.get("imagenet_r").imagenet_indices
  labels_r = subset[labels % 200]
  got = _feed(keras_metrics.TopKAccuracy(k, class_subset=subset), labels_r, logits)
  assert got == metrics.topk_correct(metrics.subset_top_k(logits, subset, k), labels_r, k).mean()


def test_top_k_ties_and_index_predictions():
  scores = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]], np.float32)
  metric = keras_metrics.TopKAccuracy(1)
  metric.update_state(tf.constant([1, 0]), tf.constant(scores))
  assert int(metric.correct) == 2
  metric = keras_metrics.TopKAccuracy(2)
  metric.update_state(tf.constant([[2], [2]]), tf.constant(scores))  # [B, 1] labels
  assert int(metric.correct) == 1  # row 2: top-2 is {0, 1}
  metric = keras_metrics.TopKAccuracy(5)
  topk = metrics.top_k_indices(_data(2)[0], 5)
  labels = _data(2)[1]
  assert _feed(metric, labels, topk) == metrics.topk_correct(topk, labels, 5).mean()


@pytest.mark.parametrize("k", [1, 5])
def test_real_equals_pure(k):
  logits, _ = _data(3)
  real = labels_lib.pad_label_lists(labels_lib.real_labels()[:len(logits)], 6)
  for i in range(0, len(logits), 3):  # make some right
    if real[i, 0] >= 0:
      logits[i, real[i, 0]] += 50
  correct, valid = metrics.real_correct(logits, real, k)
  metric = keras_metrics.ReaLAccuracy(k)
  assert _feed(metric, real, logits) == correct.sum() / valid.sum()
  assert int(metric.total) == valid.sum() and (~valid).any()


@pytest.mark.parametrize("variant", ["class_mean", "image_mean", "correct_only_class_mean"])
def test_multilabel_equals_pure(variant):
  rng = np.random.default_rng(4)
  n = 150
  logits, original = _data(4, n)
  top1 = np.argmax(logits, 1)
  correct = [[o] + ([int(top1[i])] if i % 5 == 0 else []) for i, o in enumerate(original)]
  unclear = [[int(top1[i])] if i % 7 == 0 else [] for i in range(n)]
  problematic = rng.random(n) < 0.2
  expected = metrics.multilabel_accuracy(logits, correct, unclear, original, problematic)
  targets = metrics.encode_multilabel_targets(original, problematic, correct, unclear, width=8)
  got = _feed(keras_metrics.MultiLabelAccuracy(variant), targets, logits)
  assert got == pytest.approx(expected[variant], rel=1e-12)


def test_encode_multilabel_target_tf_matches_numpy():
  row = keras_metrics.encode_multilabel_target(
      tf.constant(3), tf.constant(True), tf.constant([3, 5]), tf.constant([6]), width=6)
  np.testing.assert_array_equal(row.numpy(), metrics.encode_multilabel_targets(
      np.array([3]), np.array([True]), [[3, 5]], [[6]], width=6)[0])


@pytest.mark.parametrize("from_logits", [True, False])
def test_ece_equals_pure(from_logits):
  logits, labels = _data(5, 400, 50)
  logits /= 3
  scores = logits if from_logits else tf.nn.softmax(logits).numpy()
  confidence, top1 = metrics.softmax_confidence(scores, from_logits=from_logits)
  metric = keras_metrics.ExpectedCalibrationError(from_logits=from_logits)
  got = _feed(metric, labels, scores)
  assert got == pytest.approx(metrics.expected_calibration_error(confidence, top1 == labels),
                              rel=1e-12)
  np.testing.assert_array_equal(
      metric.bin_count.numpy(),
      metrics.reliability_diagram(confidence, top1 == labels)["bin_count"])


def test_ece_with_class_subset():
  logits, labels = _data(6, 120)
  subset = label_spaces.get("imagenet_a").imagenet_indices
  labels = subset[labels % 200]
  confidence, top1 = metrics.softmax_confidence(logits, from_logits=True, class_subset=subset)
  got = _feed(keras_metrics.ExpectedCalibrationError(from_logits=True, class_subset=subset),
              labels, logits)
  assert got == pytest.approx(metrics.expected_calibration_error(confidence, top1 == labels),
                              rel=1e-12)


def test_ood_metrics_equal_pure_histogram_and_close_to_exact():
  subset = label_spaces.get("imagenet_o").imagenet_indices
  logits, _ = _data(7, 300)
  is_ood = (np.arange(300) % 3 == 0).astype(np.int64)
  logits[is_ood == 1] /= 4  # OOD images less confident
  num_bins = 4096
  confidence, _ = metrics.softmax_confidence(logits, from_logits=True, class_subset=subset)
  histogram = metrics.confidence_histogram(confidence, is_ood, num_bins)
  ap = _feed(keras_metrics.OODAveragePrecision(from_logits=True, class_subset=subset,
                                               num_bins=num_bins), is_ood, logits)
  roc = _feed(keras_metrics.OODAUROC(from_logits=True, class_subset=subset, num_bins=num_bins),
              is_ood, logits)
  assert ap == pytest.approx(metrics.average_precision_from_histogram(*histogram), rel=1e-12)
  assert roc == pytest.approx(metrics.auroc_from_histogram(*histogram), rel=1e-12)
  scores = metrics.ood_scores(logits, from_logits=True, class_subset=subset)
  assert ap == pytest.approx(metrics.aupr(scores, is_ood), abs=2e-3)
  assert roc == pytest.approx(metrics.auroc(scores, is_ood), abs=2e-3)


def _padded_dataset(x, y, batch=BATCH):
  """Like the input pipeline: final batch padded, padding masked by weight 0."""
  chunks = list(_batches([x, y], batch))
  xs = np.concatenate([c[0] for c in chunks])
  ys = np.concatenate([c[1] for c in chunks])
  ws = np.concatenate([c[2] for c in chunks])
  return tf.data.Dataset.from_tensor_slices((xs, ys, ws)).batch(batch)


def _zero_loss(y_true, y_pred):
  # Ignores the targets (which may be -1 padded): evaluate() only needs a loss.
  return tf.reduce_sum(y_pred, axis=-1) * 0.0


@pytest.mark.parametrize("mask_by", ["label", "weight"])
def test_compile_evaluate_matches_pure(mask_by):
  logits, labels = _data(8, 101)
  real = labels_lib.pad_label_lists(labels_lib.real_labels()[:101], 6)
  model = keras.Sequential([keras.Input((1000,)), keras.layers.Identity()])

  def evaluate(targets, metric_list):
    dataset = _padded_dataset(logits, targets)
    if mask_by == "label":
      # Keras 3 gives sample weights to weighted_metrics only: mask by -1 targets.
      model.compile(loss=_zero_loss, metrics=metric_list)
    else:
      # Padding carries a VALID label: only the weight masks it.
      dataset = dataset.map(lambda x, y, w: (x, tf.where(w[:, None] > 0 if y.shape.rank == 2
                                                         else w > 0, y, tf.zeros_like(y)), w))
      model.compile(loss=_zero_loss, weighted_metrics=metric_list)
    return model.evaluate(dataset, return_dict=True, verbose=0)

  result = evaluate(labels, [keras_metrics.TopKAccuracy(1), keras_metrics.TopKAccuracy(5),
                             keras_metrics.ExpectedCalibrationError(from_logits=True)])
  assert result["top1"] == metrics.topk_correct(logits, labels, 1).mean()
  assert result["top5"] == metrics.topk_correct(logits, labels, 5).mean()
  confidence, top1 = metrics.softmax_confidence(logits, from_logits=True)
  assert result["ece"] == pytest.approx(
      metrics.expected_calibration_error(confidence, top1 == labels), rel=1e-12)

  result = evaluate(real, [keras_metrics.ReaLAccuracy(1)])
  correct, valid = metrics.real_correct(logits, real, 1)
  assert result["real_top1"] == correct.sum() / valid.sum()


def _all_metrics(dtype="float64"):
  subset = label_spaces.get("imagenet_o").imagenet_indices
  return [
      keras_metrics.TopKAccuracy(1, dtype=dtype),
      keras_metrics.TopKAccuracy(5, name="top5_r", class_subset=subset, dtype=dtype),
      keras_metrics.ReaLAccuracy(1, dtype=dtype),
      keras_metrics.MultiLabelAccuracy("class_mean", dtype=dtype),
      keras_metrics.ExpectedCalibrationError(from_logits=True, dtype=dtype),
      keras_metrics.OODAveragePrecision(from_logits=True, class_subset=subset, num_bins=512,
                                        dtype=dtype),
      keras_metrics.OODAUROC(from_logits=True, class_subset=subset, num_bins=512, dtype=dtype),
  ]


def _targets_for(metric, labels):
  """Targets in the metric's format for class labels (an int array)."""
  if isinstance(metric, keras_metrics.ReaLAccuracy):
    return np.stack([labels, np.full_like(labels, -1)], axis=1)
  if isinstance(metric, keras_metrics.MultiLabelAccuracy):
    return metrics.encode_multilabel_targets(labels, labels % 5 == 0, labels[:, None],
                                             np.full((len(labels), 1), -1), width=4)
  if isinstance(metric, keras_metrics._OODHistogramMetric):  # pylint: disable=protected-access
    return (labels % 3 == 0).astype(np.int64)
  return labels


def test_doctest_examples_run():
  import doctest  # pylint: disable=g-import-not-at-top
  failures, tried = doctest.testmod(keras_metrics, verbose=False)
  assert tried >= 6 and failures == 0


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_result_dtype_is_the_metric_dtype(dtype):
  logits, labels = _data(9, 40)
  for metric in _all_metrics(dtype):
    metric.update_state(_targets_for(metric, labels), logits)
    assert metric.result().dtype == dtype, metric.name
    assert metric.dtype == dtype


def test_config_round_trip_deepcopy_and_registration():
  logits, labels = _data(10, 60)
  for metric in _all_metrics():
    name = keras.saving.get_registered_name(type(metric))
    assert name == f"tfds_bench>{type(metric).__name__}"
    clone = type(metric).from_config(metric.get_config())
    assert clone.get_config() == metric.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(restored) is type(metric)
    metric.update_state(_targets_for(metric, labels), logits)
    value = float(metric.result())
    copied = copy.deepcopy(metric)
    assert float(copied.result()) == value and copied.get_config() == metric.get_config()
    copied.reset_state()  # the copy's counts are its own
    assert float(copied.result()) == 0.0 and float(metric.result()) == value


def test_one_hot_targets_are_refused_with_the_fix():
  logits, labels = _data(11, 8, 10)
  one_hot = np.eye(10, dtype=np.float32)[labels]
  for metric in (keras_metrics.TopKAccuracy(1),
                 keras_metrics.ExpectedCalibrationError(from_logits=True),
                 keras_metrics.OODAUROC(from_logits=True)):
    with pytest.raises(ValueError, match="one-hot.*keras.ops.argmax"):
      metric.update_state(one_hot, logits)


@keras.saving.register_keras_serializable(package="tfds_bench_tests")
def zero_loss(y_true, y_pred):
  """A loss for evaluate() that ignores targets of any shape (registered by
  the test, so the metrics alone decide whether custom_objects is needed)."""
  del y_true
  return tf.reduce_sum(y_pred, axis=-1) * 0.0


def test_saved_model_loads_without_custom_objects(tmp_path):
  logits, labels = _data(12, 70)
  results = {}
  for metric in _all_metrics():
    targets = _targets_for(metric, labels)
    model = keras.Sequential([keras.Input((1000,)), keras.layers.Identity()])
    model.compile(loss=zero_loss, metrics=[metric])
    dataset = tf.data.Dataset.from_tensor_slices((logits, targets)).batch(BATCH)
    before = model.evaluate(dataset, return_dict=True, verbose=0)
    path = tmp_path / f"{metric.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    after = loaded.evaluate(dataset, return_dict=True, verbose=0)
    assert after == before, metric.name
    results[metric.name] = after
  assert len(results) == 7
