"""``write_report``: report.md, report.csv and the PNGs the records allow.

``write_report(records, output_dir)`` (what ``bench_main --report=...`` calls)
writes:

* ``report.md``: one row per model and one column per benchmark/metric
  (values in %), the per-corruption errors, and the models among the
  published ones (`tfds_bench.reports.context`): effective robustness
  against the logit-axis line fitted over the published models (Taori et al.
  2020) and each model's percentile per benchmark. With
  ``robustness_baseline="models"`` the line is fitted over the report's own
  models instead (`tfds_bench.metrics.robustness`).
* ``report.csv``: the same table, wide, with every metric (per-severity
  corruption errors included); values are fractions, like ``results.csv``.
* ``published_context.png``: the models on the published val-vs-shift
  scatter (ImageNetV2, Sketch, A, R), always;
* ``effective_robustness.png`` (fit over the report's models, with
  ``robustness_baseline="models"``) when some model has ImageNet val top-1 and
  top-1 on a shifted benchmark; ``corruption_errors.png`` when some model has
  per-corruption errors; ``shape_bias.png`` (model-vs-human cue-conflict, per
  category, models and the human mean) and ``error_consistency.png`` (per
  model-vs-human dataset, with the humans among themselves) when the records
  have them; ``real_accuracy_vs_threshold.png`` when the records
  have ReaL accuracy-vs-threshold points.
* the OpenOOD v1.5 OOD section (`tfds_bench.reports.openood`) when the
  records have its near / far figures.
* the published row beside the measurement of each model matched to one
  (``published_matches``: model -> `published.Match.describe()`, from the
  results files' provenance: timm checkpoints).

Every file is written atomically (temporary file, then rename).
"""

from __future__ import annotations

import os
from typing import List, Mapping, Optional, Sequence

from tfds_bench import published
from tfds_bench.metrics import robustness
from tfds_bench.reports import atomic
from tfds_bench.reports import context
from tfds_bench.reports import figures
from tfds_bench.reports import openood as openood_report
from tfds_bench.reports import tables

REPORT_MD = "report.md"
REPORT_CSV = "report.csv"
EFFECTIVE_ROBUSTNESS_PNG = "effective_robustness.png"
CORRUPTION_ERRORS_PNG = "corruption_errors.png"
REAL_CURVE_PNG = "real_accuracy_vs_threshold.png"
PUBLISHED_CONTEXT_PNG = "published_context.png"
SHAPE_BIAS_PNG = "shape_bias.png"
ERROR_CONSISTENCY_PNG = "error_consistency.png"
# Where the effective-robustness line comes from.
PUBLISHED_BASELINE = "published"
MODELS_BASELINE = "models"

_REFERENCE = robustness.REFERENCE_BENCHMARK


def _robustness_section(fits: Sequence[robustness.RobustnessFit],
                        has_reference: bool) -> List[str]:
  lines = ["## Effective robustness", ""]
  if not fits:
    lines.append(
        f"Not computed: it needs {_REFERENCE} top-1 and top-1 on a shifted benchmark "
        "(ImageNetV2, -Sketch, -A, -R, ...) for the same models"
        + ("." if has_reference else f"; these results have no {_REFERENCE} top-1."))
    return lines
  lines += [
      "Method (Taori et al. 2020): for each shifted benchmark, a least-squares line is fitted "
      f"across the models below to logit(shifted top-1) against logit({_REFERENCE} "
      "top-1), logit(p) = log(p / (1 - p)). A model's effective robustness is its shifted "
      "top-1 minus the line's prediction at its ImageNet top-1, mapped back to accuracy, in "
      "percentage points (pp): above the line is positive. The line is fitted over the "
      "models in this report only (the paper uses ~200 standard ImageNet models), so the "
      "numbers compare these models with each other; with exactly two models the line "
      "passes through both and every value is 0. The x axis is 1000-class "
      f"{_REFERENCE} top-1 for every shift.",
      ""]
  models = sorted({m for f in fits for m in f.points})
  header = ["model"] + [f"{f.shifted_benchmark} (pp)" for f in fits]
  rows = []
  for model in models:
    row = [model]
    for fit in fits:
      value = fit.effective_robustness.get(model)
      row.append("" if value is None else tables.signed_points(value, 2))
    rows.append(row)
  lines += [tables.markdown_table(header, rows), ""]
  for fit in fits:
    if fit.has_fit:
      lines.append(f"- {fit.shifted_benchmark}: logit(y) = {fit.slope:.4f} * logit(x) "
                   f"{fit.intercept:+.4f}, over {len(fit.points)} models.")
    else:
      lines.append(f"- {fit.shifted_benchmark}: fit skipped, {fit.why_no_fit()}; "
                   "the plot shows the points only.")
  return lines


def _published_section(contexts: Sequence[context.ShiftContext],
                       standings: Sequence[context.Standing]) -> List[str]:
  lines = ["## Among the published models", "", published.PREPROCESSING_NOTE, "",
           "Effective robustness (Taori et al. 2020) against the published baseline: for each "
           "shift, a least-squares line fitted over the published (model, image size) rows to "
           "logit(shifted top-1) against logit(reference top-1), logit(p) = log(p / (1 - p)); "
           "a model's effective robustness is its shifted top-1 minus the line's prediction at "
           "its reference top-1, in percentage points (above the line is positive). ImageNet-A "
           "and -R are compared with ImageNet val top-1 over the same 200 classes, as the "
           "published results are. A model without its own ImageNet val and shift results is "
           "shown by its published counterpart's row, marked as not measured.", ""]
  rows = []
  for shift in contexts:
    dots = shift.published
    line = (f"logit(y) = {shift.slope:.4f} logit(x) {shift.intercept:+.4f} over "
            f"{len(dots.keys)} rows")
    if not shift.points:
      rows.append([dots.shifted_benchmark, dots.reference_benchmark, line, "", "", "", ""])
    for p in shift.points:
      rows.append([dots.shifted_benchmark, dots.reference_benchmark, line, p.label,
                   tables.percent(p.reference), tables.percent(p.shifted),
                   tables.signed_points(p.effective_robustness, 2)])
  lines += [tables.markdown_table(["shift", "x axis", "published line", "model", "x top-1 (%)",
                                   "shift top-1 (%)", "effective robustness (pp)"], rows,
                                  left_columns=4), ""]
  if standings:
    lines += ["Percentile: the share of published rows with a lower top-1 (ties count half).",
              "", tables.markdown_table(
                  ["model", "benchmark", "top-1 (%)", "percentile", "published rows"],
                  [[s.label, s.benchmark, tables.percent(s.top1), f"{s.percentile:.1f}",
                    str(s.published_rows)] for s in standings], left_columns=2), ""]
  else:
    lines += ["No percentile: none of these models has top-1 on a benchmark with published "
              "results (imagenet2012, imagenet2012_real, imagenet_v2/matched-frequency, "
              "imagenet_sketch, imagenet_a, imagenet_r) nor a published counterpart.", ""]
  return lines


def _corruption_section(records: Sequence[Mapping]) -> List[str]:
  benchmarks = tables.corruption_benchmarks(records)
  if not benchmarks:
    return []
  table = tables.wide_table(records)
  lines = ["## Corruption errors", "",
           "Top-1 error (%) per corruption, mean over the 5 severities; mCE and relative mCE "
           "are normalised by AlexNet (Hendrycks & Dietterich 2019).", ""]
  names = {"mce": "mCE", "relative_mce": "relative mCE"}
  for benchmark in benchmarks:
    summary = [m for m in ("mce", "relative_mce") if (benchmark, m) in table.columns]
    corruptions = [m for b, m in table.columns
                   if b == benchmark and tables.is_corruption_error(m)]
    header = ["model"] + [names[m] for m in summary] + [
        m[len(tables.ERROR_PREFIX):] for m in corruptions]
    rows = [[model] + [tables.percent(table.get(model, benchmark, m))
                       for m in summary + corruptions]
            for model in table.models
            if any(table.get(model, benchmark, m) is not None for m in corruptions)]
    lines += [f"### {benchmark}", "", tables.markdown_table(header, rows), ""]
  return lines


def _published_rows_section(records: Sequence[Mapping],
                            published_matches: Mapping[str, Mapping]) -> List[str]:
  """Measured top-1 / top-5 beside the published row of the same checkpoint."""
  if not published_matches:
    return []
  lines = ["## Published rows beside the measurement", "",
           "Each model's own published row (timm's results, matched on its architecture, "
           "pretrained tag and image size); the measured interval is the 95 % one.", ""]
  header = ["model", "benchmark", "metric", "measured", "95% interval", "published",
            "published on"]
  for model, match in sorted(published_matches.items()):
    if not match.get("model"):
      lines += [f"* {model}: no published row matches ({match.get('note')}).", ""]
      continue
    rows = tables.published_rows([r for r in records if r["model"] == model], match)
    lines += [f"* {model}: {match.get('note')}."]
    if rows:
      lines += ["", tables.markdown_table(header, [[model] + row for row in rows])]
    else:
      lines += ["  (the run measured none of the published sets)"]
    lines.append("")
  return lines


def report_markdown(records: Sequence[Mapping], fits: Sequence[robustness.RobustnessFit],
                    images: Sequence[str],
                    robustness_baseline: str = PUBLISHED_BASELINE,
                    published_matches: Optional[Mapping[str, Mapping]] = None) -> str:
  """The text of report.md (``images``: PNG file names written beside it)."""
  records = list(records)
  table = tables.wide_table(records)
  versions = sorted({str(r.get("suite_version")) for r in records if r.get("suite_version")})
  lines = ["# Benchmark report", "",
           f"{len(table.models)} model(s): {', '.join(table.models)}."]
  if versions:
    lines.append(f"Suite version(s): {', '.join(versions)}.")
  if table.duplicates:
    lines.append(f"{table.duplicates} record(s) repeated a model/benchmark/metric already "
                 "seen; the later one is shown.")
  lines += ["", "## Results", "",
            "Values in %; an empty cell means no result. Every figure, per-severity "
            f"corruption errors included, is in {REPORT_CSV} (as fractions).", "",
            tables.compare_table(records), ""]
  lines += _corruption_section(records)
  lines += openood_report.section(records)
  lines += _published_rows_section(records, published_matches or {})
  lines += _published_section(context.shift_contexts(records), context.standings(records))
  if robustness_baseline == MODELS_BASELINE:
    has_reference = any(r["benchmark"] == _REFERENCE
                        and r["metric"] == robustness.ACCURACY_METRIC for r in records)
    lines += _robustness_section(fits, has_reference) + [""]
  if images:
    lines += ["## Plots", ""] + [f"![{os.path.splitext(name)[0]}]({name})" for name in images]
    lines.append("")
  return "\n".join(lines)


def write_report(records: Sequence[Mapping], output_dir: str,
                 robustness_baseline: str = PUBLISHED_BASELINE,
                 published_matches: Optional[Mapping[str, Mapping]] = None) -> List[str]:
  """Writes report.md, report.csv and the plots the records allow.

  Args:
    records: flat results records (``model``, ``benchmark``, ``metric``,
      ``value`` as a fraction, ``n``), e.g. from several results.json files.
    output_dir: created if missing.
    robustness_baseline: ``"published"`` (default): effective robustness
      against the line over the published models; ``"models"``: also the
      line fitted over these records' models (section and
      effective_robustness.png), as before the published baseline.
    published_matches: model -> its published row (`load_published_match`).

  Returns:
    The paths written, report.md first.
  """
  if robustness_baseline not in (PUBLISHED_BASELINE, MODELS_BASELINE):
    raise ValueError(f"robustness_baseline must be {PUBLISHED_BASELINE!r} or "
                     f"{MODELS_BASELINE!r}, got {robustness_baseline!r}")
  records = list(records)
  os.makedirs(output_dir, exist_ok=True)
  images = []
  figures.save_figure(figures.published_context_figure(context.shift_contexts(records)),
                      os.path.join(output_dir, PUBLISHED_CONTEXT_PNG))
  images.append(PUBLISHED_CONTEXT_PNG)
  fits = []
  if robustness_baseline == MODELS_BASELINE:
    figure, fits = figures.effective_robustness_figure(records)
    if figure is not None:
      figures.save_figure(figure, os.path.join(output_dir, EFFECTIVE_ROBUSTNESS_PNG))
      images.append(EFFECTIVE_ROBUSTNESS_PNG)
  figure = figures.corruption_errors_figure(records)
  if figure is not None:
    figures.save_figure(figure, os.path.join(output_dir, CORRUPTION_ERRORS_PNG))
    images.append(CORRUPTION_ERRORS_PNG)
  for name, draw in ((SHAPE_BIAS_PNG, figures.shape_bias_figure),
                     (ERROR_CONSISTENCY_PNG, figures.error_consistency_figure)):
    figure = draw(records)
    if figure is not None:
      figures.save_figure(figure, os.path.join(output_dir, name))
      images.append(name)
  curves = figures.real_curves(records)
  if curves:
    figures.plot_real_curves(curves, os.path.join(output_dir, REAL_CURVE_PNG))
    images.append(REAL_CURVE_PNG)
  md_path = os.path.join(output_dir, REPORT_MD)
  csv_path = os.path.join(output_dir, REPORT_CSV)
  atomic.write_text(md_path, report_markdown(records, fits, images, robustness_baseline,
                                             published_matches))
  atomic.write_text(csv_path, tables.wide_csv(records))
  return [md_path, csv_path] + [os.path.join(output_dir, name) for name in images]
