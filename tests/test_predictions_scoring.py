"""Scoring saved predictions, and the same numbers three ways: the library,
a --predictions file, and Keras model.evaluate with our metric classes."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfds_bench import benchmark_table, errors, evaluate, input_pipeline, labels, metrics, models
from tfds_bench import predictions as predictions_lib
from tfds_bench.scoring import rows as scoring_rows


def _val_names(numbers):
  return np.array([f"ILSVRC2012_val_{i:08d}.JPEG" for i in numbers])


def _save(path, **arrays):
  np.savez(path, **arrays)
  return str(path)


@pytest.mark.parametrize("arrays,message", [
    (dict(logits=np.zeros((3, 1000))), "no 'file_name'"),
    (dict(file_name=_val_names([1, 2, 3]), logits=np.zeros((2, 1000))), "expected (3, ...)"),
    (dict(file_name=_val_names([1, 1, 3]), logits=np.zeros((3, 1000))), "duplicate file names"),
    (dict(file_name=_val_names([1, 2]), logits=np.zeros((2, 1001))), "1001 columns"),
    (dict(file_name=_val_names([1, 2]), logits=np.array([[np.nan] * 1000, [0] * 1000])),
     "NaN or inf scores for 1 image"),
    (dict(file_name=_val_names([1, 2]), probs=-np.ones((2, 1000))), "negative"),
    (dict(file_name=_val_names([1, 2])), "exactly one of"),
    (dict(file_name=_val_names([1, 2]), logits=np.zeros((2, 1000)), top5=np.zeros((2, 5), int)),
     "exactly one of"),
    (dict(file_name=_val_names([1, 2]), top5=np.full((2, 5), 1000)), "outside 0..999"),
    (dict(file_name=_val_names([1, 2]), top5=np.zeros((2, 5)), ), "integer class indices"),
    (dict(file_name=_val_names([1, 2]), top5=np.zeros((2, 5), int), label=np.zeros(3, int)),
     "'label' has shape"),
    # Inputs that cannot be what they claim: a one-column "top5" (would be
    # reported as top-5 while being top-1), probabilities that do not sum to 1.
    (dict(file_name=_val_names([1, 2]), top5=np.zeros((2, 1), int)),
     "'top5' has 1 column(s), so top-5 accuracy cannot be computed"),
    (dict(file_name=_val_names([1, 2]), probs=np.full((2, 1000), 0.5)),
     "'probs' rows must sum to 1, but 2 do not"),
    (dict(file_name=np.array([b"\xff.jpg", b"b.jpg"])), "bytes that are not UTF-8"),
])
def test_bad_predictions_files_are_clear_errors(tmp_path, arrays, message):
  path = _save(tmp_path / "p.npz", **arrays)
  with pytest.raises(errors.UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
    predictions_lib.load_npz(path)


def test_probabilities_stored_as_float16_are_accepted(tmp_path):
  probs = np.full((2, 1000), 1 / 1000, np.float16)  # rows sum to 1 only within ~1e-3
  path = _save(tmp_path / "p.npz", file_name=_val_names([1, 2]), probs=probs)
  assert len(predictions_lib.load_npz(path)) == 2


def test_a_benchmark_named_twice_is_scored_once(tmp_path):
  path = _save(tmp_path / "p.npz", file_name=_val_names([1, 2]), top5=np.zeros((2, 5), int))
  run = evaluate.score_predictions(predictions_lib.load_npz(path),
                                   ["imagenet2012", "imagenet2012"], "p")
  keys = [(r.benchmark, r.metric) for r in run.results]
  assert len(keys) == len(set(keys)) and run.provenance["benchmarks"] == ["imagenet2012"]


def test_unknown_val_file_name_is_an_error(tmp_path):
  path = _save(tmp_path / "p.npz", file_name=np.array(["cat.jpg"]), top5=np.zeros((1, 5), int))
  loaded = predictions_lib.load_npz(path)
  with pytest.raises(errors.UserError, match="cat.jpg"):
    evaluate.score_predictions(loaded, ["imagenet2012"], "p")


def test_val_and_real_from_top5_equal_an_independent_count(tmp_path):
  rng = np.random.default_rng(0)
  numbers = rng.choice(50000, 3000, replace=False) + 1
  truth = labels.val_labels()[numbers - 1]
  top5 = rng.integers(0, 1000, (3000, 5))
  top5[:1500, 0] = truth[:1500]            # half right at top-1
  top5[1500:2000, 3] = truth[1500:2000]    # some right at rank 4
  path = _save(tmp_path / "my_model.npz", file_name=_val_names(numbers), top5=top5)
  run = evaluate.score_predictions(predictions_lib.load_npz(path),
                                   ["imagenet2012", "imagenet2012_real"], "my_model")
  got = {(r.benchmark, r.metric): (r.value, r.n) for r in run.results}
  # Independent reference: plain loops over the shipped label files.
  real = json.loads(labels.data_path("real.json").read_text())
  top1 = sum(top5[i, 0] == truth[i] for i in range(3000)) / 3000
  in5 = sum(truth[i] in top5[i] for i in range(3000)) / 3000
  with_real = [i for i in range(3000) if real[numbers[i] - 1]]
  real1 = sum(top5[i, 0] in real[numbers[i] - 1] for i in with_real) / len(with_real)
  real5 = sum(bool(set(top5[i]) & set(real[numbers[i] - 1])) for i in with_real) / len(with_real)
  assert got[("imagenet2012", "top1")] == (pytest.approx(top1, abs=1e-12), 3000)
  assert got[("imagenet2012", "top5")] == (pytest.approx(in5, abs=1e-12), 3000)
  assert got[("imagenet2012_real", "top1")] == (pytest.approx(real1, abs=1e-12), len(with_real))
  assert got[("imagenet2012_real", "top5")] == (pytest.approx(real5, abs=1e-12), len(with_real))
  assert len(with_real) < 3000  # the sample includes images with an empty ReaL list


def test_a_label_column_that_disagrees_with_val_is_an_error(tmp_path):
  path = _save(tmp_path / "p.npz", file_name=_val_names([2]), top5=np.zeros((1, 5), int),
               label=np.array([5]))  # val image 2 is class 970
  with pytest.raises(errors.UserError, match="disagrees"):
    evaluate.score_predictions(predictions_lib.load_npz(path), ["imagenet2012"], "p")


@pytest.fixture(scope="module")
def folder_run(cat_and_coffee_folder, lite0_model):
  """Logits of the default model on the folder, and the library's results."""
  spec = models.get("efficientnet")
  dataset = input_pipeline.load_image_folder(cat_and_coffee_folder)
  batches = list(input_pipeline.batches(dataset, spec.preprocessing, batch_size=3))
  logits, names, label, mask = [], [], [], []
  for b in batches:
    logits.append(lite0_model(b["image"]).numpy())
    names.append(b["file_name"].numpy())
    label.append(b["label"].numpy())
    mask.append(b["mask"].numpy())
  keep = np.concatenate(mask) > 0
  library = evaluate.predict_source(dataset, lite0_model, spec, batch_size=3)
  row = benchmark_table.get("image_folder")
  results = scoring_rows.score_row(row, {row.sources[0].key: library}, with_intervals=False)
  return {"logits": np.concatenate(logits)[keep], "file_name": np.concatenate(names)[keep],
          "label": np.concatenate(label)[keep], "results": results, "batches": batches}


def test_library_predictions_file_and_keras_evaluate_agree(folder_run, tmp_path, lite0_model):
  library = {r.metric: r.value for r in folder_run["results"]}
  path = _save(tmp_path / "lite0.npz", file_name=folder_run["file_name"].astype(str),
               logits=folder_run["logits"], label=folder_run["label"])
  scored = evaluate.score_predictions(predictions_lib.load_npz(path), ["image_folder"], "lite0")
  from_file = {r.metric: r.value for r in scored.results}
  assert from_file == pytest.approx(library, abs=1e-6)

  lite0_model.compile(
      # ignore_class=-1: padding rows of the last batch carry label -1.
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
      weighted_metrics=[metrics.TopKAccuracy(1, name="top1"), metrics.TopKAccuracy(5, name="top5"),
                        metrics.ExpectedCalibrationError(from_logits=True, name="ece")])
  # The same padded batches the library saw (2 images, batch 3: one padding row).
  ds = tf.data.Dataset.from_tensor_slices(
      {k: np.concatenate([b[k].numpy() for b in folder_run["batches"]])
       for k in ("image", "label", "mask")}).batch(3)
  evaluated = lite0_model.evaluate(input_pipeline.keras_inputs(ds), return_dict=True, verbose=0)
  assert evaluated["top1"] == pytest.approx(library["top1"], abs=1e-6)
  assert evaluated["top5"] == pytest.approx(library["top5"], abs=1e-6)
  assert evaluated["ece"] == pytest.approx(library["ece"], abs=1e-5)


def test_bench_main_scores_a_predictions_file(tmp_path, quiet_tf_env):
  numbers = np.arange(1, 101)
  logits = np.zeros((100, 1000), np.float32)
  logits[np.arange(100), labels.val_labels()[:100]] = 5.0
  logits[:10, 0] = 9.0  # the first ten images wrong
  path = _save(tmp_path / "oracle.npz", file_name=_val_names(numbers), logits=logits)
  proc = subprocess.run([sys.executable, "-m", "tfds_bench.bench_main", f"--predictions={path}",
                         "--benchmarks=imagenet2012,imagenet2012_real",
                         f"--output_dir={tmp_path / 'out'}"],
                        capture_output=True, text=True, env=quiet_tf_env, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  records = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
  top1 = [r for r in records if r["benchmark"] == "imagenet2012" and r["metric"] == "top1"][0]
  assert top1 == {**top1, "model": "oracle", "value": 0.9, "n": 100}


def test_real_benchmark_reports_soft_accuracy_and_the_threshold_curve(tmp_path):
  from tfds_bench import real_scores
  rng = np.random.default_rng(3)
  numbers = rng.choice(50000, 2000, replace=False) + 1
  truth = labels.val_labels()[numbers - 1]
  top5 = rng.integers(0, 1000, (2000, 5))
  top5[:1200, 0] = truth[:1200]
  names = _val_names(numbers)
  path = _save(tmp_path / "p.npz", file_name=names, top5=top5)
  run = evaluate.score_predictions(predictions_lib.load_npz(path), ["imagenet2012_real"], "p",
                                   options=evaluate.ScoringOptions(real_threshold=0.5))
  got = {r.metric: (r.value, r.n) for r in run.results}
  # real.json is the 0.8 operating point: the curve passes through ReaL top-1.
  assert got["top1_at_threshold/0.80"] == got["top1"]
  assert got["soft_top1"][0] == pytest.approx(real_scores.soft_accuracy(top5[:, 0], names))
  correct, valid = real_scores.real_correct_at(top5, names, 0.5, k=1)
  assert got["top1_threshold_0.5"] == (pytest.approx(correct[valid].mean()), int(valid.sum()))
  assert len([m for m in got if m.startswith("top1_at_threshold/")]) == 19
