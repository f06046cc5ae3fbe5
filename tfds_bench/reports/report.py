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
  have ReaL accuracy-vs-threshold points; ``factor_error_ratios.png`` (ImageNet-X
  error ratio per factor, model beside model, with intervals) when the records
  have factor error ratios;
* the OpenOOD v1.5 OOD section (`tfds_bench.reports.openood`) when the
  records have its near / far figures, and ``openood_<score>_<model>.png``
  (each score's ID vs OOD-set histograms, `write_score_distributions`) for
  every run whose per-image predictions are given (``run_predictions``).
* ``per_class.csv`` (every class's top-1 with its interval and top-5, worst
  first) when the records have per-class rows; report.md then has a
  "Where it fails" section: the worst classes, the metaclasses and the
  factors.
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
FACTOR_ERROR_RATIOS_PNG = "factor_error_ratios.png"
PER_CLASS_CSV = "per_class.csv"
# Classes listed per model and benchmark in report.md (all are in per_class.csv).
WORST_CLASSES_SHOWN = 15
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


def _interval_text(low, high, fraction: bool = True) -> str:
  if low is None or high is None:
    return ""
  if fraction:
    return f"{100 * low:.1f}-{100 * high:.1f}"
  return f"{low:.2f}-{high:.2f}"


def _where_it_fails_section(records: Sequence[Mapping]) -> List[str]:
  """Worst classes, metaclasses and ImageNet-X factors; empty without such rows."""
  class_rows = tables.per_group_rows(records, "class/")
  metaclass_rows = tables.per_group_rows(records, "metaclass/")
  factor_records = [r for r in records if r["metric"].startswith(("factor/", "multi_factor/"))
                    and r["metric"].endswith(tables.ERROR_RATIO_SUFFIX)]
  if not (class_rows or metaclass_rows or factor_records):
    return []
  lines = ["## Where it fails", ""]
  if class_rows:
    lines += [f"The {WORST_CLASSES_SHOWN} classes with the lowest top-1 per model and "
              f"benchmark, worst first; every class is in {PER_CLASS_CSV}. Intervals: "
              "Clopper-Pearson, 95 %.", ""]
    shown = {}
    for row in class_rows:
      shown.setdefault((row[0], row[1]), []).append(row)
    for (model, benchmark), rows in shown.items():
      lines += [f"### {model}: {benchmark}", "", tables.markdown_table(
          ["wnid", "class", "top-1 (%)", "95% interval", "top-5 (%)", "images"],
          [[r[2], r[3], tables.percent(r[4]), _interval_text(r[5], r[6]),
            tables.percent(r[7]), str(r[8])] for r in rows[:WORST_CLASSES_SHOWN]],
          left_columns=2), ""]
  if metaclass_rows:
    lines += ["### ImageNet-X metaclasses", "",
              "Top-1 over the images whose label is in the metaclass (ImageNet-X's 16 "
              "metaclasses; the other 84 of its 100 pooled as \"other\"), worst first.", "",
              tables.markdown_table(
                  ["model", "benchmark", "metaclass", "top-1 (%)", "95% interval", "images"],
                  [[r[0], r[1], r[2], tables.percent(r[4]), _interval_text(r[5], r[6]),
                    str(r[8])] for r in metaclass_rows], left_columns=3), ""]
  if factor_records:
    lines += ["### ImageNet-X factors of variation", "",
              "Error ratio = (1 - top-1 on the images with the factor) / (1 - top-1 on all the "
              "annotated images), prototypes dropped (Idrissi et al. 2023); above 1 the factor "
              "hurts. Intervals: bootstrap over the annotated images, 95 %; n: images with "
              "the factor.", "",
              tables.markdown_table(
                  ["model", "benchmark", "factor", "error ratio", "95% interval", "n"],
                  [[str(r["model"]), str(r["benchmark"]), str(r["metric"]).rsplit("/", 1)[0],
                    f"{r['value']:.3f}", _interval_text(r.get("ci_low"), r.get("ci_high"),
                                                        fraction=False), str(r["n"])]
                   for r in sorted(factor_records, key=lambda r: (
                       r["model"], r["benchmark"], r["metric"].startswith("multi_"),
                       -float(r["value"])))], left_columns=3), ""]
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
  lines += _where_it_fails_section(records)
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


def write_score_distributions(model: str, by_source: Mapping[str, object], output_dir: str,
                              manual_dir: Optional[str] = None) -> List[str]:
  """``openood_<score>_<model>.png`` per score: OpenOOD's ID val images
  against each OOD set the run predicted (`figures.score_distributions_figure`).

  Args:
    model: the run's model name (in the file names and titles).
    by_source: the run's predictions, source key -> Predictions.
    output_dir: where the PNGs go (created if missing).
    manual_dir: where the user's OpenOOD lists are (None: the shipped ones).

  Returns:
    The paths written; [] when the run has no val or no OpenOOD set.

  Raises:
    errors.UserError: the val predictions miss some of OpenOOD's ID images.
  """
  if not openood_report.has_track(by_source):
    return []
  os.makedirs(output_dir, exist_ok=True)
  paths = []
  for score, (id_scores, sets) in openood_report.run_distribution_inputs(
      by_source, manual_dir).items():
    if not sets:
      continue
    path = os.path.join(output_dir, figures.score_distributions_file_name(model, score))
    paths.append(figures.plot_score_distributions(
        id_scores, sets, score, path,
        title=f"{model}: {score}, OpenOOD's ImageNet val test images vs each OOD set"))
  return paths


def write_report(records: Sequence[Mapping], output_dir: str,
                 robustness_baseline: str = PUBLISHED_BASELINE,
                 run_predictions: Optional[Mapping[str, Mapping[str, object]]] = None,
                 manual_dir: Optional[str] = None,
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
    run_predictions: model -> its run's predictions (source key ->
      Predictions), for the per-image figures (OpenOOD score distributions).
    manual_dir: where the user's OpenOOD lists are (None: the shipped ones).
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
  for name, draw in ((CORRUPTION_ERRORS_PNG, figures.corruption_errors_figure),
                     (SHAPE_BIAS_PNG, figures.shape_bias_figure),
                     (ERROR_CONSISTENCY_PNG, figures.error_consistency_figure)):
    figure = draw(records)
    if figure is not None:
      figures.save_figure(figure, os.path.join(output_dir, name))
      images.append(name)
  curves = figures.real_curves(records)
  if curves:
    figures.plot_real_curves(curves, os.path.join(output_dir, REAL_CURVE_PNG))
    images.append(REAL_CURVE_PNG)
  figure = figures.factor_error_ratio_figure(records)
  if figure is not None:  # after the ReaL curves: the order report.md shows them in
    figures.save_figure(figure, os.path.join(output_dir, FACTOR_ERROR_RATIOS_PNG))
    images.append(FACTOR_ERROR_RATIOS_PNG)
  written = []
  if any(r["metric"].startswith("class/") for r in records):
    per_class_path = os.path.join(output_dir, PER_CLASS_CSV)
    atomic.write_text(per_class_path, tables.per_class_csv(records))
    written.append(per_class_path)
  for model, by_source in (run_predictions or {}).items():
    images += [os.path.basename(p) for p in
               write_score_distributions(model, by_source, output_dir, manual_dir)]
  md_path = os.path.join(output_dir, REPORT_MD)
  csv_path = os.path.join(output_dir, REPORT_CSV)
  atomic.write_text(md_path, report_markdown(records, fits, images, robustness_baseline,
                                             published_matches))
  atomic.write_text(csv_path, tables.wide_csv(records))
  return ([md_path, csv_path] + [os.path.join(output_dir, name) for name in images]
          + written)
