"""Sharded evaluation for any scheduler: one shard's predictions file, and the merge.

``bench_main --shard=I/N`` predicts the I-th of N deterministic slices of
every source (`evaluate.source_examples`: examples whose position in the
source is I modulo N) and writes them with `write_shard`; any scheduler
(a batch queue, Kubernetes jobs, a shell loop) runs the N commands.
``bench_main --predictions='DIR/predictions-shard-*.npz'`` merges them with
`merge_shards` and scores them as one run: every source gets back all its
examples in source order, so every count equals an unsharded run's. A
missing, repeated or foreign shard is an error naming the files.

A shard file is an ``.npz`` of plain arrays (no pickles): ``shard`` [I, N],
``model``, ``benchmarks``, ``sources`` (str), and per source ``s<k>/<field>``
with the fields of `predictions.Predictions` (label-space arrays, OOD
scores, extras as ``s<k>/<group>/<name>``) plus ``example_id``. It needs
no TensorFlow to read.
"""

from __future__ import annotations

import glob
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np

from tfds_bench import errors
from tfds_bench.predictions import EXAMPLE_ID, Predictions
from tfds_bench.reports import atomic

_MARK = "shard"


def shard_file_name(index: int, count: int) -> str:
  return f"predictions-shard-{index:05d}-of-{count:05d}.npz"


def parse_shard(text: str) -> Tuple[int, int]:
  """``"I/N"`` -> (I, N), 0 <= I < N."""
  parts = text.split("/")
  if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
    raise errors.UserError(f"--shard={text!r}: expected I/N, e.g. --shard=0/4")
  index, count = int(parts[0]), int(parts[1])
  if not 0 <= index < count:
    raise errors.UserError(f"--shard={text!r}: I must be 0..N-1 and N at least 1")
  return index, count


def write_shard(path: str, model: str, benchmark_ids: Sequence[str],
                by_source: Dict[str, Predictions], shard: Tuple[int, int]) -> None:
  """Writes one shard's predictions (each carrying ``extras["example_id"]``)."""
  arrays = {_MARK: np.asarray(shard, np.int64), "model": np.asarray([model]),
            "benchmarks": np.asarray(list(benchmark_ids), dtype=str),
            "sources": np.asarray(list(by_source), dtype=str)}
  for k, p in enumerate(by_source.values()):
    prefix = f"s{k}/"
    arrays.update({prefix + "file_name": p.file_name.astype(str), prefix + "label": p.label,
                   prefix + "top5": p.top5, prefix + "confidence": p.confidence})
    for group, values in (("space_top5", p.space_top5),
                          ("space_confidence", p.space_confidence),
                          ("ood_scores", p.ood_scores), ("extras", p.extras)):
      arrays.update({f"{prefix}{group}/{name}": v for name, v in values.items()})
  with atomic.replacing(path) as tmp:
    with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
      np.savez(f, **arrays)


def is_shard_file(path: str) -> bool:
  """Whether ``path`` is a `write_shard` file (anything unreadable is not)."""
  try:
    data = np.load(path, allow_pickle=False)
  except (ValueError, OSError, EOFError):
    return False
  if not isinstance(data, np.lib.npyio.NpzFile):
    return False  # a plain .npy array
  with data:
    return _MARK in data.files


def benchmark_ids(path: str) -> List[str]:
  """The benchmark ids a `write_shard` file was predicted for."""
  with np.load(path, allow_pickle=False) as data:
    return [str(b) for b in data["benchmarks"]]


def _read_shard(path: str):
  with np.load(path, allow_pickle=False) as data:
    index, count = (int(v) for v in data[_MARK])
    sources = [str(s) for s in data["sources"]]
    by_source = {}
    for k, key in enumerate(sources):
      prefix = f"s{k}/"
      groups = {"space_top5": {}, "space_confidence": {}, "ood_scores": {}, "extras": {}}
      for name in data.files:
        group, _, field = name[len(prefix):].partition("/")
        if name.startswith(prefix) and group in groups:
          groups[group][field] = data[name]
      by_source[key] = Predictions(
          file_name=data[prefix + "file_name"].astype(str), label=data[prefix + "label"],
          top5=data[prefix + "top5"], confidence=data[prefix + "confidence"], **groups)
    return ((index, count), str(data["model"][0]), [str(b) for b in data["benchmarks"]],
            by_source)


def expand(patterns: Sequence[str]) -> List[str]:
  """Files named by paths or globs, sorted; an error if a glob matches nothing.

  A plain path is kept even if missing: its reader names it in the error.
  """
  paths = []
  for pattern in patterns:
    if not glob.has_magic(pattern):
      paths.append(pattern)
      continue
    matched = sorted(glob.glob(os.path.expanduser(pattern)))
    if not matched:
      raise errors.UserError(f"--predictions: no file matches {pattern!r}")
    paths.extend(matched)
  return sorted(set(paths))


def merge_shards(paths: Sequence[str]):
  """Shard files -> (model, benchmark ids, {source key: Predictions in source order}).

  Raises:
    UserError: shards of different runs, a shard missing or given twice, or
      an example in two shards (naming the files and the fix).
  """
  shards = {}
  for path in paths:
    (index, count), model, benchmark_ids, by_source = _read_shard(path)
    run = (count, model, tuple(benchmark_ids), tuple(by_source))
    if shards and run != next(iter(shards.values()))[1]:
      first = next(iter(shards.values()))[0]
      raise errors.UserError(
          f"{path} and {first} are shards of different runs (shard count, model, "
          "benchmarks or sources differ): merge the files of one --shard=I/N run only")
    if index in shards:
      raise errors.UserError(f"overlapping shards: {shards[index][0]} and {path} are both "
                             f"shard {index}/{count}; give each shard once")
    shards[index] = (path, run, by_source)
  count = next(iter(shards.values()))[1][0]
  missing = sorted(set(range(count)) - set(shards))
  if missing:
    raise errors.UserError(
        f"missing shards: {', '.join(f'{i}/{count}' for i in missing)} of the run in "
        f"{shards[min(shards)][0]}; run bench_main --shard=I/{count} for each and pass all "
        f"{count} files")
  _, (_, model, benchmark_ids, keys), _ = shards[0]
  merged = {}
  for key in keys:
    parts = [shards[i][2][key] for i in range(count)]
    merged[key] = _in_source_order(key, Predictions.concatenate(parts))
  return model, list(benchmark_ids), merged


def _in_source_order(key: str, p: Predictions) -> Predictions:
  ids = p.extras[EXAMPLE_ID]
  order = np.argsort(ids, kind="stable")
  sorted_ids = ids[order]
  if (np.diff(sorted_ids) == 0).any():
    twice = int(sorted_ids[1:][np.diff(sorted_ids) == 0][0])
    raise errors.UserError(f"overlapping shards: example {twice} of {key} is in two shard "
                           "files; give each shard's file once")
  if len(ids) and (sorted_ids[0] != 0 or sorted_ids[-1] != len(ids) - 1):
    raise errors.UserError(f"{key}: the shards hold {len(ids)} examples but not positions "
                           f"0..{len(ids) - 1}; were they written by different data?")
  return p.select(order)


def concatenate_files(loaded: Sequence[Tuple[str, Predictions]]) -> Predictions:
  """Plain predictions files -> one; a file name in two files is an error."""
  seen: Dict[str, str] = {}
  for path, p in loaded:
    for name in p.file_name.tolist():
      if name in seen:
        raise errors.UserError(f"overlapping predictions files: {name!r} is in {seen[name]} "
                               f"and {path}; pass each image's predictions once")
      seen[name] = path
  kinds = {bool(p.has_scores) for _, p in loaded}
  if len(kinds) > 1:
    raise errors.UserError("--predictions: mixed files with scores (logits/probs) and "
                           "top-5 only; give one kind")
  return Predictions.concatenate([p for _, p in loaded])
