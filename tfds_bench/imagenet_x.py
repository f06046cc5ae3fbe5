"""ImageNet-X annotations (Idrissi et al., ICLR 2023), read where the user has them.

ImageNet-X labels the ImageNet val images with 16 factors of variation. Meta
ships them in the pip package ``imagenet-x`` (0.0.7: ``imagenet_x/annotations/``)
under CC BY-NC 4.0, so the suite does not ship them: it reads the files from
the installed package, or from a folder holding copies of them
(``--imagenet_x_dir``). The package is located with
``importlib.util.find_spec``, never imported (its ``__init__`` loads pandas
and scipy).

The files read (names as in the package):

* ``imagenet_x_val_top_factor.jsonl`` / ``imagenet_x_val_multi_factor.jsonl``:
  one JSON object per val image with ``file_name``, ``class`` (the sorted-wnid
  class index, our convention) and each factor as 0/1 (plus free-text
  ``justification`` / ``one_word``, unused). 48,868 rows; in "top" exactly one
  factor per image (two rows carry none), in "multi" any number.
* ``prototypical_paths.csv``: a ``file_name`` column, the 3,000 prototype
  images shown to annotators; 2,758 of them are in the jsonl files, and
  ImageNet-X drops them, leaving 46,110 images.
* ``imagenet_1k_classes_to_100_metaclasses.csv``: ``wnid,name,metaclass``,
  row i for class i (``wnid`` / ``name`` are the metaclass's). ImageNet-X
  keeps 16 of the 100 metaclass names (`METACLASSES`) and pools the rest as
  ``other``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.util
import json
import os
from typing import Dict, Optional, Tuple

import numpy as np

from tfds_bench import errors
from tfds_bench.labels import NUM_CLASSES

PACKAGE = "imagenet_x"
PIP_NAME = "imagenet-x"
PIP_VERSION = "0.0.7"
ANNOTATION_FILES = {
    "top": "imagenet_x_val_top_factor.jsonl",
    "multi": "imagenet_x_val_multi_factor.jsonl",
}
PROTOTYPES_FILE = "prototypical_paths.csv"
METACLASS_FILE = "imagenet_1k_classes_to_100_metaclasses.csv"
# The 16 factors of variation (imagenet_x/utils.py, FACTORS, 0.0.7), in that order.
FACTORS = (
    "pose", "background", "pattern", "color", "smaller", "shape", "partial_view",
    "subcategory", "texture", "larger", "darker", "object_blocking", "person_blocking",
    "style", "brighter", "multiple_objects",
)
REQUIRED_FILES = tuple(ANNOTATION_FILES.values()) + (PROTOTYPES_FILE, METACLASS_FILE)
# The metaclasses ImageNet-X reports (imagenet_x/utils.py, METACLASSES, 0.0.7);
# the other 84 of the 100 are pooled under OTHER.
METACLASSES = (
    "device", "dog", "commodity", "bird", "structure", "covering", "wheeled_vehicle",
    "food", "equipment", "insect", "vehicle", "furniture", "primate", "vessel", "snake",
    "natural_object",
)
OTHER = "other"


@dataclasses.dataclass(frozen=True)
class Annotations:
  """ImageNet-X annotations of the val images (prototypes dropped unless asked).

  Attributes:
    file_name: str [M], unique.
    label: int64 [M], the class index ImageNet-X annotated.
    factors: factor name -> bool [M], the 16 factors in `FACTORS` order.
  """
  file_name: np.ndarray
  label: np.ndarray
  factors: Dict[str, np.ndarray]

  def __len__(self) -> int:
    return len(self.file_name)

  def rows_of(self, file_names: np.ndarray) -> np.ndarray:
    """int64: row of each file name, -1 where it is not annotated."""
    index = {f: i for i, f in enumerate(self.file_name)}
    return np.array([index.get(str(f), -1) for f in file_names], dtype=np.int64)

  def select(self, rows: np.ndarray) -> "Annotations":
    return Annotations(self.file_name[rows], self.label[rows],
                       {k: v[rows] for k, v in self.factors.items()})


def missing_error(detail: str) -> errors.UserError:
  return errors.UserError(
      f"ImageNet-X annotations not found ({detail}): pip install {PIP_NAME}=={PIP_VERSION} "
      f"(or tfds_bench[imagenet_x]), or pass --imagenet_x_dir=DIR with its "
      f"{', '.join(REQUIRED_FILES)} (CC BY-NC 4.0, not shipped with tfds_bench)")


def installed_dir() -> Optional[str]:
  """The installed package's annotations folder, or None (the package is not imported)."""
  try:
    spec = importlib.util.find_spec(PACKAGE)
  except (ImportError, ValueError):
    return None
  if spec is None or not spec.submodule_search_locations:
    return None
  for location in spec.submodule_search_locations:
    candidate = os.path.join(location, "annotations")
    if os.path.isdir(candidate):
      return candidate
  return None


def annotation_dir(imagenet_x_dir: Optional[str] = None) -> str:
  """The folder to read: ``imagenet_x_dir`` if given, else the installed package's.

  Raises `errors.UserError` naming the package when neither has the files.
  """
  if imagenet_x_dir:
    directory = os.path.expanduser(imagenet_x_dir)
    where = f"--imagenet_x_dir={imagenet_x_dir}"
  else:
    directory = installed_dir()
    if directory is None:
      raise missing_error(f"the {PIP_NAME} package is not installed and no "
                          "--imagenet_x_dir was given")
    where = f"the installed {PIP_NAME} package, {directory}"
  missing = [name for name in REQUIRED_FILES if not os.path.isfile(os.path.join(directory, name))]
  if missing:
    raise missing_error(f"{where} lacks {', '.join(missing)}")
  return directory


def _bad(path: str, line: int, what: str) -> errors.UserError:
  return errors.UserError(f"{path}, line {line}: {what}; not an ImageNet-X annotation file "
                          f"(reinstall {PIP_NAME}=={PIP_VERSION} or copy its files again)")


def _read_jsonl(path: str):
  file_names, labels_, factors = [], [], {f: [] for f in FACTORS}
  with open(path, encoding="utf-8") as f:
    for line_number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
        file_names.append(str(row["file_name"]))
        label = row["class"]
        for name in FACTORS:
          factors[name].append(row[name])
      except json.JSONDecodeError as e:
        raise _bad(path, line_number, f"invalid JSON ({e.msg})") from None
      except (KeyError, TypeError) as e:
        raise _bad(path, line_number, f"no {e} field") from None
      if not isinstance(label, int) or not 0 <= label < NUM_CLASSES:
        raise _bad(path, line_number, f"class {label!r} is not a class index 0..999")
      labels_.append(label)
  if not file_names:
    raise _bad(path, 1, "no rows")
  arrays = {}
  for name, values in factors.items():
    values = np.asarray(values)
    bad = ~np.isin(values, (0, 1))
    if bad.any():
      raise _bad(path, int(np.argmax(bad)) + 1, f"factor {name!r} is not 0/1")
    arrays[name] = values.astype(bool)
  file_names = np.asarray(file_names)
  if len(np.unique(file_names)) != len(file_names):
    raise _bad(path, 1, "a file name appears more than once")
  return file_names, np.asarray(labels_, np.int64), arrays


def _read_csv_rows(path: str, columns: Tuple[str, ...]):
  with open(path, encoding="utf-8", newline="") as f:
    reader = csv.DictReader(f)
    if reader.fieldnames is None or any(c not in reader.fieldnames for c in columns):
      raise _bad(path, 1, f"the header lacks {', '.join(columns)}")
    return list(reader)


def prototypes(directory: str) -> frozenset:
  """The prototype images' file names (shown to annotators; ImageNet-X drops them)."""
  path = os.path.join(directory, PROTOTYPES_FILE)
  return frozenset(row["file_name"] for row in _read_csv_rows(path, ("file_name",)))


@functools.lru_cache(maxsize=4)
def load(directory: str, which: str = "top", drop_prototypes: bool = True) -> Annotations:
  """The ``which`` ("top" or "multi") factor annotations from ``directory``."""
  if which not in ANNOTATION_FILES:
    raise ValueError(f"which must be one of {tuple(ANNOTATION_FILES)}, got {which!r}")
  file_names, label, factors = _read_jsonl(os.path.join(directory, ANNOTATION_FILES[which]))
  annotations = Annotations(file_name=file_names, label=label, factors=factors)
  if drop_prototypes:
    annotations = annotations.select(~np.isin(file_names, list(prototypes(directory))))
  return annotations


@functools.lru_cache(maxsize=4)
def metaclasses(directory: str) -> Tuple[Tuple[str, ...], np.ndarray]:
  """ImageNet-X's metaclasses: (names, int64 [1000] metaclass of each class).

  Names are `METACLASSES` then ``other`` (the 84 metaclasses ImageNet-X
  pools); row i of the CSV is class i.
  """
  path = os.path.join(directory, METACLASS_FILE)
  rows = _read_csv_rows(path, ("name",))
  if len(rows) != NUM_CLASSES:
    raise _bad(path, len(rows) + 1, f"{len(rows)} rows, expected one per class "
               f"({NUM_CLASSES})")
  names = METACLASSES + (OTHER,)
  index = {name: i for i, name in enumerate(names)}
  group = np.array([index.get(row["name"], index[OTHER]) for row in rows], np.int64)
  return names, group
