"""ImageNet multi-label annotations (Shankar et al., ICML 2020) from manual_dir.

TFDS's ``imagenet2012_multilabel`` builder downloads its annotation JSON from a
URL that has answered 403 since 2025, so we read the same file from the user's
``--manual_dir`` and join it to the ImageNet val predictions by file name; the
images themselves come from the val pass every other val benchmark shares.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Dict

import numpy as np

from tfds_bench import errors, labels

ANNOTATION_FILE = "human_accuracy_v3.0.0.json"
ANNOTATION_URL = ("https://storage.googleapis.com/brain-car-datasets/imagenet-mistakes/"
                  "human_accuracy_v3.0.0.json")
ANNOTATION_SHA256 = "d5b2b6111fc9efea16aaebd21bc5a401d16ad18285d3fd99635d8b32ebdb6287"
_VAL_PREFIX = "ILSVRC2012_val_"


@dataclasses.dataclass(frozen=True)
class Annotations:
  """The annotated val images: -1-padded label sets in class-index space."""
  file_name: np.ndarray        # str [M]
  correct: np.ndarray          # int64 [M, Lc]
  unclear: np.ndarray          # int64 [M, Lu]
  is_problematic: np.ndarray   # bool [M]

  def rows_of(self, file_names: np.ndarray) -> np.ndarray:
    """Row of each file name, -1 where it is not annotated."""
    index: Dict[str, int] = {f: i for i, f in enumerate(self.file_name)}
    return np.array([index.get(f, -1) for f in file_names], dtype=np.int64)


def annotation_path(manual_dir) -> str:
  path = os.path.join(os.path.expanduser(manual_dir or ""), ANNOTATION_FILE)
  if not manual_dir or not os.path.isfile(path):
    raise errors.MissingArchiveError(
        f"imagenet2012_multilabel needs {ANNOTATION_FILE} in --manual_dir "
        f"({'no --manual_dir given' if not manual_dir else 'not found at ' + path}). TFDS's "
        f"builder downloads it from {ANNOTATION_URL}, which has answered 403 since 2025: get the "
        f"file (200,417,830 bytes, sha256 {ANNOTATION_SHA256[:16]}...) from a mirror or a "
        "colleague and put it there, unrenamed.")
  return path


def _class_indices(wnid_list, where: str):
  try:
    return [labels.index_of_wnid(w) for w in wnid_list]
  except KeyError as e:
    raise errors.DamagedInputError(f"{where}: {e.args[0]}") from None


@functools.lru_cache(maxsize=2)
def load(path: str) -> Annotations:
  """Parses the annotation JSON (the layout TFDS's builder reads)."""
  try:
    with open(path, encoding="utf-8") as f:
      payload = json.load(f)
  except json.JSONDecodeError as e:
    raise errors.DamagedInputError(f"{path} is not valid JSON ({e}); re-download it") from None
  try:
    initial = payload["initial_annots"]
    problematic = set(payload["problematic_images"])
  except (KeyError, TypeError):
    raise errors.DamagedInputError(
        f"{path} lacks 'initial_annots' / 'problematic_images': not the multi-label "
        "annotation file") from None
  names = sorted(n for n in initial if n.startswith(_VAL_PREFIX))
  correct = [_class_indices(initial[n].get("correct", []), f"{path}: {n}") for n in names]
  unclear = [_class_indices(initial[n].get("unclear", []), f"{path}: {n}") for n in names]
  return Annotations(
      file_name=np.array(names), correct=labels.pad_label_lists(correct),
      unclear=labels.pad_label_lists(unclear),
      is_problematic=np.array([n in problematic for n in names], dtype=bool))
