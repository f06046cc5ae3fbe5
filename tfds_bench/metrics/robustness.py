"""Effective robustness (Taori et al. 2020) from results records.

Taori et al. 2020, "Measuring Robustness to Natural Distribution Shifts in
Image Classification", Sec. 3: the baseline is a linear fit, across models, of
shifted top-1 against ImageNet val top-1 with BOTH accuracies
logit-transformed, logit(p) = log(p / (1 - p)) (the paper's plots and its
testbed code, modestyachts/imagenet-testbed ``plotting/plotter.py``, use
``transform='logit'`` and an ordinary least-squares fit in that space). A
model's effective robustness is its shifted accuracy minus the baseline's
prediction at its ImageNet accuracy, mapped back to accuracy: ``acc_shift -
expit(slope * logit(acc_val) + intercept)``, a difference of fractions (shown
in percentage points). `robustness_fit` fits over the models in the records
given (the report's ``robustness_baseline="models"`` option; with exactly two
models the line passes through both and every value is 0) with 1000-class
ImageNet val top-1 as the x axis for every shift; the report's default fits
`logit_line` over timm's 1,556 published rows instead, with A and R against
val top-1 on their 200 classes (`tfds_bench.reports.context`).

Records are flat results records (``model``, ``benchmark``, ``metric``,
``value`` as a fraction), as in ``results.json``; when a (model, benchmark)
top-1 appears twice, the later record wins.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

REFERENCE_BENCHMARK = "imagenet2012"
ACCURACY_METRIC = "top1"
# Same images as the reference with other labels: a relabelling, not a shift.
NOT_SHIFTS = frozenset({REFERENCE_BENCHMARK, "imagenet2012_real"})
# Accuracies of exactly 0 or 1 have no logit: clip them this far inside (0, 1).
LOGIT_EPSILON = 1e-4


def logit(p) -> np.ndarray:
  """log(p / (1 - p)), with p clipped to [LOGIT_EPSILON, 1 - LOGIT_EPSILON]."""
  p = np.clip(np.asarray(p, dtype=np.float64), LOGIT_EPSILON, 1.0 - LOGIT_EPSILON)
  return np.log(p) - np.log1p(-p)


def expit(x) -> np.ndarray:
  """The inverse of `logit`: 1 / (1 + exp(-x))."""
  return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def shifted_benchmarks(records: Iterable[Mapping]) -> List[str]:
  """Benchmarks with top-1 other than ImageNet val (and its ReaL relabelling)."""
  return sorted({str(r["benchmark"]) for r in records
                 if r["metric"] == ACCURACY_METRIC and r["benchmark"] not in NOT_SHIFTS})


@dataclasses.dataclass
class RobustnessFit:
  """Accuracies of the models on the reference and on one shifted benchmark.

  Attributes:
    shifted_benchmark: the benchmark on the y axis.
    points: model -> (reference top-1, shifted top-1), fractions.
    slope, intercept: the least-squares line in logit space, logit(shifted) =
      slope * logit(reference) + intercept; None when it cannot be fitted
      (fewer than 2 models, or all models at the same reference accuracy).
    effective_robustness: model -> shifted accuracy minus the fit's prediction
      (a fraction); empty when there is no fit.
  """
  shifted_benchmark: str
  points: Dict[str, Tuple[float, float]]
  slope: Optional[float] = None
  intercept: Optional[float] = None
  effective_robustness: Dict[str, float] = dataclasses.field(default_factory=dict)

  @property
  def has_fit(self) -> bool:
    return self.slope is not None

  def predict(self, reference_accuracy) -> np.ndarray:
    """The baseline's shifted accuracy at the given reference accuracies."""
    if not self.has_fit:
      raise ValueError(f"no fit for {self.shifted_benchmark}: {self.why_no_fit()}")
    return expit(self.slope * logit(reference_accuracy) + self.intercept)

  def why_no_fit(self) -> str:
    if len(self.points) < 2:
      return (f"a line needs at least 2 models with both {REFERENCE_BENCHMARK} and "
              f"{self.shifted_benchmark} top-1, got {len(self.points)}")
    return f"all models have the same {REFERENCE_BENCHMARK} top-1"


def robustness_fit(records: Iterable[Mapping], shifted_benchmark: str,
                   reference_benchmark: str = REFERENCE_BENCHMARK) -> RobustnessFit:
  """Fits the effective-robustness baseline for one shifted benchmark.

  Uses every model with top-1 on both benchmarks, in model-name order. See the
  module docstring for the definition (Taori et al. 2020, logit-transformed
  axes).
  """
  top1: Dict[Tuple[str, str], float] = {}
  for r in records:
    if r["metric"] == ACCURACY_METRIC:
      top1[(str(r["model"]), str(r["benchmark"]))] = float(r["value"])
  points = {}
  for model in sorted({m for m, _ in top1}):
    x = top1.get((model, reference_benchmark))
    y = top1.get((model, shifted_benchmark))
    if x is not None and y is not None and not (math.isnan(x) or math.isnan(y)):
      points[model] = (x, y)
  fit = RobustnessFit(shifted_benchmark, points)
  if len(points) < 2:
    return fit
  xs = [p[0] for p in points.values()]
  if np.ptp(logit(xs)) == 0:
    return fit
  fit.slope, fit.intercept = logit_line(xs, [p[1] for p in points.values()])
  gaps = line_effective_robustness(fit.slope, fit.intercept, xs,
                                   [p[1] for p in points.values()])
  fit.effective_robustness = {model: float(gap) for model, gap in zip(points, gaps)}
  return fit


def logit_line(reference_accuracy, shifted_accuracy) -> Tuple[float, float]:
  """(slope, intercept) of the least-squares line of logit(shifted) on logit(reference).

  Ordinary least squares of y on x, as scipy.stats.linregress in the paper's
  testbed code; the baseline of effective robustness, whether fitted over the
  published models (`tfds_bench.published`) or over the models of a report.
  """
  xs, ys = logit(reference_accuracy), logit(shifted_accuracy)
  if len(xs) != len(ys) or len(xs) < 2 or np.ptp(xs) == 0:
    raise ValueError(f"a line needs at least 2 points at different x, got {len(xs)}")
  slope, intercept = np.polyfit(xs, ys, deg=1)
  return float(slope), float(intercept)


def line_effective_robustness(slope: float, intercept: float, reference_accuracy,
                              shifted_accuracy) -> np.ndarray:
  """Shifted accuracy minus the line's prediction at the reference accuracy (fractions)."""
  predicted = expit(slope * logit(reference_accuracy) + intercept)
  return np.asarray(shifted_accuracy, dtype=np.float64) - predicted


def percentile(value: float, population) -> float:
  """Percent of ``population`` strictly below ``value``, plus half of the ties."""
  population = np.asarray(population, dtype=np.float64)
  below = np.sum(population < value) + 0.5 * np.sum(population == value)
  return float(100.0 * below / len(population))


def effective_robustness(records: Iterable[Mapping], shifted_benchmark: str,
                         reference_benchmark: str = REFERENCE_BENCHMARK) -> Dict[str, float]:
  """Model -> effective robustness on ``shifted_benchmark`` (a fraction).

  Shifted top-1 minus the logit-space linear fit's prediction at the model's
  ImageNet val top-1 (Taori et al. 2020).

  Raises:
    ValueError: fewer than 2 models have both accuracies, or they all have
      the same ImageNet accuracy (no line can be fitted).
  """
  fit = robustness_fit(list(records), shifted_benchmark, reference_benchmark)
  if not fit.has_fit:
    raise ValueError(f"effective robustness on {shifted_benchmark}: {fit.why_no_fit()}")
  return fit.effective_robustness
