"""The published results of timm's pretrained models, shipped in ``data/published/``.

top-1 of 1,556 (model, image size) rows (1,266 model names) on ImageNet val,
ReaL, ImageNetV2 matched-frequency, Sketch, ImageNet-A and -R (over their 200
classes) and the 200-class clean val subsets A and R are compared against;
provenance in ``data/README.md``. Each row used that model's own
preprocessing (crop fraction, interpolation, image size), not this suite's.

Rows are keyed on (model, img_size): some models appear at several sizes.
Values are fractions here (the files hold percentages).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from typing import Dict, List, Optional, Tuple

import numpy as np

from tfds_bench import errors, labels

Key = Tuple[str, int]  # (model, img_size)

# Our benchmark id -> the published file of its top-1.
FILES = {
    "imagenet2012": "timm-results-imagenet.csv",
    "imagenet2012_real": "timm-results-imagenet-real.csv",
    "imagenet_v2/matched-frequency": "timm-results-imagenetv2-matched-frequency.csv",
    "imagenet_sketch": "timm-results-sketch.csv",
    "imagenet_a": "timm-results-imagenet-a.csv",
    "imagenet_r": "timm-results-imagenet-r.csv",
    "imagenet_a_clean": "timm-results-imagenet-a-clean.csv",
    "imagenet_r_clean": "timm-results-imagenet-r-clean.csv",
}

# Shifted benchmark -> the published reference its x axis is. A and R are
# scored over their 200 classes, so timm compares them with val accuracy on
# the same 200 classes (the *-clean files), not 1000-class val.
REFERENCES = {
    "imagenet_v2/matched-frequency": "imagenet2012",
    "imagenet_sketch": "imagenet2012",
    "imagenet_a": "imagenet_a_clean",
    "imagenet_r": "imagenet_r_clean",
}

PREPROCESSING_NOTE = (
    "The published rows are timm's results: each model was evaluated with its own "
    "preprocessing (its crop fraction, interpolation and image size), not this suite's.")


def top1(benchmark: str) -> Dict[Key, float]:
  """(model, img_size) -> published top-1 (a fraction) on ``benchmark``."""
  return {key: row["top1"] for key, row in rows(benchmark).items()}


@dataclasses.dataclass(frozen=True)
class PublishedPoints:
  """The published models with top-1 on both a shift and its reference.

  Attributes:
    shifted_benchmark, reference_benchmark: the y and x of the scatter.
    keys: (model, img_size) of each point, sorted.
    reference, shifted: top-1 fractions, in ``keys`` order.
  """
  shifted_benchmark: str
  reference_benchmark: str
  keys: List[Key]
  reference: np.ndarray
  shifted: np.ndarray


def points(shifted_benchmark: str) -> PublishedPoints:
  """The (model, img_size) rows present in both the shift's and its reference's file."""
  reference_benchmark = REFERENCES[shifted_benchmark]
  x, y = top1(reference_benchmark), top1(shifted_benchmark)
  keys = sorted(set(x) & set(y))
  return PublishedPoints(shifted_benchmark, reference_benchmark, keys,
                         np.array([x[k] for k in keys]), np.array([y[k] for k in keys]))


# Published key -> the (benchmark, metric) of our results records holding the
# same figure.
RECORD_OF = {
    "imagenet2012": ("imagenet2012", "top1"),
    "imagenet2012_real": ("imagenet2012_real", "top1"),
    "imagenet_v2/matched-frequency": ("imagenet_v2/matched-frequency", "top1"),
    "imagenet_sketch": ("imagenet_sketch", "top1"),
    "imagenet_a": ("imagenet_a", "top1"),
    "imagenet_r": ("imagenet_r", "top1"),
    "imagenet_a_clean": ("imagenet2012", "top1_a_clean"),
    "imagenet_r_clean": ("imagenet2012", "top1_r_clean"),
}

# Our registered models -> the published row of the same architecture with the
# TensorFlow reference weights (timm's tf_ ports), at the model's resolution.
# The report places it on the scatter, marked as published (not measured by
# the run), when the run has no ImageNet val and shift results of its own.
COUNTERPARTS: Dict[str, Key] = {
    "efficientnet_lite0": ("tf_efficientnet_lite0.in1k", 224),
    "efficientnet_lite1": ("tf_efficientnet_lite1.in1k", 240),
    "efficientnet_lite2": ("tf_efficientnet_lite2.in1k", 260),
}


@functools.lru_cache(maxsize=None)
def rows(benchmark: str) -> Dict[Key, Dict[str, object]]:
  """(model, img_size) -> the published row on ``benchmark``: top1 and top5
  (fractions), and the crop_pct and interpolation it was evaluated with."""
  if benchmark not in FILES:
    raise errors.UserError(f"no published results for {benchmark!r}; known: {', '.join(FILES)}")
  path = labels.data_path("published").joinpath(FILES[benchmark])
  with path.open("r", encoding="utf-8") as f:
    read = list(csv.DictReader(f))
  table = {}
  for line, row in enumerate(read, start=2):
    try:
      table[(row["model"], int(row["img_size"]))] = {
          "top1": float(row["top1"]) / 100.0, "top5": float(row["top5"]) / 100.0,
          "crop_pct": float(row["crop_pct"]), "interpolation": row["interpolation"]}
    except (KeyError, ValueError) as e:
      raise errors.UserError(f"{path}: line {line}: bad row ({e}); restore the file from "
                             "the package") from None
  return table


@dataclasses.dataclass(frozen=True)
class Match:
  """The published row of a timm checkpoint, or why there is none.

  Attributes:
    key: (model, img_size) of the row, None when no single row matches.
    note: how it was matched, or why nothing was.
  """
  key: Optional[Key]
  note: str

  def describe(self) -> Dict[str, object]:
    return {"model": self.key[0] if self.key else None,
            "img_size": self.key[1] if self.key else None, "note": self.note}


def match_timm(architecture: str, tag: Optional[str], img_size: int) -> Match:
  """The ImageNet val row of timm ``architecture`` (with its pretrained
  ``tag``, e.g. resnet18 + a1_in1k) at ``img_size``.

  With a tag the row is ``architecture.tag``; without one, the only row of
  that architecture at that size, if there is exactly one.
  """
  table = rows("imagenet2012")
  if tag:
    key = (f"{architecture}.{tag}", img_size)
    if key in table:
      return Match(key, f"timm's row {key[0]} at {img_size} px")
    sizes = sorted(s for m, s in table if m == key[0])
    return Match(None, f"no published row for {key[0]} at {img_size} px" + (
        f" (published at {', '.join(map(str, sizes))} px)" if sizes else ""))
  candidates = sorted(m for m, s in table if s == img_size and m.split(".")[0] == architecture)
  if len(candidates) == 1:
    return Match((candidates[0], img_size),
                 f"timm's only row of {architecture} at {img_size} px (no tag in pretrained_cfg)")
  if candidates:
    return Match(None, f"{len(candidates)} published rows of {architecture} at {img_size} px "
                 f"({', '.join(candidates[:4])}{', ...' if len(candidates) > 4 else ''}) "
                 "and pretrained_cfg has no tag to pick one")
  return Match(None, f"no published row for {architecture} at {img_size} px")
