"""The OpenOOD track in the report: one row per model and score.

Near- and far-OOD AUROC and FPR@95 (OpenOOD's convention: OOD positive, the
share of ID images flagged when 95 % of OOD images are caught; what
OpenOOD's tables and leaderboard report), each with its 95 % bootstrap
interval, from the ``openood_near`` / ``openood_far`` records
(`tfds_bench.scoring.openood`). The per-set figures, AUPR-In/-Out and ODIN's
FPR@95 are in report.csv. Pure text: no matplotlib.
"""

from __future__ import annotations

from typing import List, Mapping, Sequence

from tfds_bench import errors
from tfds_bench.reports import tables
from tfds_bench.scoring import openood as scoring
from tfds_bench.sources import IMAGENET_VAL

NEAR, FAR = scoring.GROUP_BENCHMARKS["near"], scoring.GROUP_BENCHMARKS["far"]
# Source keys of a run's predictions the track reads: val, then each set's
# (the table's sources, `tfds_bench.benchmark_table`).
VAL_KEY = IMAGENET_VAL.key
SET_KEYS = dict(scoring.SET_BENCHMARKS)
# (benchmark, figure, column title)
COLUMNS = ((NEAR, "auroc", "near AUROC"), (FAR, "auroc", "far AUROC"),
           (NEAR, "fpr95_openood", "near FPR@95"), (FAR, "fpr95_openood", "far FPR@95"))


def _scores(records: Sequence[Mapping]) -> List[str]:
  found = set()
  for r in records:
    if r["benchmark"] in (NEAR, FAR) and str(r["metric"]).startswith("auroc_"):
      found.add(str(r["metric"])[len("auroc_"):])
  return sorted(found)


def summary_rows(records: Sequence[Mapping]) -> List[List[str]]:
  """[model, score, then value and interval (in %) per `COLUMNS`]."""
  by_key = {(str(r["model"]), str(r["benchmark"]), str(r["metric"])): r for r in records}
  models = sorted({m for m, b, _ in by_key if b in (NEAR, FAR)})
  rows = []
  for model in models:
    for score in _scores([r for r in records if str(r["model"]) == model]):
      row = [model, score]
      for benchmark, figure, _ in COLUMNS:
        record = by_key.get((model, benchmark, f"{figure}_{score}"))
        row += ["", ""] if record is None else [
            tables.percent(float(record["value"])), tables.format_interval(record)]
      if any(row[2:]):
        rows.append(row)
  return rows


def section(records: Sequence[Mapping]) -> List[str]:
  """The report's Markdown lines for the track; [] without OpenOOD records."""
  rows = summary_rows(records)
  if not rows:
    return []
  header = ["model", "score"]
  for _, _, title in COLUMNS:
    header += [f"{title} (%)", "95% interval"]
  return ["## OOD detection (OpenOOD v1.5, ImageNet-1k)", "",
          "Near-OOD: SSB-hard, NINCO; far-OOD: iNaturalist, Textures, OpenImage-O; "
          "ID: OpenOOD's 45,000 ImageNet val test images. Each figure is the unweighted "
          "mean over the group's sets, as OpenOOD reports it. FPR@95 is OpenOOD's: OOD "
          "positive, the share of ID images flagged when 95 % of OOD images are caught "
          "(ODIN's convention, fpr95_odin, and AUPR-In/-Out are in report.csv). Scores: "
          "higher = more in-distribution (msp: maximum softmax probability; max_logit; "
          "energy: logsumexp of the logits).", "",
          tables.markdown_table(header, rows, left_columns=2), ""]


def distribution_inputs(predictions_by_key: Mapping[str, object], val_key: str,
                        set_keys: Mapping[str, str], manual_dir=None):
  """What the score-distribution figure plots, from a run's saved predictions.

  Args:
    predictions_by_key: source key -> `Predictions` (a run's predictions
      folder, e.g. `compare.load_run`'s third value).
    val_key: the val source's key.
    set_keys: OOD set name -> its source's key; sets without predictions are
      left out.
    manual_dir: where a user's OpenOOD lists are (None: the shipped ones).

  Returns:
    score name -> (ID scores over OpenOOD's 45,000 val images,
    {set name: that set's scores}); {} without val predictions or any set.
  """
  val = predictions_by_key.get(val_key)
  sets = {name: predictions_by_key[key] for name, key in set_keys.items()
          if key in predictions_by_key}
  if val is None or not sets:
    return {}
  rows = scoring.id_rows(val, manual_dir)
  id_scores = {k: v[rows] for k, v in scoring.per_image_scores(val).items()}
  set_scores = {name: scoring.per_image_scores(p) for name, p in sets.items()}
  return {score: (id_values, {name: s[score] for name, s in set_scores.items()
                              if score in s})
          for score, id_values in id_scores.items()}


def has_track(by_source: Mapping[str, object]) -> bool:
  """Whether a run's predictions (source key -> Predictions) hold val and
  at least one OpenOOD set: what the score-distribution figure needs."""
  return VAL_KEY in by_source and any(key in by_source for key in SET_KEYS.values())


def is_track_benchmark(benchmark: str) -> bool:
  return benchmark in SET_KEYS.values() or benchmark in (NEAR, FAR)


def run_distribution_inputs(by_source: Mapping[str, object], manual_dir=None):
  """`distribution_inputs` of a run's predictions, by the table's source keys.

  Raises:
    errors.UserError: the val predictions miss some of OpenOOD's ID images.
  """
  if not has_track(by_source):
    raise errors.UserError("the predictions hold no OpenOOD set with ImageNet val")
  return distribution_inputs(by_source, VAL_KEY, SET_KEYS, manual_dir)
