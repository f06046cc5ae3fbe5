"""Paired comparison of two runs on the same images (``bench_main --compare``).

Each run folder (written by ``bench_main --output_dir``) holds results.json
and the per-image predictions of every source (`reports.write_predictions`).
For each benchmark both runs have, both runs' predictions are scored again by
the row's scorer, which gives each figure's per-image data
(`benchmark_types.PerImage`); the two are paired image by image:

* a proportion (top-1, top-5, an error rate): exact McNemar test on the
  images only one model gets right;
* any other figure: paired bootstrap, both figures recomputed on the same
  resampled images (`tfds_bench.metrics.intervals`).

Runs whose image sets differ are refused: a paired test needs the same images.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfds_bench import benchmark_table, errors, reports
from tfds_bench.benchmark_types import Result, ScoringOptions
from tfds_bench.metrics import intervals
from tfds_bench.predictions import Predictions
from tfds_bench.reports import tables
from tfds_bench.scoring import rows as scoring_rows


@dataclasses.dataclass(frozen=True)
class Comparison:
  """One figure of two runs: ``test.difference`` is B minus A."""
  benchmark: str
  metric: str
  value_a: float
  value_b: float
  n: int
  test: intervals.PairedTest


def _run_folder(path: str) -> str:
  return os.path.dirname(path) if path.endswith(".json") else path


def _model_name(records: Sequence[dict], folder: str) -> str:
  names = sorted({r["model"] for r in records})
  return names[0] if len(names) == 1 else folder


def load_run(path: str) -> Tuple[str, List[dict], Dict[str, Predictions]]:
  """(model name, records, source key -> predictions) of a run folder or its results.json."""
  folder = _run_folder(path)
  records = reports.load_results(os.path.join(folder, reports.results_files.RESULTS_JSON))
  return _model_name(records, folder), records, reports.load_predictions(folder)


def _same_images(what: str, images_a: np.ndarray, images_b: np.ndarray) -> np.ndarray:
  """Indices putting B's images in A's order; raises when the sets differ."""
  set_a, set_b = set(images_a.tolist()), set(images_b.tolist())
  if set_a != set_b or len(images_a) != len(images_b):
    raise errors.UserError(
        f"{what}: the two runs were scored on different images ({len(set_a - set_b)} only "
        f"in run A, {len(set_b - set_a)} only in run B, e.g. "
        f"{sorted(set_a ^ set_b)[:1]}); a paired test needs the same images: rerun both "
        "models on the same data")
  row_b = {name: row for row, name in enumerate(images_b.tolist())}
  return np.array([row_b[name] for name in images_a.tolist()], dtype=np.int64)


def paired_test(a: Result, b: Result) -> intervals.PairedTest:
  """The paired test of two runs' results of the same figure (see module doc)."""
  what = f"{a.benchmark} {a.metric}"
  order = _same_images(what, a.per_image.images.astype(str), b.per_image.images.astype(str))
  if a.per_image.counted is not None and b.per_image.counted is not None:
    return intervals.mcnemar_exact(a.per_image.counted, b.per_image.counted[order])
  statistic_b = b.per_image.statistic
  return intervals.paired_bootstrap(a.per_image.statistic, lambda i: statistic_b(order[i]),
                                    len(order))


def compare_runs(path_a: str, path_b: str, options: ScoringOptions = ScoringOptions()
                 ) -> Tuple[str, str, List[Comparison], List[str]]:
  """Paired comparison of two run folders, both rescored with ``options``
  (the same ``--manual_dir`` and ``--real_threshold`` for both runs).

  Returns:
    (model A, model B, one Comparison per shared figure with per-image data,
    notes on the benchmarks that could not be compared).

  Raises:
    UserError: no shared benchmark, or a shared benchmark whose images differ.
  """
  model_a, records_a, predictions_a = load_run(path_a)
  model_b, records_b, predictions_b = load_run(path_b)
  table = benchmark_table.by_id()
  shared = sorted(({r["benchmark"] for r in records_a} & {r["benchmark"] for r in records_b})
                  & set(table))
  if not shared:
    raise errors.UserError(f"{path_a} and {path_b} share no benchmark")
  comparisons, notes = [], []
  for benchmark_id in shared:
    row = table[benchmark_id]
    keys = [s.key for s in row.sources]
    missing = [k for k in keys if k not in predictions_a or k not in predictions_b]
    if missing:
      notes.append(f"{benchmark_id}: no saved predictions for {', '.join(missing)}")
      continue
    for key in keys:
      _same_images(f"{benchmark_id} ({key})", predictions_a[key].file_name,
                   predictions_b[key].file_name)
    results_a = scoring_rows.score_row(row, predictions_a, options, with_intervals=False)
    results_b = {r.metric: r for r in scoring_rows.score_row(row, predictions_b, options,
                                                             with_intervals=False)}
    for a in results_a:
      b = results_b.get(a.metric)
      if b is None or a.per_image is None or b.per_image is None:
        continue
      comparisons.append(Comparison(benchmark_id, a.metric, a.value, b.value, a.n,
                                    paired_test(a, b)))
  if not comparisons:
    raise errors.UserError(f"{path_a} and {path_b}: nothing to compare ("
                           + "; ".join(notes or ["no per-image figures"]) + ")")
  return model_a, model_b, comparisons, notes


def format_comparison(model_a: str, model_b: str, comparisons: Sequence[Comparison],
                      notes: Sequence[str] = (), per_severity: bool = False) -> str:
  """Markdown table of the comparisons: A, B, B - A, its interval, p and the test."""
  header = ["benchmark", "metric", f"A: {model_a}", f"B: {model_b}", "B - A",
            "95% interval of B - A", "p", "test", "n"]
  rows = []
  for c in sorted(comparisons, key=lambda c: (c.benchmark, tables.metric_sort_key(c.metric))):
    if tables.is_detail(c.metric) and not per_severity:
      continue
    t = c.test
    show = ((lambda v: tables.signed_points(v, 2)) if tables.is_fraction(c.metric)
            else (lambda v: f"{v:+.3f}"))
    # The McNemar counts are the images one run counts and the other does
    # not; for an error rate those are the ones it got wrong, so the images
    # only A got right are the ones only B counts.
    right_a_only, right_b_only = ((t.b_only, t.a_only) if tables.is_error_rate(c.metric)
                                 else (t.a_only, t.b_only))
    interval = (f"{show(t.ci_low)} to {show(t.ci_high)}" if np.isfinite(t.ci_low)
                else f"{right_a_only} vs {right_b_only} discordant")
    rows.append([c.benchmark, c.metric, tables.format_value(c.metric, c.value_a),
                 tables.format_value(c.metric, c.value_b), show(t.difference), interval,
                 f"{t.p_value:.3g}", t.method, str(c.n)])
  lines = [tables.markdown_table(header, rows, left_columns=2), "",
           "B - A in percentage points for fractions. Proportions: exact McNemar test "
           "(the interval column gives the images only A / only B got right); other "
           f"figures: paired bootstrap, {intervals.RESAMPLES} resamples of the same images "
           "for both runs. p is two-sided."]
  lines += [f"Not compared: {note}" for note in notes]
  return "\n".join(lines)
