"""Per-class, metaclass and ImageNet-X factor figures against independent counts.

ImageNet-X's annotations are CC BY-NC and not shipped: every test writes
synthetic files in the layout of the ``imagenet-x`` 0.0.7 package
(``imagenet_x/annotations/``), and the reference figures are computed here
with pandas / plain loops, the way the package defines them (error ratio =
(1 - accuracy on the images with the factor) / (1 - accuracy on all the
annotated images), prototypes dropped), not with our code.
"""

import csv
import json
import os

import numpy as np
import pandas as pd
import pytest

from tfds_bench import benchmark_table, errors, imagenet_x, label_spaces, labels, metrics
from tfds_bench import predictions as predictions_lib
from tfds_bench.benchmark_types import ScoringContext, ScoringOptions
from tfds_bench.metrics import breakdown
from tfds_bench.scoring import breakdown as scoring

FACTORS = ["pose", "background", "pattern", "color", "smaller", "shape", "partial_view",
           "subcategory", "texture", "larger", "darker", "object_blocking", "person_blocking",
           "style", "brighter", "multiple_objects"]
# A few of the 100 metaclass names of the package's CSV, some of them pooled
# into "other" by ImageNet-X.
METACLASS_NAMES = ["fish", "bird", "dog", "device", "ungulate", "food", "vessel", "tool"]


def _val_names(n):
  return np.array([f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(n)])


def write_synthetic_imagenet_x(folder, file_names, label, seed=0, prototypes=300,
                               prototypes_elsewhere=30):
  """The package's four files for ``file_names`` (their class ``label``).

  Factor frequencies are skewed like the real ones (a few factors on
  ~40 images); in "top" each image carries one factor (a few none), in
  "multi" that one plus random others. Returns the prototype file names.
  """
  rng = np.random.default_rng(seed)
  os.makedirs(folder, exist_ok=True)
  n = len(file_names)
  weights = np.array([15, 15, 6, 6, 1.5, 0.7, 0.6, 0.6, 0.3, 0.15, 0.12, 0.08, 0.06,
                      0.05, 0.05, 0.04])
  top = rng.choice(len(FACTORS), n, p=weights / weights.sum())
  multi_extra = rng.random((n, len(FACTORS))) < 0.15
  none = rng.random(n) < 0.001
  for which in ("top", "multi"):
    path = os.path.join(folder, f"imagenet_x_val_{which}_factor.jsonl")
    with open(path, "w", encoding="utf-8") as f:
      for i in range(n):
        row = {"file_name": str(file_names[i]), "class": int(label[i])}
        for j, factor in enumerate(FACTORS):
          carried = (j == top[i]) or (which == "multi" and multi_extra[i, j])
          row[factor] = int(carried and not none[i])
        row["justification"] = "synthetic"
        row["one_word"] = "synthetic"
        f.write(json.dumps(row) + "\n")
  chosen = list(rng.choice(file_names, prototypes, replace=False))
  chosen += [f"ILSVRC2012_val_{90000000 + i:08d}.JPEG" for i in range(prototypes_elsewhere)]
  with open(os.path.join(folder, "prototypical_paths.csv"), "w", encoding="utf-8") as f:
    f.write("file_name\n" + "".join(name + "\n" for name in chosen))
  with open(os.path.join(folder, "imagenet_1k_classes_to_100_metaclasses.csv"), "w",
            encoding="utf-8", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["wnid", "name", "metaclass"])
    for c in range(labels.NUM_CLASSES):
      name = METACLASS_NAMES[(c * 7) % len(METACLASS_NAMES)]
      writer.writerow([f"n{c:08d}", name, METACLASS_NAMES.index(name)])
  return set(chosen)


def _synthetic_val(n, seed=1, accuracy=0.75):
  """Labels and top-5 (distinct classes) with about ``accuracy`` top-1, class-dependent."""
  rng = np.random.default_rng(seed)
  label = rng.integers(0, labels.NUM_CLASSES, n)
  # Five distinct classes per row: a random start and four distinct offsets.
  offsets = np.argsort(rng.random((n, labels.NUM_CLASSES - 1)), axis=1)[:, :4] + 1 \
      if n <= 5000 else np.array([1, 2, 3, 4]) * rng.integers(1, 200, (n, 1))
  first = rng.integers(0, labels.NUM_CLASSES, n)
  top5 = np.concatenate([first[:, None], (first[:, None] + offsets) % labels.NUM_CLASSES], 1)
  top5[np.any(top5 == label[:, None], axis=1)] = (label[:, None] + np.arange(1, 6))[
      np.any(top5 == label[:, None], axis=1)] % labels.NUM_CLASSES
  skill = rng.uniform(accuracy - 0.25, accuracy + 0.2, labels.NUM_CLASSES)
  right = rng.random(n) < skill[label]
  top5[right, 0] = label[right]
  second = ~right & (rng.random(n) < 0.4)
  top5[second, 2] = label[second]
  return label.astype(np.int64), top5.astype(np.int64)


def _package_reference(folder, which, file_names, correct):
  """ImageNet-X's figures computed as its package defines them, with pandas."""
  annotations = pd.read_json(os.path.join(folder, f"imagenet_x_val_{which}_factor.jsonl"),
                             lines=True)
  prototypes = pd.read_csv(os.path.join(folder, "prototypical_paths.csv"))
  annotations = annotations[~annotations.file_name.isin(prototypes.file_name)]
  model = pd.DataFrame({"file_name": file_names, "is_correct": correct})
  merged = annotations.merge(model, on="file_name", how="inner")
  factor_correct = merged[merged.is_correct][FACTORS].sum()
  factor_total = merged[FACTORS].sum()
  accuracy = factor_correct / factor_total
  average = merged.is_correct.mean()
  return accuracy, (1 - accuracy) / (1 - average), merged


# --- pure functions -----------------------------------------------------------

def test_per_class_figures_equal_a_direct_count_on_50000_images():
  label, top5 = _synthetic_val(50_000)
  for k in (1, 5):
    counts = metrics.per_class_accuracy(top5, label, k=k)
    for c in range(0, labels.NUM_CLASSES, 37):
      rows = [i for i in range(len(label)) if label[i] == c]
      right = sum(1 for i in rows if c in top5[i, :k])
      assert counts.total[c] == len(rows) and counts.correct[c] == right
    per_class = {c: np.mean([label[i] in top5[i, :k] for i in np.flatnonzero(label == c)])
                 for c in np.unique(label)}
    values = sorted(per_class.values())
    assert breakdown.balanced_accuracy(counts) == pytest.approx(np.mean(values), abs=1e-12)
    assert breakdown.worst_class_accuracy(counts) == values[0]
    assert breakdown.worst_fraction_accuracy(counts) == pytest.approx(
        np.mean(values[:int(np.ceil(0.1 * len(values)))]), abs=1e-12)
  # Top-1 as a flat [N] array gives the same counts.
  flat = metrics.per_class_accuracy(top5[:, 0], label)
  assert np.array_equal(flat.correct, metrics.per_class_accuracy(top5, label).correct)


def test_balanced_accuracy_equals_sklearn():
  sklearn_metrics = pytest.importorskip("sklearn.metrics")
  label, top5 = _synthetic_val(3000, seed=4)
  present = np.unique(label)
  counts = metrics.per_class_accuracy(top5, label)
  # sklearn averages recall over the classes in y_true (labels= restricts it).
  expected = sklearn_metrics.recall_score(label, top5[:, 0], labels=present, average="macro")
  assert breakdown.balanced_accuracy(counts) == pytest.approx(expected, abs=1e-12)


def test_absent_classes_have_no_accuracy():
  counts = metrics.per_class_accuracy(np.array([1, 2, 2]), np.array([1, 2, 3]), num_classes=5)
  assert np.isnan(counts.accuracy[[0, 4]]).all()
  assert counts.accuracy[1] == 1.0 and counts.accuracy[3] == 0.0
  assert breakdown.worst_class_accuracy(counts) == 0.0
  empty = metrics.per_class_accuracy(np.zeros(0, int), np.zeros(0, int), num_classes=3)
  assert np.isnan(breakdown.balanced_accuracy(empty))
  assert np.isnan(breakdown.worst_class_accuracy(empty))
  with pytest.raises(ValueError, match="labels"):
    metrics.per_class_accuracy(np.array([1]), np.array([-1]))
  with pytest.raises(ValueError, match="class indices"):
    metrics.per_class_accuracy(np.array([0.5, 0.2]), np.array([0, 1]))


def test_factor_error_ratios_equal_the_package_formula_on_50000_images(tmp_path):
  n = 50_000
  label, top5 = _synthetic_val(n)
  names = _val_names(n)
  annotated = np.sort(np.random.default_rng(2).choice(n, 48_868, replace=False))
  folder = str(tmp_path / "annotations")
  write_synthetic_imagenet_x(folder, names[annotated], label[annotated], prototypes=2758,
                             prototypes_elsewhere=242)
  correct = top5[:, 0] == label
  for which in ("top", "multi"):
    accuracy, ratio, merged = _package_reference(folder, which, names, correct)
    ann = imagenet_x.load(folder, which)
    assert len(ann) == len(merged) == 48_868 - 2758
    rows = np.searchsorted(names, ann.file_name)  # names are sorted
    ours = metrics.factor_error_ratios(correct[rows], ann.factors)
    counts = metrics.factor_accuracies(correct[rows], ann.factors)
    assert list(ours) == FACTORS
    for factor in FACTORS:
      assert abs(ours[factor] - ratio[factor]) <= 1e-12, factor
      assert counts[factor].correct / counts[factor].total == pytest.approx(
          accuracy[factor], abs=1e-12)
    # The same from a DataFrame with the factor columns.
    frame = pd.DataFrame({f: ann.factors[f].astype(int) for f in FACTORS})
    assert metrics.factor_error_ratios(correct[rows], frame) == ours
    if which == "top":
      # The rare factors are rare, as in ImageNet-X: intervals matter.
      assert min(c.total for c in counts.values()) < 200


def test_error_ratio_is_undefined_without_errors_or_images():
  factors = {"pose": np.array([1, 0, 0]), "style": np.array([0, 0, 0])}
  assert all(np.isnan(v) for v in
             metrics.factor_error_ratios(np.ones(3, bool), factors).values())
  ratios = metrics.factor_error_ratios(np.array([False, True, True]), factors)
  assert ratios["pose"] == pytest.approx(1.0 / (1 / 3)) and np.isnan(ratios["style"])
  with pytest.raises(ValueError, match="0/1"):
    metrics.factor_error_ratios(np.ones(3, bool), {"pose": np.array([2, 0, 0])})
  with pytest.raises(ValueError, match="values for 3 images"):
    metrics.factor_error_ratios(np.ones(3, bool), {"pose": np.array([1, 0])})


# --- the annotation reader -----------------------------------------------------

def test_reader_drops_prototypes_and_maps_metaclasses(tmp_path):
  names = _val_names(500)
  label = np.arange(500) % labels.NUM_CLASSES
  prototypes = write_synthetic_imagenet_x(str(tmp_path), names, label, prototypes=40)
  ann = imagenet_x.load(str(tmp_path), "top")
  assert len(ann) == 460 and not set(ann.file_name) & prototypes
  assert len(imagenet_x.load(str(tmp_path), "top", drop_prototypes=False)) == 500
  metaclass_names, group = imagenet_x.metaclasses(str(tmp_path))
  assert metaclass_names[-1] == "other" and len(metaclass_names) == 17
  with open(tmp_path / "imagenet_1k_classes_to_100_metaclasses.csv", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  for c in (0, 1, 2, 500, 999):
    name = rows[c]["name"]
    expected = name if name in imagenet_x.METACLASSES else "other"
    assert metaclass_names[group[c]] == expected


def test_missing_annotations_name_the_package(tmp_path, monkeypatch):
  monkeypatch.setattr(imagenet_x, "installed_dir", lambda: None)
  with pytest.raises(errors.UserError, match=r"pip install imagenet-x==0\.0\.7.*--imagenet_x_dir"):
    imagenet_x.annotation_dir(None)
  (tmp_path / "prototypical_paths.csv").write_text("file_name\n")
  with pytest.raises(errors.UserError, match="lacks imagenet_x_val_top_factor.jsonl"):
    imagenet_x.annotation_dir(str(tmp_path))


def test_installed_package_is_found_without_importing_it(tmp_path, monkeypatch):
  package = tmp_path / "site" / "imagenet_x"
  (package / "annotations").mkdir(parents=True)
  # Importing this package would fail: the reader must not import it.
  (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
  write_synthetic_imagenet_x(str(package / "annotations"), _val_names(20), np.arange(20),
                             prototypes=2)
  monkeypatch.syspath_prepend(str(tmp_path / "site"))
  assert imagenet_x.annotation_dir(None) == str(package / "annotations")


@pytest.mark.parametrize("line, message", [
    ('{"file_name": "a.JPEG", "class": 3}', "no 'pose' field"),
    ("not json", "invalid JSON"),
])
def test_damaged_annotation_file_is_named(tmp_path, line, message):
  write_synthetic_imagenet_x(str(tmp_path), _val_names(10), np.arange(10), prototypes=1)
  path = tmp_path / "imagenet_x_val_top_factor.jsonl"
  path.write_text(path.read_text() + line + "\n")
  imagenet_x.load.cache_clear()
  with pytest.raises(errors.UserError, match=rf"imagenet_x_val_top_factor.jsonl, line 11: "
                                             rf"{message}"):
    imagenet_x.load(str(tmp_path), "top")


# --- the scorers ----------------------------------------------------------------

def _predictions(n, seed=1):
  label, top5 = _synthetic_val(n, seed=seed)
  return predictions_lib.Predictions(
      file_name=_val_names(n), label=label, top5=top5, confidence=np.full(n, np.nan))


def _by_metric(results):
  return {r.metric: r for r in results}


def _context(row_id, imagenet_x_dir=None):
  return ScoringContext(benchmark_table.get(row_id), ScoringOptions(imagenet_x_dir=imagenet_x_dir))


def _score(row_id, predictions, imagenet_x_dir=None):
  row = benchmark_table.get(row_id)
  return row.score(predictions, _context(row_id, imagenet_x_dir))


def test_per_class_scorer_rows_equal_direct_counts():
  p = _predictions(3000)
  results = _by_metric(_score("imagenet2012_per_class", [p]))
  wnids = labels.wnids()
  for c in np.unique(p.label)[:50]:
    rows = np.flatnonzero(p.label == c)
    for k in (1, 5):
      r = results[f"class/{wnids[c]}/top{k}"]
      assert r.n == len(rows)
      assert r.value == np.mean([c in p.top5[i, :k] for i in rows])
      r = r.with_interval()
      assert r.ci_method == "clopper_pearson" and r.ci_low <= r.value <= r.ci_high
  assert not any(f"class/{wnids[c]}/top1" in results
                 for c in set(range(1000)) - set(p.label.tolist()))
  counts = metrics.per_class_accuracy(p.top5, p.label)
  assert results["balanced_top1"].value == breakdown.balanced_accuracy(counts)
  assert results["worst_class_top1"].value == breakdown.worst_class_accuracy(counts)
  worst = results["worst_10pct_class_top1"].with_interval()
  assert worst.value == breakdown.worst_fraction_accuracy(counts)
  assert worst.ci_method.startswith("bootstrap") and worst.ci_low <= worst.value <= worst.ci_high
  lowest = results["worst_class_top1"].with_interval()
  assert lowest.ci_method == "clopper_pearson" and lowest.ci_low <= lowest.value <= lowest.ci_high
  assert results["balanced_top1"].with_interval().ci_method.startswith("bootstrap")


def test_worst_class_intervals_contain_their_figures_at_50_images_per_class():
  """Re-choosing the worst classes per resample would put the whole bootstrap
  interval below the figure; the chosen classes are kept fixed."""
  rng = np.random.default_rng(0)
  label = np.repeat(np.arange(1000), 50)
  right = rng.random(len(label)) < rng.uniform(0.4, 0.95, 1000)[label]
  top5 = np.where(right[:, None], label[:, None], (label[:, None] + np.arange(1, 6)) % 1000)
  results = _by_metric(r.with_interval() for r in scoring.per_class_results(
      "b", top5, label, _val_names(len(label))))
  for metric in ("worst_class_top1", "worst_10pct_class_top1", "balanced_top1"):
    r = results[metric]
    assert r.ci_low < r.value < r.ci_high, metric


def test_per_class_scorer_of_a_200_class_set_uses_the_space_ranking():
  space = label_spaces.get("imagenet_r")
  rng = np.random.default_rng(3)
  n = 400
  in_space = rng.integers(0, space.num_classes, n)
  space_top5 = np.stack([rng.choice(space.num_classes, 5, replace=False) for _ in range(n)])
  space_top5[: n // 2, 0] = in_space[: n // 2]
  p = predictions_lib.Predictions(
      file_name=np.array([f"r/{i}.jpg" for i in range(n)]),
      label=np.array([space.members[c][0] for c in in_space]),
      top5=rng.integers(0, 1000, (n, 5)), confidence=np.full(n, np.nan),
      space_top5={"imagenet_r": space_top5})
  results = _by_metric(_score("imagenet_r_per_class", [p]))
  classes = {m.split("/")[1] for m in results if m.startswith("class/")}
  assert classes <= set(space.class_names)
  counts = metrics.per_class_accuracy(space_top5, in_space, num_classes=space.num_classes)
  assert results["balanced_top1"].value == breakdown.balanced_accuracy(counts)
  wnid = space.class_names[in_space[0]]
  rows = in_space == in_space[0]
  assert results[f"class/{wnid}/top1"].value == np.mean(space_top5[rows, 0] == in_space[rows])


def test_per_class_scorer_of_objectnet_maps_the_1000_way_top5():
  space = label_spaces.get("objectnet")
  rng = np.random.default_rng(4)
  n = 600
  label = rng.integers(-1, space.num_classes, n)  # -1: a class outside the space
  top5 = rng.integers(0, 1000, (n, 5))
  members = [rng.choice(space.members[c]) for c in np.maximum(label, 0)]
  hit = rng.random(n) < 0.5
  top5[hit, 0] = np.array(members)[hit]
  p = predictions_lib.Predictions(file_name=np.array([f"o/{i}.png" for i in range(n)]),
                                  label=label, top5=top5, confidence=np.full(n, np.nan))
  results = _by_metric(_score("objectnet_per_class", [p]))
  for c in np.unique(label[label >= 0])[:20]:
    rows = np.flatnonzero(label == c)
    right = [any(space.class_of_imagenet[t] == c for t in top5[i, :1]) for i in rows]
    name = space.class_names[c].replace("/", "_")
    assert results[f"class/{name}/top1"].value == np.mean(right)
    assert results[f"class/{name}/top1"].n == len(rows)


def test_imagenet_x_scorer_equals_the_package_formula(tmp_path):
  n = 2000
  p = _predictions(n, seed=5)
  annotated = np.sort(np.random.default_rng(6).choice(n, 1900, replace=False))
  folder = str(tmp_path)
  write_synthetic_imagenet_x(folder, p.file_name[annotated], p.label[annotated], seed=7,
                             prototypes=100)
  results = _by_metric(_score("imagenet_x", [p], folder))
  correct = p.top5[:, 0] == p.label
  for which, prefix in (("top", "factor/"), ("multi", "multi_factor/")):
    accuracy, ratio, merged = _package_reference(folder, which, p.file_name, correct)
    for factor in FACTORS:
      if merged[factor].sum() == 0:
        assert f"{prefix}{factor}/top1" not in results
        continue
      assert results[f"{prefix}{factor}/top1"].value == pytest.approx(accuracy[factor],
                                                                       abs=1e-12)
      assert abs(results[f"{prefix}{factor}/error_ratio"].value - ratio[factor]) <= 1e-12
      assert results[f"{prefix}{factor}/error_ratio"].n == merged[factor].sum()
  assert results["top1"].n == len(merged) == 1800
  assert results["top1"].value == pytest.approx(merged.is_correct.mean(), abs=1e-15)
  ratio_row = results["factor/pose/error_ratio"].with_interval()
  assert ratio_row.ci_low <= ratio_row.value <= ratio_row.ci_high
  # Metaclasses over all the val images, by the label's metaclass.
  names, group = imagenet_x.metaclasses(folder)
  for m, name in enumerate(names):
    rows = np.flatnonzero(group[p.label] == m)
    if len(rows):
      assert results[f"metaclass/{name}/top1"].value == correct[rows].mean()
      assert results[f"metaclass/{name}/top1"].n == len(rows)
  predicted_group_right = group[p.top5[:, 0]] == group[p.label]
  assert results["metaclass_top1"].value == predicted_group_right.mean()
  assert results["worst_metaclass_top1"].value == min(
      correct[group[p.label] == m].mean() for m in np.unique(group[p.label]))


def test_imagenet_x_scorer_refuses_other_class_orders(tmp_path):
  p = _predictions(200)
  write_synthetic_imagenet_x(str(tmp_path), p.file_name, (p.label + 1) % 1000, prototypes=5)
  with pytest.raises(errors.UserError, match="another class order"):
    _score("imagenet_x", [p], str(tmp_path))


def test_saved_predictions_give_the_same_figures(tmp_path):
  """``--predictions`` of a run's saved file scores exactly as the run did."""
  p = _predictions(1500, seed=8)
  write_synthetic_imagenet_x(str(tmp_path / "x"), p.file_name, p.label, prototypes=50)
  path = tmp_path / "val.npz"
  np.savez_compressed(path, **predictions_lib.npz_arrays(p))
  reloaded = predictions_lib.load_npz(str(path))
  for row_id in ("imagenet2012_per_class", "imagenet_x"):
    run = [r.with_interval() for r in _score(row_id, [p], str(tmp_path / "x"))]
    again = [r.with_interval() for r in _score(row_id, [reloaded], str(tmp_path / "x"))]
    assert [(r.metric, r.value, r.n, r.ci_low, r.ci_high) for r in run] == \
           [(r.metric, r.value, r.n, r.ci_low, r.ci_high) for r in again]


# --- Keras classes ---------------------------------------------------------------

def test_keras_per_class_metrics_equal_the_numpy_functions():
  tf = pytest.importorskip("tensorflow")
  from tfds_bench.metrics import keras_metrics  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(9)
  n, c = 203, 7
  logits = rng.normal(size=(n, c)).astype(np.float32)
  label = rng.integers(0, c - 1, n)  # the last class has no image
  hits = rng.random(n) < 0.5
  logits[hits, label[hits]] += 3.0
  ranked = np.argsort(-logits, axis=1, kind="stable")
  for k in (1, 2):
    counts = metrics.per_class_accuracy(ranked, label, num_classes=c, k=k)
    made = {cls: cls(k=k, num_classes=c) for cls in (
        keras_metrics.PerClassAccuracy, keras_metrics.BalancedAccuracy,
        keras_metrics.WorstClassAccuracy)}
    for metric in made.values():
      for start in range(0, n, 16):  # last batch padded: label -1 and weight 0
        y, x = label[start:start + 16], logits[start:start + 16]
        pad = 16 - len(y)
        y = np.concatenate([y, np.full(pad, -1)])
        x = np.concatenate([x, np.zeros((pad, c), np.float32)])
        weight = np.concatenate([np.ones(16 - pad), np.zeros(pad)]).astype(np.float32)
        metric.update_state(tf.constant(y), tf.constant(x), sample_weight=tf.constant(weight))
    per_class = made[keras_metrics.PerClassAccuracy].result().numpy()
    assert np.array_equal(per_class, np.nan_to_num(counts.accuracy, nan=0.0))
    assert float(made[keras_metrics.BalancedAccuracy].result()) == \
        breakdown.balanced_accuracy(counts)
    assert float(made[keras_metrics.WorstClassAccuracy].result()) == \
        breakdown.worst_class_accuracy(counts)
    restored = keras_metrics.WorstClassAccuracy.from_config(
        made[keras_metrics.WorstClassAccuracy].get_config())
    assert restored.num_classes == c and restored.k == k
  assert metrics.PerClassAccuracy is keras_metrics.PerClassAccuracy


# --- the report ------------------------------------------------------------------

def _records(model, results):
  return [{"model": model, "benchmark": r.benchmark, "metric": r.metric, "value": r.value,
           "n": r.n, "ci_low": r.ci_low, "ci_high": r.ci_high, "ci_method": r.ci_method}
          for r in results]


def test_report_has_the_factor_chart_and_the_per_class_table(tmp_path, monkeypatch):
  from tfds_bench.reports import figures, report, tables  # pylint: disable=g-import-not-at-top
  from tfds_bench.metrics import intervals  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(intervals, "RESAMPLES", 50)  # the figures, not the intervals, are tested
  monkeypatch.setattr(intervals.bootstrap_interval, "__defaults__", (0.95, 50, 0))
  folder = str(tmp_path / "x")
  records = []
  for model, seed in (("model_a", 11), ("model_b", 12)):
    p = _predictions(1200, seed=seed)
    if not os.path.exists(folder):
      write_synthetic_imagenet_x(folder, p.file_name, p.label, prototypes=20)
    p.label = imagenet_x.load(folder, "top", drop_prototypes=False).label
    results = (_score("imagenet2012_per_class", [p]) + _score("imagenet_x", [p], folder))
    records += _records(model, [r.with_interval() for r in results])
  figure = figures.factor_error_ratio_figure(records)
  bars = [patch for ax in figure.axes for patch in ax.patches]
  plotted_factors = sum(1 for f in FACTORS if any(
      r["metric"] == f"factor/{f}/error_ratio" for r in records if r["model"] == "model_a"))
  plotted_multi = sum(1 for f in FACTORS if any(
      r["metric"] == f"multi_factor/{f}/error_ratio" for r in records if r["model"] == "model_a"))
  assert len(figure.axes) == 2 and len(bars) == 2 * (plotted_factors + plotted_multi)
  written = report.write_report(records, str(tmp_path / "report"))
  names = {os.path.basename(path) for path in written}
  assert {"factor_error_ratios.png", "per_class.csv", "report.md"} <= names
  markdown = (tmp_path / "report" / "report.md").read_text()
  assert "## Where it fails" in markdown and "### model_b: imagenet2012_per_class" in markdown
  assert "class/" not in markdown.split("## Where it fails")[0]  # not in the wide table
  rows = list(csv.DictReader(open(tmp_path / "report" / "per_class.csv", encoding="utf-8")))
  for model in ("model_a", "model_b"):
    mine = [r for r in rows if r["model"] == model]
    top1 = [float(r["top1"]) for r in mine]
    assert top1 == sorted(top1)
    expected = {m["metric"].split("/")[1]: m["value"] for m in records
                if m["model"] == model and m["metric"].endswith("/top1")
                and m["metric"].startswith("class/")}
    assert {r["wnid"]: float(r["top1"]) for r in mine} == expected
  # Per-class rows are details (files only), the top-factor error ratios are
  # shown, and the ratio is printed as a ratio, not a percentage.
  assert tables.is_detail("class/n01440764/top1") and tables.is_detail("multi_factor/pose/top1")
  assert not tables.is_detail("factor/pose/error_ratio")
  assert tables.format_value("factor/pose/error_ratio", 1.25) == "1.250"
  # The console footer names the breakdown rows only when it hides some: the
  # default command's table is unchanged.
  assert "per-class and per-factor figures" in tables.format_table(records)
  plain = [{"model": "m", "benchmark": "sample_c", "metric": "error/fog_1", "value": 0.5, "n": 7}]
  assert tables.format_table(plain).endswith(
      "(1 detail rows (per-severity errors, ReaL curve points) are in results.json / "
      "results.csv)")


# --- end to end through bench_main ----------------------------------------------

def _bench_main(args, env, timeout=600):
  import subprocess, sys  # pylint: disable=g-import-not-at-top,multiple-import
  return subprocess.run([sys.executable, "-m", "tfds_bench.bench_main", *args],
                        capture_output=True, text=True, env=env, timeout=timeout)


def _figures(path):
  return [(r["benchmark"], r["metric"], r["value"], r["n"], r["ci_low"], r["ci_high"])
          for r in json.loads(path.read_text())["results"]]


def test_a_model_run_and_its_saved_predictions_give_the_same_per_class_figures(
    cat_and_coffee_folder, tmp_path, quiet_tf_env):
  run = _bench_main(["--model=efficientnet", f"--image_folder={cat_and_coffee_folder}",
                     "--benchmarks=image_folder,image_folder_per_class",
                     f"--output_dir={tmp_path / 'run'}", "--progress=false"], quiet_tf_env)
  assert run.returncode == 0, run.stderr[-3000:]
  rescored = _bench_main([f"--predictions={tmp_path / 'run' / 'predictions' / 'image_folder.npz'}",
                          "--benchmarks=image_folder_per_class",
                          f"--output_dir={tmp_path / 'again'}"], quiet_tf_env)
  assert rescored.returncode == 0, rescored.stderr[-3000:]
  ran = [f for f in _figures(tmp_path / "run" / "results.json")
         if f[0] == "image_folder_per_class"]
  assert {f[1] for f in ran} >= {"class/n02123159/top1", "class/n07920052/top5",
                                 "balanced_top1", "worst_class_top1"}
  assert ran == _figures(tmp_path / "again" / "results.json")
  # The console shows the summaries; the per-class rows are in the files.
  assert "balanced_top1" in run.stdout and "class/n02123159/top1" not in run.stdout


def test_bench_main_scores_imagenet_x_from_a_predictions_file(tmp_path, quiet_tf_env):
  n = 600
  names = _val_names(n)
  label = labels.val_labels()[:n].astype(np.int64)
  rng = np.random.default_rng(13)
  top5 = rng.integers(0, 1000, (n, 5))
  right = rng.random(n) < 0.7
  top5[right, 0] = label[right]
  path = tmp_path / "val.npz"
  np.savez(path, file_name=names, top5=top5)
  folder = tmp_path / "imagenet_x"
  write_synthetic_imagenet_x(str(folder), names, label, prototypes=10)
  out = tmp_path / "out"
  proc = _bench_main([f"--predictions={path}", "--benchmarks=imagenet_x,imagenet2012_per_class",
                      f"--imagenet_x_dir={folder}", f"--output_dir={out}"], quiet_tf_env)
  assert proc.returncode == 0, proc.stderr[-3000:]
  p = predictions_lib.Predictions(names, label, top5, np.full(n, np.nan))
  expected = [(r.benchmark, r.metric, r.value, r.n, r.ci_low, r.ci_high)
              for row in ("imagenet_x", "imagenet2012_per_class")
              for r in (x.with_interval() for x in _score(row, [p], str(folder)))]
  assert sorted(_figures(out / "results.json"), key=str) == sorted(expected, key=str)
  assert "factor/pose/error_ratio" in proc.stdout
  # The folder is refused where no chosen row reads it, and a missing one is named.
  refused = _bench_main([f"--predictions={path}", "--benchmarks=imagenet2012",
                         f"--imagenet_x_dir={folder}"], quiet_tf_env)
  assert refused.returncode == 2 and "imagenet_x" in refused.stderr
  missing = _bench_main([f"--predictions={path}", "--benchmarks=imagenet_x",
                         f"--imagenet_x_dir={tmp_path / 'nowhere'}"], quiet_tf_env)
  assert missing.returncode == 2 and "--imagenet_x_dir" in missing.stderr


_MIRRORED_SCRIPT = """
    import numpy as np
    import keras
    from tfds_bench.metrics import keras_metrics

    data = np.load(sys.argv[1])
    with strategy.scope():
      model = keras.Sequential([keras.Input((data["logits"].shape[1],)), keras.layers.Identity()])
      per_class = keras_metrics.PerClassAccuracy(1, num_classes=10)
      worst = keras_metrics.WorstClassAccuracy(1, num_classes=10)
      model.compile(loss=lambda y, p: tf.reduce_sum(p, -1) * 0.0,
                    weighted_metrics=[per_class, worst])
    ds = tf.data.Dataset.from_tensor_slices(
        (data["logits"], data["labels"], data["weight"])).batch(16)
    out = model.evaluate(ds, return_dict=True, verbose=0)
    report({"correct": per_class.correct.numpy().tolist(),
            "total": per_class.total.numpy().tolist(), "worst": float(out["worst_class_top1"])})
"""


def test_per_class_counts_under_mirrored_strategy(tmp_path, run_on_two_cpus):
  rng = np.random.default_rng(1)
  n, padded = 101, 112
  logits = rng.normal(size=(padded, 10)).astype(np.float32)
  label = rng.integers(0, 10, padded)
  logits[np.arange(0, padded, 2), label[::2]] += 5
  weight = (np.arange(padded) < n).astype(np.float32)
  np.savez(tmp_path / "data.npz", logits=logits, labels=label, weight=weight)
  out = run_on_two_cpus(_MIRRORED_SCRIPT, tmp_path / "data.npz", timeout=300)
  assert out["replicas"] == 2
  counts = metrics.per_class_accuracy(logits[:n], label[:n], num_classes=10)
  assert out["correct"] == counts.correct.tolist() and out["total"] == counts.total.tolist()
  assert out["worst"] == breakdown.worst_class_accuracy(counts)


@pytest.mark.parametrize("row_id", ["imagenet_r_metaclass", "objectnet_metaclass",
                                    "imagenet_sketch_metaclass"])
def test_metaclass_rows_group_each_set_by_its_labels_metaclass(tmp_path, row_id):
  folder = str(tmp_path)
  write_synthetic_imagenet_x(folder, _val_names(5), np.arange(5), prototypes=1)
  names, metaclass = imagenet_x.metaclasses(folder)
  rng = np.random.default_rng(21)
  n = 800
  top5 = rng.integers(0, 1000, (n, 5))
  row = benchmark_table.get(row_id)
  extra = {}
  if row.label_space is None:
    label = rng.integers(0, 1000, n)
    top5[: n // 2, 0] = label[: n // 2]
    correct = top5[:, 0] == label
    imagenet_class = label
  else:
    space = label_spaces.get(row.label_space)
    in_space = rng.integers(0, space.num_classes, n)
    imagenet_class = np.array([space.members[c][0] for c in in_space])
    if row.space_scores:
      label = imagenet_class
      space_top5 = rng.integers(0, space.num_classes, (n, 5))
      space_top5[: n // 2, 0] = in_space[: n // 2]
      extra = {"space_top5": {space.name: space_top5}}
      correct = space_top5[:, 0] == in_space
    else:
      label = in_space
      top5[: n // 2, 0] = imagenet_class[: n // 2]
      correct = space.class_of_imagenet[top5[:, 0]] == in_space
  p = predictions_lib.Predictions(np.array([f"x/{i}.jpg" for i in range(n)]), label, top5,
                                  np.full(n, np.nan), **extra)
  results = _by_metric(_score(row_id, [p], folder))
  group = metaclass[imagenet_class]
  if row.label_space is not None:
    # A class whose ImageNet classes straddle two metaclasses has none: left out.
    for c in range(space.num_classes):
      if len({metaclass[m] for m in space.members[c]}) > 1:
        group[in_space == c] = -1
  assert (group >= 0).any()
  kept = group >= 0
  correct, group, top5 = correct[kept], group[kept], top5[kept]
  for m, name in enumerate(names):
    rows = np.flatnonzero(group == m)
    if len(rows):
      assert results[f"metaclass/{name}/top1"].value == correct[rows].mean()
      assert results[f"metaclass/{name}/top1"].n == len(rows)
  assert results["metaclass_top1"].value == np.mean(metaclass[top5[:, 0]] == group)
  assert results["balanced_metaclass_top1"].value == pytest.approx(
      np.mean([correct[group == m].mean() for m in np.unique(group)]), abs=1e-12)
