"""model-vs-human: the human-data reader and the scorer, on synthetic CSVs in
the released `raw-data/` layout, against the formulas computed directly."""

import csv
import itertools

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from tfds_bench import errors, human_data
from tfds_bench.release import model_vs_human as mvh
from tfds_bench.scoring import model_vs_human as scorer

CATS = mvh.CATEGORIES
HEADER = ["subj", "Session", "trial", "rt", "object_response", "category", "condition",
          "imagename"]


def _write_sessions_dataset(root, name, code, conditions, num_subjects, num_images, seed):
  """raw-data/<name>/<name>_subject-kk_session_1.csv, trial order shuffled per subject."""
  rng = np.random.default_rng(seed)
  folder = root / name
  folder.mkdir(parents=True)
  images = [(c, CATS[rng.integers(16)], f"n0{rng.integers(10**6, 10**7)}_{k}.png")
            for c in conditions for k in range(num_images)]
  if name == "cue-conflict":
    images = []
    for k in range(num_images):
      shape, texture = CATS[rng.integers(16)], CATS[rng.integers(16)]
      images.append(("0", shape, f"{shape}{k + 1}-{texture}{rng.integers(1, 10)}.png"))
  for s in range(1, num_subjects + 1):
    order = rng.permutation(len(images))
    with open(folder / f"{name}_subject-{s:02d}_session_1.csv", "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(HEADER)
      for trial, i in enumerate(order, start=1):
        condition, category, image_id = images[i]
        roll = rng.random()
        if roll < 0.55:
          response = category
        elif roll < 0.6:
          response = "na"
        elif name == "cue-conflict" and roll < 0.85:
          response = mvh.texture_category(image_id)
        else:
          response = CATS[rng.integers(16)]
        writer.writerow([f"subject-{s:02d}", 1, trial, 0.8, response, category, condition,
                         f"{trial:04d}_{code}_s{s:02d}_{condition}_{category}_00_{image_id}"])
  # A model's CSV in the same folder (the reference writes them there): ignored.
  with open(folder / f"{name}_resnet50_session-1.csv", "w") as f:
    f.write(",".join(HEADER) + "\nresnet50,1,1,NaN,dog,cat,0,x_y_z_0_cat_00_a.png\n")
  return images


def _read_rows(folder):
  """All subject rows, read directly (the test's own parsing)."""
  rows = []
  for path in sorted(folder.glob("*_subject-*.csv")):
    with open(path) as f:
      for row in csv.DictReader(f):
        parts = row["imagename"].split("_")
        rows.append(dict(subj=row["subj"], condition=row["condition"], category=row["category"],
                         response=row["object_response"], image="_".join(parts[6:])))
  return rows


def _kappa(a, b):
  a, b = np.array(a), np.array(b)
  if np.array_equal(a, b):
    return 1.0
  return sk_metrics.cohen_kappa_score(a, b)


def _by_subject(rows, condition):
  """subject -> {image: correct} for one condition."""
  table = {}
  for r in rows:
    if r["condition"] == condition:
      table.setdefault(r["subj"], {})[r["image"]] = r["response"] == r["category"]
  return table


def _model_inputs(images, condition_of_file, seed):
  """File names as the builder writes them and 16-way probabilities."""
  rng = np.random.default_rng(seed)
  file_names, probabilities = [], []
  for k, (condition, category, image_id) in enumerate(images):
    file_names.append(condition_of_file(k, condition, category, image_id))
    p = rng.random(16)
    if rng.random() < 0.5:
      p[CATS.index(category)] += 2.0
    probabilities.append(p / p.sum())
  return np.array(file_names), np.array(probabilities)


def _values(results):
  return {r.metric: r for r in results}


@pytest.fixture()
def contrast(tmp_path):
  conditions = ["c100", "c50", "c03"]  # c100 and c03 are excluded from the mean.
  images = _write_sessions_dataset(tmp_path, "contrast", "cop", conditions, 3, 12, seed=1)
  return tmp_path, images


def test_reader(contrast):
  root, images = contrast
  trials = human_data.read_dataset(root, "contrast")
  assert trials.subjects == ("subject-01", "subject-02", "subject-03")
  assert list(trials.conditions) == ["c100", "c50", "c03"]
  c50 = trials.conditions["c50"]
  assert c50.responses.shape == (3, 12)
  assert sorted(i for c, _, i in images if c == "c50") == list(c50.image_ids)
  direct = _by_subject(_read_rows(root / "contrast"), "c50")
  for s, subject in enumerate(trials.subjects):
    assert [direct[subject][i] for i in c50.image_ids] == c50.correct[s].tolist()


def test_human_and_model_figures_equal_direct_formulas(contrast):
  root, images = contrast
  rows = _read_rows(root / "contrast")
  file_names, probabilities = _model_inputs(
      images, lambda k, c, cat, i: f"session-1/{k:04d}_cop_s01_{c}_{cat}_10_{i}", seed=2)
  humans = human_data.read_dataset(root, "contrast")
  got = _values(scorer.score("mvh/contrast", "contrast", file_names,
                             probabilities.argmax(axis=1), humans))
  decision = np.array(CATS)[probabilities.argmax(axis=1)]
  model = {(c, i): d == cat for (c, cat, i), d in zip(images, decision)}
  subjects = sorted({r["subj"] for r in rows})

  # Humans among themselves, on the included condition c50 only.
  table = _by_subject(rows, "c50")
  ids = sorted(table[subjects[0]])
  pairs = [(a, b) for a, b in itertools.permutations(subjects, 2)]
  correct = {s: [table[s][i] for i in ids] for s in subjects}
  kappa = np.mean([np.mean([_kappa(correct[a], correct[b]) for b in subjects if b != a])
                   for a in subjects])
  observed = np.mean([np.mean(np.equal(correct[a], correct[b])) for a, b in pairs])
  difference = np.mean([(np.mean(correct[a]) - np.mean(correct[b])) ** 2 for a, b in pairs])
  assert got["human_error_consistency"].value == pytest.approx(kappa, abs=1e-12)
  assert got["human_observed_consistency"].value == pytest.approx(observed, abs=1e-12)
  assert got["human_accuracy_difference"].value == pytest.approx(difference, abs=1e-12)
  assert got["human_accuracy"].value == pytest.approx(
      np.mean([np.mean(correct[s]) for s in subjects]), abs=1e-12)

  # Model against each subject, per condition and over included conditions.
  for condition in ["c100", "c50", "c03"]:
    table = _by_subject(rows, condition)
    ids = sorted(table[subjects[0]])
    m = [model[(condition, i)] for i in ids]
    expected = np.mean([_kappa(m, [table[s][i] for i in ids]) for s in subjects])
    assert got[f"error_consistency/{condition}"].value == pytest.approx(expected, abs=1e-12)
    assert got[f"accuracy/{condition}"].value == pytest.approx(np.mean(m), abs=1e-12)
  assert got["error_consistency"].value == got["error_consistency/c50"].value
  assert got["accuracy"].value == got["accuracy/c50"].value
  per_subject = [got[f"error_consistency/{s}"].value for s in subjects]
  assert np.mean(per_subject) == pytest.approx(got["error_consistency"].value, abs=1e-12)
  # Intervals: two-level bootstrap around subject means, Clopper-Pearson on proportions.
  ec = got["error_consistency"]
  assert ec.ci_method.startswith("bootstrap_images_and_subjects")
  assert ec.ci_low <= ec.value <= ec.ci_high
  assert got["accuracy/c50"].ci_method == "clopper_pearson"


def test_cue_conflict_shape_bias(tmp_path):
  images = _write_sessions_dataset(tmp_path, "cue-conflict", "s5n", ["0"], 3, 40, seed=3)
  rows = _read_rows(tmp_path / "cue-conflict")
  file_names, probabilities = _model_inputs(images, lambda k, c, cat, i: f"{cat}/{i}", seed=4)
  humans = human_data.read_dataset(tmp_path, "cue-conflict")
  got = _values(scorer.score("mvh/cue-conflict", "cue-conflict", file_names,
                             probabilities.argmax(axis=1), humans))

  def direct(trials):
    # The texture category: last '-' part of the image name, digits removed.
    shape = texture = 0
    for decision, category, image in trials:
      tex = "".join(ch for ch in image.split(".")[0].split("-")[-1] if not ch.isdigit())
      if tex != category:
        shape += decision == category
        texture += decision == tex
    return shape / (shape + texture)

  decision = np.array(CATS)[probabilities.argmax(axis=1)]
  model_trials = [(d, cat, i) for d, (_, cat, i) in zip(decision, images)]
  assert got["shape_bias"].value == pytest.approx(direct(model_trials), abs=1e-12)
  human_trials = [(r["response"], r["category"], r["image"]) for r in rows]
  assert got["human_shape_bias"].value == pytest.approx(direct(human_trials), abs=1e-12)
  for category in CATS:
    mine = [t for t in model_trials if t[1] == category]
    key = f"shape_bias/{category}"
    if mine and key in got and np.isfinite(got[key].value):
      assert got[key].value == pytest.approx(direct(mine), abs=1e-12)
  assert got["shape_bias"].ci_low <= got["shape_bias"].value <= got["shape_bias"].ci_high


def test_bad_human_files(tmp_path):
  with pytest.raises(errors.UserError, match="no human data for edge"):
    human_data.read_dataset(tmp_path, "edge")
  folder = tmp_path / "edge"
  folder.mkdir()
  (folder / "edge_subject-01_session_1.csv").write_text("subj,trial\nsubject-01,1\n")
  with pytest.raises(errors.UserError, match="edge_subject-01_session_1.csv: missing column"):
    human_data.read_dataset(tmp_path, "edge")
  good = ",".join(HEADER) + "\nsubject-01,1,1,0.5,dog,dog,0,0001_edg_s01_0_dog_00_dog1.png\n"
  (folder / "edge_subject-01_session_1.csv").write_text(good)
  (folder / "edge_subject-02_session_1.csv").write_text(good.replace("dog1", "dog2").replace(
      "subject-01", "subject-02"))
  with pytest.raises(errors.UserError, match="saw different images"):
    human_data.read_dataset(tmp_path, "edge")
  (folder / "edge_subject-02_session_1.csv").write_text(good.replace(
      "subject-01", "subject-02").replace(",dog,dog,", ",cow,dog,"))
  with pytest.raises(errors.UserError, match=r"edge_subject-02_session_1.csv:2: response 'cow'"):
    human_data.read_dataset(tmp_path, "edge")


def test_model_inputs_checked():
  with pytest.raises(errors.UserError, match="one 16-class decision"):
    scorer.score("b", "edge", ["dog/dog1.png"], np.array([16]))
  with pytest.raises(errors.UserError, match="one 16-class decision"):
    scorer.score("b", "edge", ["dog/dog1.png"], np.array([0.5]))
  with pytest.raises(errors.UserError, match="not one of the 16"):
    scorer.score("b", "edge", ["cow/cow1.png"], np.array([0]))
  with pytest.raises(errors.UserError, match="condition 'c77'"):
    scorer.score("b", "contrast", ["session-1/0001_cop_s01_c77_dog_10_n1_2.png"], np.array([0]))
  with pytest.raises(errors.UserError, match="repeated file names"):
    scorer.score("b", "edge", ["dog/dog1.png"] * 2, np.array([0, 0]))


def _records(model, results):
  return [{"model": model, "benchmark": r.benchmark, "metric": r.metric, "value": r.value,
           "n": r.n, "ci_low": r.ci_low, "ci_high": r.ci_high} for r in results]


def test_figures(tmp_path, contrast):
  from tfds_bench.reports import figures  # pylint: disable=g-import-not-at-top
  root, images = contrast
  cue = tmp_path / "cue"
  cue_images = _write_sessions_dataset(cue, "cue-conflict", "s5n", ["0"], 3, 40, seed=5)
  records = []
  for model, seed in (("model_a", 6), ("model_b", 7)):
    names, probabilities = _model_inputs(cue_images, lambda k, c, cat, i: f"{cat}/{i}", seed)
    records += _records(model, scorer.score("mvh/cue-conflict", "cue-conflict", names,
                                            probabilities.argmax(axis=1),
                                            human_data.read_dataset(cue, "cue-conflict")))
    names, probabilities = _model_inputs(
        images, lambda k, c, cat, i: f"session-1/{k:04d}_cop_s01_{c}_{cat}_10_{i}", seed)
    records += _records(model, scorer.score("mvh/contrast", "contrast", names,
                                            probabilities.argmax(axis=1),
                                            human_data.read_dataset(root, "contrast")))
  assert figures.shape_bias_figure([r for r in records if r["benchmark"] == "mvh/contrast"]) is None
  figure = figures.shape_bias_figure(records)
  ax = figure.axes[0]
  labels = [t.get_text() for t in ax.get_yticklabels()]
  human = {r["metric"].split("/")[1]: r["value"] for r in records
           if r["metric"].startswith("human_shape_bias/") and r["model"] == "model_a"
           and np.isfinite(r["value"])}
  assert set(labels) <= set(CATS) and set(human) <= set(labels)
  ordered = [human[c] for c in labels if c in human]
  assert ordered == sorted(ordered, reverse=True)
  assert {t.get_text() for t in ax.get_legend().get_texts()} == {"model_a", "model_b", "humans"}
  path = figures.save_figure(figure, str(tmp_path / "shape_bias.png"))
  assert (tmp_path / "shape_bias.png").stat().st_size > 1000 and path.endswith(".png")
  figure = figures.error_consistency_figure(records)
  ax = figure.axes[0]
  assert [t.get_text() for t in ax.get_xticklabels()] == ["mvh/contrast", "mvh/cue-conflict"]
  figures.save_figure(figure, str(tmp_path / "error_consistency.png"))
  assert figures.error_consistency_figure([]) is None
  from tfds_bench.reports import report  # pylint: disable=g-import-not-at-top
  written = report.write_report(records, str(tmp_path / "report"))
  names = {p.rsplit("/", 1)[-1] for p in written}
  assert {report.SHAPE_BIAS_PNG, report.ERROR_CONSISTENCY_PNG} <= names
  assert "![shape_bias](shape_bias.png)" in (tmp_path / "report" / "report.md").read_text()


def test_score_from_1000_way_probabilities_and_predictions(contrast):
  root, images = contrast
  from tfds_bench.predictions import Predictions  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(8)
  logits = rng.normal(size=(len(images), 1000)) * 3
  probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
  names = np.array([f"session-1/{k:04d}_cop_s01_{c}_{cat}_10_{i}"
                    for k, (c, cat, i) in enumerate(images)])
  got = _values(scorer.score_probabilities("b", "contrast", names, probabilities))
  members = scorer.category_space().members
  decision = [CATS[int(np.argmax([row[m].mean() for m in members]))] for row in probabilities]
  correct = [d == cat for d, (c, cat, _) in zip(decision, images) if c == "c50"]
  assert got["accuracy/c50"].value == pytest.approx(np.mean(correct), abs=1e-12)
  # The table row's scorer, on the predictions record a model run keeps.
  from tfds_bench import benchmark_table, predictions  # pylint: disable=g-import-not-at-top
  from tfds_bench.benchmark_types import ScoringContext, ScoringOptions  # pylint: disable=g-import-not-at-top
  summary = predictions.summarize_scores_np(logits, (scorer.LABEL_SPACE,))
  record = predictions.from_summaries(names, np.full(len(names), -1), summary)
  row = benchmark_table.get("model_vs_human/contrast")
  assert scorer.LABEL_SPACE in row.space_scores and "human_data" in row.reads
  rows = _values(row.score([record], ScoringContext(row, ScoringOptions(human_data=str(root)))))
  assert rows["accuracy/c50"].value == got["accuracy/c50"].value
  assert "human_error_consistency" in rows and "human_error_consistency" not in got
  assert "human_error_consistency" not in _values(row.score([record], ScoringContext(row)))
  record.space_top5.clear()
  with pytest.raises(errors.UserError, match="no model_vs_human_16 classes"):
    row.score([record], ScoringContext(row))


def test_human_data_flag(tmp_path, quiet_tf_env, check_flags):
  (tmp_path / "raw").mkdir()
  cases = [
      (["--human_data=raw", "--benchmarks=sample"], "--human_data is read only by model_vs_human/"),
      (["--human_data=missing", "--benchmarks=model_vs_human/edge"],
       "--human_data=missing: folder not found"),
      (["--human_data=raw", "--benchmarks=model_vs_human/edge"], "ok"),
      (["--human_data=raw", "--list"], "--human_data has no effect with --list"),
  ]
  outcomes = check_flags([a for a, _ in cases], quiet_tf_env, tmp_path)["outcomes"]
  for (args, expected), outcome in zip(cases, outcomes):
    assert expected in outcome, (args, outcome)
