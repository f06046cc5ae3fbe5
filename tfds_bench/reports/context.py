"""The user's models among the published ones (`tfds_bench.published`).

For each shift with published results (ImageNetV2 matched-frequency, Sketch,
A, R): the published models' (reference, shifted) top-1, the logit-axis
least-squares line over them (Taori et al. 2020's baseline, fitted over the
1,556 published rows rather than over the models of one report), and the
user's models on the same axes with their effective robustness against that
line. A and R are compared with top-1 on their 200 classes of ImageNet val
(``imagenet2012`` ``top1_a_clean`` / ``top1_r_clean``), as the published
``*-clean`` results are. Also each model's percentile on each benchmark.

A model is placed by its measured results when the records have both
figures; otherwise, when the model has a published counterpart
(`published.COUNTERPARTS`), by that published row, marked as not measured.
Pure numbers: no matplotlib (the scatter is `figures.published_context_figure`).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from tfds_bench import published
from tfds_bench.metrics import robustness
from tfds_bench.reports import tables

Interval = Optional[Tuple[float, float]]


@dataclasses.dataclass(frozen=True)
class Point:
  """One of the user's models on a scatter.

  Attributes:
    model: the model name of the records.
    label: how the legend names it (says "published" for a counterpart).
    reference, shifted: top-1 fractions (x, y).
    reference_interval, shifted_interval: their 95 % intervals, when measured.
    measured: False for a published counterpart's row.
    effective_robustness: shifted top-1 minus the published line's prediction.
  """
  model: str
  label: str
  reference: float
  shifted: float
  reference_interval: Interval
  shifted_interval: Interval
  measured: bool
  effective_robustness: float


@dataclasses.dataclass(frozen=True)
class ShiftContext:
  """One panel: the published points, their line and the user's models."""
  published: published.PublishedPoints
  slope: float
  intercept: float
  points: List[Point]


@dataclasses.dataclass(frozen=True)
class Standing:
  """A model's top-1 on one benchmark and its percentile among the published rows."""
  model: str
  label: str
  benchmark: str
  top1: float
  percentile: float
  published_rows: int
  measured: bool


def _figures(records: Sequence[Mapping]) -> Dict[Tuple[str, str, str], float]:
  return {(str(r["model"]), str(r["benchmark"]), str(r["metric"])): float(r["value"])
          for r in records}


def _counterpart_label(model: str) -> Optional[str]:
  key = published.COUNTERPARTS.get(model)
  return None if key is None else f"{model}: published row {key[0]} @ {key[1]} (not measured)"


def shift_contexts(records: Sequence[Mapping]) -> List[ShiftContext]:
  """One `ShiftContext` per published shift, with the records' models placed."""
  figures = _figures(records)
  bounds = tables.intervals_of(records)
  models = sorted({m for m, _, _ in figures})
  contexts = []
  for shift, reference in published.REFERENCES.items():
    points_of = published.points(shift)
    slope, intercept = robustness.logit_line(points_of.reference, points_of.shifted)
    placed = []
    for model in models:
      x_key = (model,) + published.RECORD_OF[reference]
      y_key = (model,) + published.RECORD_OF[shift]
      if x_key in figures and y_key in figures:
        placed.append((model, model, figures[x_key], figures[y_key], bounds.get(x_key),
                       bounds.get(y_key), True))
        continue
      key = published.COUNTERPARTS.get(model)
      if key is not None and key in published.top1(shift) and key in published.top1(reference):
        placed.append((model, _counterpart_label(model), published.top1(reference)[key],
                       published.top1(shift)[key], None, None, False))
    contexts.append(ShiftContext(points_of, slope, intercept, [
        Point(*p, effective_robustness=float(robustness.line_effective_robustness(
            slope, intercept, p[2], p[3]))) for p in placed]))
  return contexts


def standings(records: Sequence[Mapping]) -> List[Standing]:
  """Each model's top-1 percentile on each benchmark with published results."""
  figures = _figures(records)
  models = sorted({m for m, _, _ in figures})
  result = []
  for benchmark, record_of in published.RECORD_OF.items():
    population = list(published.top1(benchmark).values())
    for model in models:
      measured_value = figures.get((model,) + record_of)
      key = published.COUNTERPARTS.get(model)
      if measured_value is not None:
        value, label, measured = measured_value, model, True
      elif key is not None and key in published.top1(benchmark):
        value, label, measured = published.top1(benchmark)[key], _counterpart_label(model), False
      else:
        continue
      result.append(Standing(model, label, benchmark, value,
                             robustness.percentile(value, population), len(population),
                             measured))
  return result
