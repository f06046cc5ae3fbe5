"""Results -> console table, Markdown, JSON and CSV; reading results files back."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Dict, Iterable, List, Sequence

from tfds_bench import errors

RECORD_FIELDS = ("model", "benchmark", "metric", "value", "n", "suite_version")
# Metrics shown as percentages in tables (all values are fractions on disk).
_DISPLAY_ORDER = ("top1", "top5", "top1_1000way", "real_top1", "real_top5", "ece",
                  "rms_calibration_error", "aupr", "auroc", "mce", "relative_mce", "mfp", "mt5d")


def write_results(output_dir: str, records: Sequence[Dict], provenance: Dict) -> List[str]:
  """Writes ``results.json`` (records + provenance) and ``results.csv``."""
  os.makedirs(output_dir, exist_ok=True)
  json_path = os.path.join(output_dir, "results.json")
  csv_path = os.path.join(output_dir, "results.csv")
  payload = {"provenance": provenance, "results": list(records)}
  _atomic_write(json_path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
  _atomic_write(csv_path, records_to_csv(records))
  return [json_path, csv_path]


def _atomic_write(path: str, text: str) -> None:
  # Write then rename: an interrupted run never leaves a half-written file.
  tmp = f"{path}.tmp-{os.getpid()}"
  try:
    with open(tmp, "w", encoding="utf-8", newline="") as f:
      f.write(text)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def records_to_csv(records: Iterable[Dict]) -> str:
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=RECORD_FIELDS, extrasaction="ignore",
                          lineterminator="\n")
  writer.writeheader()
  for record in records:
    writer.writerow({k: _csv_value(record.get(k)) for k in RECORD_FIELDS})
  return buffer.getvalue()


def _csv_value(value):
  return repr(value) if isinstance(value, float) else value


def load_results(path: str) -> List[Dict]:
  """Records of a results.json (a list, or an object with a "results" list)."""
  try:
    with open(path, encoding="utf-8") as f:
      payload = json.load(f)
  except FileNotFoundError:
    raise errors.UserError(f"results file not found: {path}") from None
  except IsADirectoryError:
    raise errors.UserError(f"{path} is a folder; give its results.json") from None
  except UnicodeDecodeError:
    raise errors.UserError(f"{path} is not UTF-8 text, so not a results.json") from None
  except json.JSONDecodeError as e:
    raise errors.UserError(f"{path} is not valid JSON: {e}") from None
  records = payload.get("results") if isinstance(payload, dict) else payload
  if not isinstance(records, list):
    raise errors.UserError(f"{path}: expected a list of results or an object with \"results\"")
  for i, record in enumerate(records):
    if not isinstance(record, dict):
      raise errors.UserError(f"{path}: result {i} is not an object: {record!r:.80}")
    missing = [k for k in ("model", "benchmark", "metric", "value", "n") if k not in record]
    if missing:
      raise errors.UserError(f"{path}: result {i} lacks {', '.join(missing)}")
    value = record["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
      raise errors.UserError(f"{path}: result {i}: value must be a finite number (a fraction), "
                             f"got {value!r:.80}")
    if isinstance(record["n"], bool) or not isinstance(record["n"], int):
      raise errors.UserError(f"{path}: result {i}: n must be an integer, got {record['n']!r:.80}")
    for key in ("model", "benchmark", "metric"):
      if not isinstance(record[key], str):
        raise errors.UserError(f"{path}: result {i}: {key} must be a string, "
                               f"got {record[key]!r:.80}")
  return records


def _metric_sort_key(metric: str):
  base, _, detail = metric.partition("/")
  rank = _DISPLAY_ORDER.index(base) if base in _DISPLAY_ORDER else len(_DISPLAY_ORDER)
  if base == "error":
    # Corruptions in the ImageNet-C paper's order, each followed by its severities.
    from tfds_bench.corruptions import NAMES  # pylint: disable=g-import-not-at-top
    name = detail[:-2] if is_per_severity(metric) else detail
    return (rank, NAMES.index(name) if name in NAMES else len(NAMES), metric)
  return (rank, 0, metric)


def _rows(records: Sequence[Dict]) -> List[List[str]]:
  rows = []
  ordered = sorted(records, key=lambda r: (r["model"], r["benchmark"],
                                           _metric_sort_key(r["metric"])))
  for r in ordered:
    rows.append([r["model"], r["benchmark"], r["metric"], format_value(r["metric"], r["value"]),
                 str(r["n"])])
  return rows


_HEADER = ["model", "benchmark", "metric", "value", "n"]

# Metrics that are not fractions: mean top-5 distances (ranks moved, ImageNet-P).
_NOT_FRACTIONS = ("top5_distance", "mean_top5_distance")


def format_value(metric: str, value: float) -> str:
  """Fractions as percentages; distances as plain numbers."""
  if metric.split("/")[0] in _NOT_FRACTIONS:
    return f"{value:.3f}"
  return f"{100 * value:.2f}%"


def is_per_severity(metric: str) -> bool:
  """``error/<corruption>_<severity>``: detail kept in the files, not the console."""
  return metric.startswith("error/") and metric[-2:-1] == "_" and metric[-1].isdigit()


def is_detail(metric: str) -> bool:
  """Per-severity errors and ReaL curve points: in the files, not the console."""
  return is_per_severity(metric) or metric.startswith("top1_at_threshold/")


def format_table(records: Sequence[Dict], per_severity: bool = False) -> str:
  """Aligned plain-text table for the console.

  Per-severity corruption errors (95 rows per model for ImageNet-C) and the
  ReaL accuracy-vs-threshold points are left out unless ``per_severity``; a
  footer says where they are.
  """
  shown = [r for r in records if per_severity or not is_detail(r["metric"])]
  hidden = len(records) - len(shown)
  rows = [_HEADER] + _rows(shown)
  widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
  numeric = {3, 4}
  lines = []
  for j, row in enumerate(rows):
    cells = [c.rjust(w) if i in numeric else c.ljust(w)
             for i, (c, w) in enumerate(zip(row, widths))]
    lines.append("  ".join(cells).rstrip())
    if j == 0:
      lines.append("  ".join("-" * w for w in widths))
  if hidden:
    lines.append(f"({hidden} detail rows (per-severity errors, ReaL curve points) are in "
                 "results.json / results.csv)")
  return "\n".join(lines)


def format_markdown(records: Sequence[Dict]) -> str:
  """GitHub-flavoured Markdown table."""
  lines = ["| " + " | ".join(_HEADER) + " |", "|---|---|---|---:|---:|"]
  lines += ["| " + " | ".join(row) + " |" for row in _rows(records)]
  return "\n".join(lines)
