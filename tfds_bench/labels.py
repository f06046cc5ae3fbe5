"""ImageNet-1k class vocabulary and the label files shipped with the package.

Class index convention (used by every builder, metric and model adapter):
the index of a class is the position of its wnid in the sorted list of the
1000 ImageNet-1k wnids. This is the order of TFDS's ``imagenet2012``
``ClassLabel`` and of Keras / torchvision pretrained heads.
"""

from __future__ import annotations

import csv
import functools
import json
from importlib import resources
from typing import Dict, List, Sequence, Tuple

import numpy as np

NUM_CLASSES = 1000


def data_path(name: str):
  """Path of a file shipped in ``tfds_bench/data``."""
  return resources.files("tfds_bench").joinpath("data").joinpath(name)


@functools.lru_cache(maxsize=None)
def _class_table() -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
  with data_path("imagenet1k_classes.tsv").open("r", encoding="utf-8") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
  wnids = tuple(r["wnid"] for r in rows)
  names = tuple(r["name"] for r in rows)
  if len(wnids) != NUM_CLASSES or list(wnids) != sorted(wnids):
    raise RuntimeError("imagenet1k_classes.tsv is damaged: expected 1000 sorted wnids")
  return wnids, names


def wnids() -> Tuple[str, ...]:
  """The 1000 wnids in class-index order."""
  return _class_table()[0]


def class_names() -> Tuple[str, ...]:
  """Human-readable class names in class-index order (not unique: see README)."""
  return _class_table()[1]


@functools.lru_cache(maxsize=None)
def wnid_to_index() -> Dict[str, int]:
  return {w: i for i, w in enumerate(wnids())}


def index_of_wnid(wnid: str) -> int:
  try:
    return wnid_to_index()[wnid]
  except KeyError:
    raise KeyError(
        f"{wnid!r} is not one of the 1000 ImageNet-1k wnids "
        "(expected a folder named like 'n01440764')") from None


def val_file_number(file_name: str) -> int:
  """1-based number of an ImageNet val file name (``ILSVRC2012_val_00000001.JPEG`` -> 1)."""
  return int(val_file_numbers([file_name])[0])


# The fixed characters of a val file name, as UTF-32 code points.
_VAL_NAME_TEMPLATE = np.frombuffer("ILSVRC2012_val_00000000.JPEG".encode("utf-32-le"), np.uint32)
_VAL_NAME_FIXED = np.r_[0:15, 23:28]


def val_file_numbers(file_names: Sequence[str]) -> np.ndarray:
  """`val_file_number` of many names at once: int64 [N].

  Vectorised over the names' code points: a regex per name dominated the
  scoring of a whole val set against ReaL. Any folder prefix is ignored.
  """
  names = np.asarray(file_names).astype(str).reshape(-1)
  if names.size == 0:
    return np.zeros(0, np.int64)
  base = np.char.rpartition(names, "/")[:, 2]
  ok = np.char.str_len(base) == len(_VAL_NAME_TEMPLATE)
  codes = np.zeros((len(base), len(_VAL_NAME_TEMPLATE)), np.int64)
  codes[ok] = base[ok].astype(f"<U{len(_VAL_NAME_TEMPLATE)}").view(np.uint32).reshape(
      -1, len(_VAL_NAME_TEMPLATE))
  digits = codes[:, 15:23] - ord("0")
  ok &= (codes[:, _VAL_NAME_FIXED] == _VAL_NAME_TEMPLATE[_VAL_NAME_FIXED]).all(axis=1)
  ok &= ((digits >= 0) & (digits <= 9)).all(axis=1)
  if not ok.all():
    raise ValueError(
        f"{str(names[~ok][0])!r} is not an ImageNet validation file name "
        "(expected ILSVRC2012_val_NNNNNNNN.JPEG)")
  return digits @ (10 ** np.arange(7, -1, -1, dtype=np.int64))


@functools.lru_cache(maxsize=None)
def real_labels() -> Tuple[Tuple[int, ...], ...]:
  """ReaL label lists; entry i belongs to ``ILSVRC2012_val_{i+1:08d}.JPEG``."""
  with data_path("real.json").open("r") as f:
    lists = json.load(f)
  if len(lists) != 50000:
    raise RuntimeError(f"real.json has {len(lists)} entries, expected 50000")
  return tuple(tuple(int(c) for c in l) for l in lists)


def real_labels_for(file_names: Sequence[str]) -> List[Tuple[int, ...]]:
  """ReaL label list of each val file name (empty tuple = no ReaL label)."""
  table = real_labels()
  return [table[n - 1] for n in val_file_numbers(file_names)]


@functools.lru_cache(maxsize=None)
def val_labels() -> np.ndarray:
  """Original ImageNet val labels (class index), entry i for val file i+1.

  Read from the validation label file TFDS ships with its imagenet2012
  builder (one wnid per line, in val file order), so no extra copy is kept.
  """
  path = resources.files("tensorflow_datasets").joinpath(
      "datasets/imagenet2012/validation_labels.txt")
  with path.open("r") as f:
    wnid_lines = f.read().split()
  if len(wnid_lines) != 50000:
    raise RuntimeError(f"{path} has {len(wnid_lines)} lines, expected 50000")
  table = wnid_to_index()
  labels = np.array([table[w] for w in wnid_lines], dtype=np.int64)
  labels.setflags(write=False)
  return labels


def pad_label_lists(lists: Sequence[Sequence[int]], width: int | None = None) -> np.ndarray:
  """Label lists -> int64 [N, width] padded with -1 (the multi-label convention)."""
  width = max([len(l) for l in lists] + [1]) if width is None else width
  out = np.full((len(lists), width), -1, dtype=np.int64)
  for i, l in enumerate(lists):
    if len(l) > width:
      raise ValueError(f"label list {i} has {len(l)} labels, more than the width {width}")
    out[i, :len(l)] = l
  return out
