"""Named label spaces: class subsets and many-to-one maps onto ImageNet-1k, as data.

A label space is a list of classes, each covering one or more ImageNet-1k
classes (class index = position of the wnid in the sorted 1000 wnids). It is
read from one data file, ``tfds_bench/data/label_spaces/<name>.json``; adding a
file adds a space, with no code change. Two shapes are accepted:

* one-to-one, as the evaluation code of ImageNet-A/-O/-R publishes them:
  ``{"wnids": [...], "indices_1k": [...]}`` (class k is the k-th wnid);
* many-to-one: ``{"classes": [{"name": ..., "imagenet_indices": [...]}, ...]}``
  (ObjectNet's classes, the 16 categories of model-vs-human).

Both carry ``"name"`` (the file's stem), ``"title"``, ``"source"``
(provenance) and optionally ``"scores"``: how a model's per-class score in the
space is computed from its 1000 scores, when a benchmark keeps one per image
(`SCORE_RULES`). Builders, predictions and scorers all take a space by name
from here (docs/architecture.md, "Where each kind of change goes").
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Optional, Tuple

import numpy as np

from tfds_bench import errors, labels

FOLDER = "label_spaces"
# How a space's per-class scores come from a model's 1000 scores:
# - "logits": the members' logits, softmax among them (one-to-one spaces:
#   ImageNet-A/-O/-R are scored by argmax over their 200 classes' logits);
# - "mean_probability": the 1000-way softmax averaged over each class's
#   members (model-vs-human's 16-class decision).
SCORE_RULES = ("logits", "mean_probability")


@dataclasses.dataclass(frozen=True, eq=False)
class LabelSpace:
  """Classes of a test set, each a set of ImageNet-1k classes.

  Attributes:
    name: the registry name (the data file's stem).
    title: one line for listings.
    source: where the mapping comes from.
    class_names: the space's classes, in class-index order (wnids for a
      one-to-one space).
    members: int64 arrays, one per class: the ImageNet-1k indices it covers.
    scores: the rule for per-class scores (`SCORE_RULES`), or None when the
      space keeps none per image.
  """
  name: str
  title: str
  source: str
  class_names: Tuple[str, ...]
  members: Tuple[np.ndarray, ...]
  scores: Optional[str] = None

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  @functools.cached_property
  def imagenet_indices(self) -> np.ndarray:
    """Sorted int64 union of the members."""
    out = np.unique(np.concatenate(self.members))
    out.setflags(write=False)
    return out

  @functools.cached_property
  def class_of_imagenet(self) -> np.ndarray:
    """int64 [1000]: the space class covering each ImageNet class, -1 where none."""
    out = np.full(labels.NUM_CLASSES, -1, np.int64)
    for k, members in enumerate(self.members):
      out[members] = k
    out.setflags(write=False)
    return out

  @property
  def one_to_one(self) -> bool:
    return all(len(m) == 1 for m in self.members)

  def to_space(self, imagenet_classes: np.ndarray) -> np.ndarray:
    """ImageNet-1k indices -> space class indices (-1 outside the space; -1 stays -1)."""
    imagenet_classes = np.asarray(imagenet_classes, np.int64)
    return np.where(imagenet_classes >= 0,
                    self.class_of_imagenet[np.clip(imagenet_classes, 0, None)], -1)

  def member_matrix(self) -> np.ndarray:
    """float64 [1000, K]: column k averages class k's members (1/|members| each)."""
    matrix = np.zeros((labels.NUM_CLASSES, self.num_classes))
    for k, members in enumerate(self.members):
      matrix[members, k] = 1.0 / len(members)
    return matrix


def names() -> Tuple[str, ...]:
  """Every registered space, sorted."""
  folder = labels.data_path(FOLDER)
  return tuple(sorted(p.name[:-len(".json")] for p in folder.iterdir()
                      if p.name.endswith(".json")))


@functools.lru_cache(maxsize=None)
def get(name: str) -> LabelSpace:
  """The space ``name``; an unknown name raises listing the known ones."""
  known = names()
  if name not in known:
    raise errors.UserError(f"unknown label space {name!r}; known: {', '.join(known)} "
                           f"(a space is a file tfds_bench/data/{FOLDER}/<name>.json)")
  where = f"tfds_bench/data/{FOLDER}/{name}.json"
  with labels.data_path(FOLDER).joinpath(f"{name}.json").open("r", encoding="utf-8") as f:
    payload = json.load(f)
  return _parse(name, payload, where)


def _parse(name: str, payload: dict, where: str) -> LabelSpace:
  if payload.get("name") != name:
    raise RuntimeError(f"{where}: 'name' is {payload.get('name')!r}, expected {name!r}")
  if ("wnids" in payload) == ("classes" in payload):
    raise RuntimeError(f"{where}: needs exactly one of 'wnids' (one-to-one) or 'classes'")
  if "wnids" in payload:
    class_names = tuple(payload["wnids"])
    members = tuple(np.array([labels.index_of_wnid(w)], np.int64) for w in class_names)
    if [int(m[0]) for m in members] != list(payload["indices_1k"]):
      raise RuntimeError(f"{where}: 'indices_1k' disagrees with the wnids' class indices")
  else:
    class_names = tuple(c["name"] for c in payload["classes"])
    members = tuple(np.array(c["imagenet_indices"], np.int64) for c in payload["classes"])
  if len(set(class_names)) != len(class_names) or not class_names:
    raise RuntimeError(f"{where}: class names must be unique and at least one")
  flat = np.concatenate(members) if members else np.zeros(0, np.int64)
  if any(len(m) == 0 for m in members) or flat.min() < 0 or flat.max() >= labels.NUM_CLASSES:
    raise RuntimeError(f"{where}: every class needs ImageNet indices in 0..999")
  if len(np.unique(flat)) != len(flat):
    raise RuntimeError(f"{where}: an ImageNet class is in two classes of the space")
  scores = payload.get("scores")
  if scores is not None and scores not in SCORE_RULES:
    raise RuntimeError(f"{where}: 'scores' is {scores!r}; known: {', '.join(SCORE_RULES)}")
  if scores == "logits" and not all(len(m) == 1 for m in members):
    raise RuntimeError(f"{where}: 'scores': 'logits' needs one ImageNet class per class")
  for m in members:
    m.setflags(write=False)
  return LabelSpace(name, payload.get("title", name), payload.get("source", ""), class_names,
                    members, scores)
