"""``results.json`` / ``results.csv`` and the run's per-image predictions:
writing them (atomically) and reading them back."""

from __future__ import annotations

import json
import math
import os
import re
from typing import Collection, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np

from tfds_bench import errors
from tfds_bench import predictions as predictions_lib
from tfds_bench.reports import atomic
from tfds_bench.reports import tables

# The first six columns are fixed for existing readers; new ones go at the end.
RECORD_FIELDS = ("model", "benchmark", "metric", "value", "n", "suite_version",
                 "ci_low", "ci_high", "ci_method")
RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
# <output_dir>/predictions/: one compact .npz per source, and index.json
# mapping each source key (e.g. "imagenet_v2/matched-frequency") to its file.
PREDICTIONS_DIR = "predictions"
PREDICTIONS_INDEX = "index.json"
# What a run writes into --output_dir (replaced as a whole by the next run).
RUN_ENTRIES = (RESULTS_JSON, RESULTS_CSV, PREDICTIONS_DIR)


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


def write_run(output_dir: str, records: Sequence[Dict], provenance: Dict,
              by_source: Mapping[str, predictions_lib.Predictions]) -> List[str]:
  """A whole run, results and predictions, written into a temporary folder in
  ``output_dir`` and swapped in (`atomic.replacing_entries`): nothing of an
  earlier run (results.json, results.csv, predictions/) remains, the folder's
  other files stay, and an interrupted write loses neither run. Returns the
  paths written, as they are after the swap."""
  os.makedirs(output_dir, exist_ok=True)
  with atomic.replacing_entries(output_dir, RUN_ENTRIES) as folder:
    written = write_results(folder, records, provenance)
    written += write_predictions(folder, by_source)
  return [os.path.join(output_dir, os.path.relpath(p, folder)) for p in written]


def holds_run(output_dir: str) -> bool:
  """Whether ``output_dir`` already holds a run's results or predictions."""
  return (os.path.exists(os.path.join(output_dir, RESULTS_JSON))
          or os.path.exists(os.path.join(output_dir, PREDICTIONS_DIR)))


def records_to_csv(records: Iterable[Dict]) -> str:
  """The text of ``results.csv``: one row per record, `RECORD_FIELDS` as columns."""
  return tables.csv_text(RECORD_FIELDS, ([record.get(k) for k in RECORD_FIELDS]
                                         for record in records))


def write_predictions(output_dir: str, by_source: Mapping[str, predictions_lib.Predictions]
                      ) -> List[str]:
  """Writes each source's compact predictions (`predictions.npz_arrays`, the
  format ``--predictions`` reads) and the index; returns the paths written."""
  folder = os.path.join(output_dir, PREDICTIONS_DIR)
  os.makedirs(folder, exist_ok=True)
  index, paths = {}, []
  for key, source_predictions in by_source.items():
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", key) + ".npz"
    if name in index.values():
      raise ValueError(f"two sources map to the predictions file {name}")
    index[key] = name
    path = os.path.join(folder, name)
    with atomic.replacing(path) as tmp:
      with open(tmp, "wb") as f:
        np.savez_compressed(f, **predictions_lib.npz_arrays(source_predictions))
    paths.append(path)
  index_path = os.path.join(folder, PREDICTIONS_INDEX)
  atomic.write_text(index_path, json.dumps(index, indent=1, sort_keys=True) + "\n")
  return paths + [index_path]


def has_predictions(run_dir: str) -> bool:
  """Whether ``run_dir`` holds a run's predictions folder (`write_predictions`)."""
  return os.path.isfile(os.path.join(run_dir, PREDICTIONS_DIR, PREDICTIONS_INDEX))


def load_predictions(run_dir: str, keys: Optional[Collection[str]] = None
                     ) -> Dict[str, predictions_lib.Predictions]:
  """Source key -> predictions of a run folder written with ``--output_dir``
  (only the sources of ``keys`` that it has, when given)."""
  index_path = os.path.join(run_dir, PREDICTIONS_DIR, PREDICTIONS_INDEX)
  if not os.path.isfile(index_path):
    raise errors.UserError(
        f"{run_dir}: no {PREDICTIONS_DIR}/{PREDICTIONS_INDEX}; give a folder written by "
        "bench_main --output_dir, which keeps every run's predictions there")
  with open(index_path, encoding="utf-8") as f:
    index = json.load(f)
  return {key: predictions_lib.load_npz(os.path.join(run_dir, PREDICTIONS_DIR, name))
          for key, name in index.items() if keys is None or key in keys}


def run_folder_of(path: str) -> Optional[str]:
  """The run folder (written by ``--output_dir``, or any folder with a
  ``predictions/index.json``) that ``path`` is, or whose ``predictions/``
  folder or predictions file it is; None otherwise."""
  path = os.path.abspath(path)
  candidates = [path] if os.path.isdir(path) else []
  folder = path if os.path.isdir(path) else os.path.dirname(path)
  if os.path.basename(folder) == PREDICTIONS_DIR:
    candidates.append(os.path.dirname(folder))
  for run in candidates:
    if os.path.isfile(os.path.join(run, PREDICTIONS_DIR, PREDICTIONS_INDEX)):
      return run
  return None


def predictions_index(run_dir: str) -> Dict[str, str]:
  """Source key -> file name of a run folder's ``predictions/index.json``."""
  with open(os.path.join(run_dir, PREDICTIONS_DIR, PREDICTIONS_INDEX), encoding="utf-8") as f:
    return json.load(f)


def load_provenance(run_dir: str) -> Dict:
  """The provenance of a run folder's results.json ({} when it has none, or
  no results.json: a folder of the user's own predictions files)."""
  path = os.path.join(run_dir, RESULTS_JSON)
  if not os.path.isfile(path):
    return {}
  load_results(path)  # the same checks, errors naming the file
  with open(path, encoding="utf-8") as f:
    payload = json.load(f)
  provenance = payload.get("provenance") if isinstance(payload, dict) else None
  return provenance if isinstance(provenance, dict) else {}


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
    for key in ("ci_low", "ci_high"):
      bound = record.get(key)
      if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
        raise errors.UserError(f"{path}: result {i}: {key} must be a number or null, "
                               f"got {bound!r:.80}")
  return records
