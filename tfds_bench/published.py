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
from typing import Dict, List, Tuple

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


@functools.lru_cache(maxsize=None)
def top1(benchmark: str) -> Dict[Key, float]:
  """(model, img_size) -> published top-1 (a fraction) on ``benchmark``."""
  if benchmark not in FILES:
    raise errors.UserError(f"no published results for {benchmark!r}; known: {', '.join(FILES)}")
  path = labels.data_path("published").joinpath(FILES[benchmark])
  with path.open("r", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  table = {}
  for line, row in enumerate(rows, start=2):
    try:
      key = (row["model"], int(row["img_size"]))
      table[key] = float(row["top1"]) / 100.0
    except (KeyError, ValueError) as e:
      raise errors.UserError(f"{path}: line {line}: bad row ({e}); restore the file from "
                             "the package") from None
  return table


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
