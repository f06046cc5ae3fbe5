"""Keras metrics under MirroredStrategy on two logical CPUs equal the pure functions.

The strategy runs in a fresh interpreter (conftest's `run_on_two_cpus`).
"""

import numpy as np
import pytest

from tfds_bench import labels as labels_lib
from tfds_bench import metrics

_SCRIPT = """
    import numpy as np
    import keras
    from tfds_bench.metrics import keras_metrics

    data = np.load(sys.argv[1])
    logits, labels, real, weight = data["logits"], data["labels"], data["real"], data["weight"]
    out = {}
    with strategy.scope():
      model = keras.Sequential([keras.Input((logits.shape[1],)), keras.layers.Identity()])
      top1 = keras_metrics.TopKAccuracy(1)
      top5 = keras_metrics.TopKAccuracy(5)
      ece = keras_metrics.ExpectedCalibrationError(from_logits=True)
      model.compile(loss=lambda y, p: tf.reduce_sum(p, -1) * 0.0,
                    weighted_metrics=[top1, top5, ece])
    ds = tf.data.Dataset.from_tensor_slices((logits, labels, weight)).batch(16)
    out["single"] = model.evaluate(ds, return_dict=True, verbose=0)
    out["top1_counts"] = [int(top1.correct.numpy()), int(top1.total.numpy())]
    out["ece_bin_count"] = ece.bin_count.numpy().tolist()
    with strategy.scope():
      real_metric = keras_metrics.ReaLAccuracy(1)
      model.compile(loss=lambda y, p: tf.reduce_sum(p, -1) * 0.0, metrics=[real_metric])
    ds = tf.data.Dataset.from_tensor_slices((logits, real)).batch(16)
    out["real"] = model.evaluate(ds, return_dict=True, verbose=0)
    out["real_counts"] = [int(real_metric.correct.numpy()), int(real_metric.total.numpy())]
    report(out)
"""


def test_mirrored_strategy_counts_equal_single_device(tmp_path, run_on_two_cpus):
  rng = np.random.default_rng(0)
  n, padded = 101, 112  # 7 batches of 16, the last one padded
  logits = (rng.normal(size=(padded, 1000)) * 3).astype(np.float32)
  labels = rng.integers(0, 1000, padded)
  logits[np.arange(0, padded, 2), labels[::2]] += 20
  weight = (np.arange(padded) < n).astype(np.float32)
  real = labels_lib.pad_label_lists(labels_lib.real_labels()[:padded], 6)
  real[n:] = -1  # ReaL targets of padding are -1 rows
  np.savez(tmp_path / "data.npz", logits=logits, labels=labels, real=real, weight=weight)
  out = run_on_two_cpus(_SCRIPT, tmp_path / "data.npz", timeout=300)
  assert out["replicas"] == 2

  valid_logits, valid_labels = logits[:n], labels[:n]
  correct1 = metrics.topk_correct(valid_logits, valid_labels, 1)
  assert out["top1_counts"] == [int(correct1.sum()), n]
  assert out["single"]["top1"] == pytest.approx(correct1.mean(), rel=1e-12)
  assert out["single"]["top5"] == pytest.approx(
      metrics.topk_correct(valid_logits, valid_labels, 5).mean(), rel=1e-12)
  confidence, top1 = metrics.softmax_confidence(valid_logits, from_logits=True)
  assert out["single"]["ece"] == pytest.approx(
      metrics.expected_calibration_error(confidence, top1 == valid_labels), rel=1e-12)
  assert out["ece_bin_count"] == metrics.reliability_diagram(
      confidence, top1 == valid_labels)["bin_count"].tolist()
  correct, valid = metrics.real_correct(logits, real, 1)
  assert out["real_counts"] == [int(correct.sum()), int(valid.sum())]
  assert out["real"]["real_top1"] == pytest.approx(correct.sum() / valid.sum(), rel=1e-12)
