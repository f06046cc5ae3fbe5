"""model-vs-human's human observers, read from the user's `raw-data/` folder.

The lab data of bethgelab/model-vs-human (`raw-data/<dataset>/<dataset>_
subject-<kk>_session_<s>.csv`, columns subj, session (or Session), trial,
rt, object_response, category, condition, imagename) has no stated licence,
so it is not shipped: `--human_data=DIR` points at that folder. Only
`*_subject-*.csv` files are read (the reference writes models' CSVs into the
same folders).

Trials are matched across subjects (and with a model) on (condition, image
id), as the reference does; every subject of a dataset must have seen the
same images in each condition, once each.
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib
from typing import Dict, Mapping, Tuple

import numpy as np

from tfds_bench.errors import UserError
from tfds_bench.release import model_vs_human as mvh

COLUMNS = ("subj", "trial", "object_response", "category", "condition", "imagename")
NO_RESPONSE = "na"


@dataclasses.dataclass(frozen=True)
class ConditionTrials:
  """One condition's trials, the same for every subject.

  Attributes:
    image_ids: str [N], sorted.
    categories: str [N], each image's (shape) category.
    responses: str [S, N], each subject's answer (`na`: none).
  """
  image_ids: np.ndarray
  categories: np.ndarray
  responses: np.ndarray

  @property
  def correct(self) -> np.ndarray:
    """bool [S, N]."""
    return self.responses == self.categories[None, :]


@dataclasses.dataclass(frozen=True)
class HumanTrials:
  """A dataset's human data: subjects (sorted) and trials per condition."""
  dataset: str
  subjects: Tuple[str, ...]
  conditions: Mapping[str, ConditionTrials]


def _read_csv(path: pathlib.Path, dataset: mvh.Dataset):
  """Yields (subject, condition, image id, category, response) rows."""
  try:
    with open(path, newline="") as f:
      reader = csv.DictReader(f)
      header = [h.strip().lower() for h in (reader.fieldnames or [])]
      missing = [c for c in COLUMNS if c not in header]
      if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; expected the "
                        f"model-vs-human raw-data columns {', '.join(COLUMNS)}")
      reader.fieldnames = header
      for line, row in enumerate(reader, start=2):
        if any(row.get(c) is None for c in COLUMNS):
          raise UserError(f"{path}:{line}: too few fields; fix or remove the line")
        try:
          info = mvh.image_info(dataset, row["imagename"].strip())
        except ValueError as e:
          raise UserError(f"{path}:{line}: {e}") from None
        if info.condition != row["condition"].strip() or info.category != row["category"].strip():
          raise UserError(f"{path}:{line}: condition/category columns disagree with "
                          f"imagename {row['imagename']!r}")
        response = row["object_response"].strip()
        if response != NO_RESPONSE and response not in mvh.CATEGORY_INDEX:
          raise UserError(f"{path}:{line}: response {response!r} is neither one of the "
                          f"16 categories nor {NO_RESPONSE!r}")
        yield row["subj"].strip(), info.condition, info.image_id, info.category, response
  except (OSError, UnicodeDecodeError, csv.Error) as e:
    raise UserError(f"{path}: cannot read as CSV ({e}); re-copy the model-vs-human "
                    "raw-data file") from None


def read_dataset(folder, dataset_name: str) -> HumanTrials:
  """The human trials of one dataset from `<folder>/<dataset>/*_subject-*.csv`.

  Raises UserError (one line naming the file) on a missing folder, a bad
  file, or subjects who saw different images.
  """
  dataset = mvh.get(dataset_name)
  directory = pathlib.Path(folder).expanduser() / dataset.name
  files = sorted(directory.glob("*_subject-*.csv")) if directory.is_dir() else []
  if not files:
    raise UserError(f"no human data for {dataset.name}: expected {directory}/"
                    f"{dataset.name}_subject-<kk>_session_<s>.csv (model-vs-human's "
                    "raw-data/ folder; pass --human_data=<raw-data folder>)")
  # (subject, condition) -> image id -> (category, response)
  trials: Dict[Tuple[str, str], Dict[str, Tuple[str, str]]] = {}
  for path in files:
    for subject, condition, image_id, category, response in _read_csv(path, dataset):
      seen = trials.setdefault((subject, condition), {})
      if image_id in seen:
        raise UserError(f"{path}: subject {subject} saw image {image_id!r} twice in "
                        f"condition {condition!r}")
      seen[image_id] = (category, response)
  subjects = tuple(sorted({s for s, _ in trials}))
  conditions = {}
  for condition in dataset.conditions:
    present = [s for s in subjects if (s, condition) in trials]
    if not present:
      continue
    if len(present) != len(subjects):
      raise UserError(f"{directory}: condition {condition!r} lacks subject(s) "
                      f"{', '.join(sorted(set(subjects) - set(present)))}")
    reference = trials[(subjects[0], condition)]
    image_ids = np.array(sorted(reference))
    for subject in subjects[1:]:
      if set(trials[(subject, condition)]) != set(reference):
        raise UserError(f"{directory}: subjects {subjects[0]} and {subject} saw different "
                        f"images in condition {condition!r}")
    categories = np.array([reference[i][0] for i in image_ids])
    for subject in subjects[1:]:
      if any(trials[(subject, condition)][i][0] != c for i, c in zip(image_ids, categories)):
        raise UserError(f"{directory}: subjects {subjects[0]} and {subject} give one image "
                        f"different categories in condition {condition!r}")
    responses = np.array([[trials[(s, condition)][i][1] for i in image_ids] for s in subjects])
    conditions[condition] = ConditionTrials(image_ids, categories, responses)
  return HumanTrials(dataset.name, subjects, conditions)
