"""Tables of results records: the console table, Markdown, CSV and the wide table.

One metric ordering (`metric_sort_key`), one Markdown table writer
(`markdown_table`) and one CSV writer (`csv_text`) serve the console table,
``results.csv`` and the report's wide tables. Pure text: no matplotlib, no
TensorFlow.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from tfds_bench import labels
from tfds_bench.corruptions import NAMES as CORRUPTION_NAMES
from tfds_bench.metrics import intervals

# Headline metrics, in the order tables show them.
DISPLAY_ORDER = ("top1", "top5", "top1_1000way", "real_top1", "real_top5", "ece",
                 "rms_calibration_error", "aupr", "auroc", "mce", "relative_mce", "mfp", "mt5d")
ERROR_PREFIX = "error/"
# Metrics that are not fractions: mean top-5 distances (ranks moved, ImageNet-P).
_NOT_FRACTIONS = ("top5_distance", "mean_top5_distance")
_HEADER = ("model", "benchmark", "metric", "value", "95% interval", "n")
# The where-it-fails breakdown (`tfds_bench.scoring.breakdown`): one row per
# class, metaclass or factor. In the files; the console shows only the
# top-factor error ratios (ImageNet-X's headline figure).
BREAKDOWN_PREFIXES = ("class/", "metaclass/", "factor/", "multi_factor/")
ERROR_RATIO_SUFFIX = "/error_ratio"

Cell = Tuple[str, str]  # (benchmark, metric)

INTERVAL_NOTE = (f"95% intervals: exact binomial (Clopper-Pearson) for proportions, a seeded "
                 f"bootstrap over images ({intervals.RESAMPLES} resamples) for the other figures.")


def is_per_severity(metric: str) -> bool:
  """``error/<corruption>_<severity>``: detail kept in the files, not the console."""
  return metric.startswith(ERROR_PREFIX) and metric[-2:-1] == "_" and metric[-1].isdigit()


def is_breakdown(metric: str) -> bool:
  """A per-class, per-metaclass or per-factor figure."""
  return metric.startswith(BREAKDOWN_PREFIXES)


def is_detail(metric: str) -> bool:
  """Per-severity errors, ReaL curve points and the per-class / per-metaclass /
  per-factor rows (but the top-factor error ratios): in the files, not the console."""
  if metric.startswith("factor/") and metric.endswith(ERROR_RATIO_SUFFIX):
    return False
  return (is_per_severity(metric) or metric.startswith("top1_at_threshold/")
          or is_breakdown(metric))


def is_corruption_error(metric: str) -> bool:
  """error/<corruption> (mean over severities), not error/<corruption>_<s>."""
  return metric.startswith(ERROR_PREFIX) and not is_per_severity(metric)


def is_error_rate(metric: str) -> bool:
  """A proportion of images the model got wrong (`clean_error`, `error/...`):
  its per-image counts are the wrong answers."""
  return metric == "clean_error" or metric.startswith(ERROR_PREFIX)


def metric_sort_key(metric: str):
  """The order of metrics in every table.

  Headline metrics in `DISPLAY_ORDER`, then any other metric alphabetically,
  then the corruption errors in the ImageNet-C paper's corruption order, each
  mean followed by its severities.
  """
  if metric.startswith(ERROR_PREFIX):
    name = metric[len(ERROR_PREFIX):]
    corruption = name[:-2] if is_per_severity(metric) else name
    known = CORRUPTION_NAMES
    return (2, known.index(corruption) if corruption in known else len(known), name)
  if metric in DISPLAY_ORDER:
    return (0, DISPLAY_ORDER.index(metric), metric)
  return (1, 0, metric)


def is_fraction(metric: str) -> bool:
  """Whether the metric's values are fractions (shown in %), not distances or
  error ratios."""
  return (metric.split("/")[0] not in _NOT_FRACTIONS
          and not metric.endswith(ERROR_RATIO_SUFFIX))


def format_value(metric: str, value: float) -> str:
  """Fractions as percentages; distances as plain numbers."""
  if not is_fraction(metric):
    return f"{value:.3f}"
  return f"{100 * value:.2f}%"


def format_interval(record: Mapping) -> str:
  """The record's 95 % interval, compactly: "61.90-63.40" (% for fractions);
  "" without one."""
  low, high = record.get("ci_low"), record.get("ci_high")
  if low is None or high is None:
    return ""
  if not is_fraction(record["metric"]):
    return f"{low:.3f}-{high:.3f}"
  return f"{100 * low:.2f}-{100 * high:.2f}"


def percent(value: Optional[float]) -> str:
  """A fraction as a percentage with two decimals, no sign; "" for None."""
  if value is None:
    return ""
  if math.isnan(value):
    return "nan"
  return f"{100 * value:.2f}"


def signed_points(value: float, decimals: int) -> str:
  """A fraction as signed percentage points; never "-0.0"."""
  rounded = round(100 * value, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
  return f"{rounded:+.{decimals}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                   left_columns: int = 1) -> str:
  """GitHub-flavoured Markdown table; the first ``left_columns`` left-aligned, the rest right."""
  align = ["---" if i < left_columns else "---:" for i in range(len(header))]
  lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
  lines += ["| " + " | ".join(row) + " |" for row in rows]
  return "\n".join(lines)


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
  """CSV text ("\\n" line ends): floats written with ``repr`` (exact), None as ""."""
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(header)
  for row in rows:
    writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
  return buffer.getvalue()


# --- the long table: one row per record ---------------------------------------

def _rows(records: Sequence[Mapping]) -> List[List[str]]:
  ordered = sorted(records, key=lambda r: (r["model"], r["benchmark"],
                                           metric_sort_key(r["metric"])))
  return [[r["model"], r["benchmark"], r["metric"], format_value(r["metric"], r["value"]),
           format_interval(r), str(r["n"])] for r in ordered]


def format_table(records: Sequence[Mapping], per_severity: bool = False,
                 results_written: bool = True) -> str:
  """Aligned plain-text table for the console.

  Per-severity corruption errors (95 rows per model for ImageNet-C) and the
  ReaL accuracy-vs-threshold points are left out unless ``per_severity``; a
  footer says where they are: the results files when ``results_written``,
  else how to get them (``--output_dir``).
  """
  shown = [r for r in records if per_severity or not is_detail(r["metric"])]
  hidden = len(records) - len(shown)
  rows = [list(_HEADER)] + _rows(shown)
  widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
  numeric = {3, 4, 5}
  lines = []
  for j, row in enumerate(rows):
    cells = [c.rjust(w) if i in numeric else c.ljust(w)
             for i, (c, w) in enumerate(zip(row, widths))]
    lines.append("  ".join(cells).rstrip())
    if j == 0:
      lines.append("  ".join("-" * w for w in widths))
  if hidden:
    where = ("are in results.json / results.csv" if results_written
             else "are written to results.json / results.csv with --output_dir=DIR")
    kinds = "per-severity errors, ReaL curve points"
    if any(is_breakdown(r["metric"]) and is_detail(r["metric"]) for r in records):
      kinds += ", per-class and per-factor figures"
    lines.append(f"({hidden} detail rows ({kinds}) {where})")
  if any(r.get("ci_method") for r in shown):
    lines.append(INTERVAL_NOTE)
  return "\n".join(lines)


# --- the wide table: one row per model ----------------------------------------

@dataclasses.dataclass
class WideTable:
  """Records pivoted to one row per model, one column per (benchmark, metric).

  Attributes:
    models: model names, sorted.
    columns: (benchmark, metric) pairs, by benchmark then `metric_sort_key`.
    values: (model, benchmark, metric) -> value (a fraction).
    duplicates: number of records that repeated a (model, benchmark, metric)
      already seen; the later record wins.
  """
  models: List[str]
  columns: List[Cell]
  values: Dict[Tuple[str, str, str], float]
  duplicates: int = 0

  def get(self, model: str, benchmark: str, metric: str) -> Optional[float]:
    return self.values.get((model, benchmark, metric))


def wide_table(records: Iterable[Mapping]) -> WideTable:
  """Pivots flat records into a `WideTable`."""
  values: Dict[Tuple[str, str, str], float] = {}
  duplicates = 0
  for record in records:
    key = (str(record["model"]), str(record["benchmark"]), str(record["metric"]))
    if key in values:
      duplicates += 1
    values[key] = float(record["value"])
  models = sorted({m for m, _, _ in values})
  columns = sorted({(b, m) for _, b, m in values},
                   key=lambda c: (c[0], metric_sort_key(c[1])))
  return WideTable(models, columns, values, duplicates)


def compare_table(records: Iterable[Mapping], include_per_corruption: bool = False) -> str:
  """Markdown comparison table: one row per model, one column per benchmark/metric.

  Values are percentages with two decimals; an empty cell means the model has
  no such result. Per-corruption errors (``error/...``) are left out unless
  ``include_per_corruption`` (they have their own table in the report), and
  so are the per-class / metaclass / factor rows (their own sections).
  """
  table = wide_table(records)
  columns = [c for c in table.columns
             if (include_per_corruption or not c[1].startswith(ERROR_PREFIX))
             and not is_breakdown(c[1])]
  header = ["model"] + [f"{b} {m} (%)" for b, m in columns]
  rows = [[model] + [percent(table.get(model, b, m)) for b, m in columns]
          for model in table.models]
  return markdown_table(header, rows)


def wide_csv(records: Iterable[Mapping]) -> str:
  """CSV: one row per model, a column ``<benchmark>:<metric>`` per figure.

  Values are fractions written with ``repr`` (exact), empty where missing.
  """
  table = wide_table(records)
  return csv_text(["model"] + [f"{b}:{m}" for b, m in table.columns],
                  ([model] + [table.get(model, b, m) for b, m in table.columns]
                   for model in table.models))


def intervals_of(records: Iterable[Mapping]) -> Dict[Tuple[str, str, str], Tuple[float, float]]:
  """(model, benchmark, metric) -> (ci_low, ci_high), for records that have one."""
  return {(str(r["model"]), str(r["benchmark"]), str(r["metric"])):
          (float(r["ci_low"]), float(r["ci_high"]))
          for r in records if r.get("ci_low") is not None and r.get("ci_high") is not None}


def corruption_benchmarks(records: Iterable[Mapping]) -> List[str]:
  """Benchmarks with per-corruption errors (``error/<corruption>``)."""
  return sorted({str(r["benchmark"]) for r in records if is_corruption_error(r["metric"])})


# --- where it fails: per class, per metaclass -------------------------------

PER_CLASS_HEADER = ("model", "benchmark", "wnid", "class", "top1", "top1_ci_low",
                    "top1_ci_high", "top5", "n")


def per_group_rows(records: Iterable[Mapping], prefix: str = "class/") -> List[List]:
  """One row per model, benchmark and class (or ``metaclass/``) with top-1
  and its interval, top-5 and n; sorted by model, benchmark, then top-1
  (worst first). Classes are named by wnid and class name; metaclasses by name."""
  by_group: Dict[Tuple[str, str, str], Dict[str, Mapping]] = {}
  for r in records:
    metric = str(r["metric"])
    if not metric.startswith(prefix):
      continue
    name, _, figure = metric[len(prefix):].rpartition("/")
    by_group.setdefault((str(r["model"]), str(r["benchmark"]), name), {})[figure] = r
  names = dict(zip(labels.wnids(), labels.class_names())) if prefix == "class/" else {}
  rows = []
  for (model, benchmark, name), figures in by_group.items():
    top1, top5 = figures.get("top1"), figures.get("top5")
    if top1 is None:
      continue
    rows.append([model, benchmark, name, names.get(name, name), float(top1["value"]),
                 top1.get("ci_low"), top1.get("ci_high"),
                 None if top5 is None else float(top5["value"]), int(top1["n"])])
  rows.sort(key=lambda row: (row[0], row[1], row[4], row[2]))
  return rows


def per_class_csv(records: Iterable[Mapping]) -> str:
  """CSV of `per_group_rows` (fractions, exact)."""
  return csv_text(PER_CLASS_HEADER, per_group_rows(records))
