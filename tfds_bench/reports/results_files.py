"""``results.json`` / ``results.csv``: writing them (atomically) and reading them back."""

from __future__ import annotations

import json
import math
import os
from typing import Dict, Iterable, List, Sequence

from tfds_bench import errors
from tfds_bench.reports import atomic
from tfds_bench.reports import tables

RECORD_FIELDS = ("model", "benchmark", "metric", "value", "n", "suite_version")
RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"


def write_results(output_dir: str, records: Sequence[Dict], provenance: Dict) -> List[str]:
  """Writes ``results.json`` (records + provenance) and ``results.csv``.

  Each file is written to a temporary file and renamed into place: an
  interrupted run never leaves a half-written file.
  """
  os.makedirs(output_dir, exist_ok=True)
  json_path = os.path.join(output_dir, RESULTS_JSON)
  csv_path = os.path.join(output_dir, RESULTS_CSV)
  payload = {"provenance": provenance, "results": list(records)}
  atomic.write_text(json_path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
  atomic.write_text(csv_path, records_to_csv(records))
  return [json_path, csv_path]


def records_to_csv(records: Iterable[Dict]) -> str:
  """The text of ``results.csv``: one row per record, `RECORD_FIELDS` as columns."""
  return tables.csv_text(RECORD_FIELDS, ([record.get(k) for k in RECORD_FIELDS]
                                         for record in records))


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
