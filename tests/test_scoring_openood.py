"""The OpenOOD track's scorer (tfds_bench.scoring.openood): figures equal to
`metrics.ood_metrics` on the same arrays, near / far means, the ID restriction
to OpenOOD's 45,000 val images, intervals and the paired test."""

import numpy as np
import pytest

from tfds_bench import benchmark_table, errors, metrics, openood_lists
from tfds_bench.benchmark_types import ScoringContext, ScoringOptions
from tfds_bench.compare import paired_test
from tfds_bench.predictions import Predictions
from tfds_bench.scoring import openood as scoring


def _predictions(names, confidence, ood_scores=None):
  names = np.asarray(names)
  p = Predictions(file_name=names, label=np.full(len(names), -1, np.int64),
                  top5=np.zeros((len(names), 5), np.int64),
                  confidence=np.asarray(confidence, np.float64))
  if ood_scores is not None:
    p.ood_scores = ood_scores  # what the predict step fills from logits
  return p


def _arrays(rng, n_id=60):
  id_names = np.array([f"val_{i}" for i in range(n_id)])
  id_scores = {"msp": rng.random(n_id).round(2), "energy": rng.normal(1.0, size=n_id)}
  sets = {}
  for k, (name, n) in enumerate((("ssb_hard", 40), ("ninco", 25), ("inaturalist", 30),
                                 ("textures", 20), ("openimage_o", 35))):
    sets[name] = (np.array([f"{name}/{i}.jpg" for i in range(n)]),
                  {"msp": (rng.random(n) * (0.6 + 0.1 * k)).round(2),
                   "energy": rng.normal(0.2 * k, size=n)})
  return id_names, id_scores, sets


def test_figures_equal_ood_metrics_and_group_means():
  rng = np.random.default_rng(0)
  id_names, id_scores, sets = _arrays(rng)
  results = {(r.benchmark, r.metric): r for r in scoring.score_arrays(id_names, id_scores, sets)}
  per_set = {}
  for name, (_, scores) in sets.items():
    for score in ("msp", "energy"):
      want = metrics.ood_metrics(id_scores[score], scores[score])
      per_set[(name, score)] = want
      for figure, value in want.items():
        result = results[(f"openood_{name}", f"{figure}_{score}")]
        assert result.value == value
        assert result.n == len(id_names) + len(scores[score])
  for group, names in (("near", metrics.NEAR_OOD_SETS), ("far", metrics.FAR_OOD_SETS)):
    for figure in metrics.OOD_METRIC_NAMES:
      want = metrics.group_means({n: per_set[(n, "msp")][figure] for n in names})[group]
      assert results[(f"openood_{group}", f"{figure}_msp")].value == pytest.approx(want, abs=1e-15)
  assert len(results) == 7 * 5 * 2


def test_intervals_and_paired_test():
  rng = np.random.default_rng(1)
  id_names, id_scores, sets = _arrays(rng)
  subset = {"ninco": sets["ninco"]}
  a = {r.metric: r for r in scoring.score_arrays(id_names, id_scores, subset)}
  better = {"msp": id_scores["msp"] + 0.3, "energy": id_scores["energy"] + 2.0}
  b = {r.metric: r for r in scoring.score_arrays(id_names, better, subset)}
  result = a["auroc_msp"].with_interval()
  assert result.ci_low <= result.value <= result.ci_high
  assert result.ci_method.startswith("bootstrap")
  test = paired_test(a["auroc_msp"], b["auroc_msp"])
  assert test.difference > 0 and test.p_value < 0.05
  test = paired_test(a["fpr95_openood_energy"], b["fpr95_openood_energy"])
  assert test.difference < 0


def test_scorer_restricts_val_to_openood_ids_and_checks_the_list(tmp_path):
  val_names = np.array([f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 50_001)])
  rng = np.random.default_rng(2)
  val = _predictions(val_names, rng.random(50_000))
  list_dir = tmp_path / openood_lists.MANUAL_LIST_FOLDER
  list_dir.mkdir(parents=True)
  listed = ["ninco/a/1.jpg", "ninco/a/2.jpg", "ninco/b/3.png"]
  (list_dir / "test_ninco.txt").write_text("".join(f"{p} -1\n" for p in listed))
  row = benchmark_table.get("openood_ninco")
  context = ScoringContext(row=row, options=ScoringOptions(manual_dir=str(tmp_path)))
  ood = _predictions(listed[::-1], [0.1, 0.9, 0.2])
  results = {r.metric: r for r in row.score([val, ood], context)}
  ids = set(openood_lists.id_val_file_names())
  keep = np.array([n in ids for n in val_names])
  want = metrics.ood_metrics(val.confidence[keep], ood.confidence)
  assert {m: results[f"{m}_msp"].value for m in want} == want
  assert results["auroc_msp"].n == 45_000 + 3

  with pytest.raises(errors.UserError, match="1 missing, e.g. 'ninco/a/1.jpg'"):
    row.score([val, ood.select(np.array([0, 1]))], context)
  missing = sum(int(n[15:23]) > 45_000 for n in ids)
  with pytest.raises(errors.UserError, match=f"{missing} of them have no val prediction"):
    row.score([val.select(np.arange(45_000)), ood], context)


def test_scores_from_the_predict_step_are_used_when_present():
  p = _predictions(["x"], [0.5], {"msp": np.array([0.5]), "max_logit": np.array([3.0]),
                                  "energy": np.array([3.2])})
  assert sorted(scoring.per_image_scores(p)) == ["energy", "max_logit", "msp"]
  assert list(scoring.per_image_scores(_predictions(["x"], [0.5]))) == ["msp"]
  with pytest.raises(errors.UserError, match="top-5 indices only"):
    scoring.per_image_scores(_predictions(["x"], [np.nan]))
