"""The benchmark table's types: a row (`Benchmark`), its figures (`Result`),
what its scorer gets (`ScoringContext`: the row and the run's
`ScoringOptions`) and its offline fallback.

Kept apart from the table (`tfds_bench.benchmark_table`) so that scorers can
build results without importing the table that lists them
(docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfds_bench.metrics import intervals
from tfds_bench.predictions import Predictions
from tfds_bench.sources import DataOptions, Source


@dataclasses.dataclass(frozen=True)
class PerImage:
  """What a figure is, image by image: for its interval and for paired tests.

  Exactly one of ``counted`` and ``statistic`` is set.

  Attributes:
    images: str [n], the units the figure is over (file names; video ids for
      ImageNet-P), unique. Two runs are paired on these.
    counted: bool [n] when the figure is a proportion: the figure is
      ``counted.mean()`` (e.g. top-1 correct; top-1 wrong for an error rate).
    statistic: ``statistic(indices) -> float``, the figure recomputed on
      ``images[indices]`` (indices drawn with replacement), for the rest.
  """
  images: np.ndarray
  counted: Optional[np.ndarray] = None
  statistic: Optional[intervals.Statistic] = None


@dataclasses.dataclass(frozen=True)
class Result:
  """One figure: ``value`` (a fraction) of ``metric`` over ``n`` examples.

  ``per_image`` (not written to results files) is what the interval and the
  paired tests are computed from; ``ci_low`` / ``ci_high`` / ``ci_method``
  are filled by `with_interval`.
  """
  benchmark: str
  metric: str
  value: float
  n: int
  per_image: Optional[PerImage] = dataclasses.field(default=None, compare=False, repr=False)
  ci_low: Optional[float] = None
  ci_high: Optional[float] = None
  ci_method: Optional[str] = None

  def with_interval(self) -> "Result":
    """This result with its 95 % interval: Clopper-Pearson for a proportion,
    the seeded bootstrap over images otherwise; unchanged without per-image data."""
    if self.per_image is None or self.ci_method is not None:
      return self
    if self.per_image.counted is not None:
      counted = self.per_image.counted
      low, high = intervals.clopper_pearson(int(counted.sum()), len(counted))
      method = intervals.CLOPPER_PEARSON
    else:
      low, high = intervals.bootstrap_interval(self.per_image.statistic,
                                               len(self.per_image.images))
      method = intervals.BOOTSTRAP
      if not (np.isfinite(low) and np.isfinite(high)):
        return self  # undefined on every resample: no interval rather than NaN.
    return dataclasses.replace(self, ci_low=low, ci_high=high, ci_method=method)


def proportion_result(benchmark: str, metric: str, counted: np.ndarray,
                      images: np.ndarray) -> Result:
  """A proportion: the share of ``images`` where ``counted`` is True."""
  counted = np.asarray(counted, bool)
  return Result(benchmark, metric, float(counted.mean()), len(counted),
                PerImage(np.asarray(images), counted=counted))


def statistic_result(benchmark: str, metric: str, statistic: intervals.Statistic,
                     images: np.ndarray, n: Optional[int] = None) -> Result:
  """A figure that is a function of the images: ``statistic(all indices)``.

  ``n`` is the count reported (default: the number of images).
  """
  images = np.asarray(images)
  value = float(statistic(np.arange(len(images))))
  return Result(benchmark, metric, value, len(images) if n is None else n,
                PerImage(images, statistic=statistic))


@dataclasses.dataclass(frozen=True)
class ScoringOptions:
  """The run's options a scorer may read, the same for every row: files from
  ``--manual_dir``, a ReaL operating point (Dawid-Skene score threshold) to
  report, a progress display for slow scorers (`tfds_bench.progress`;
  None: silent) and the folder of ImageNet-X's annotation files (None: the
  installed ``imagenet-x`` package's)."""
  manual_dir: Optional[str] = None
  real_threshold: Optional[float] = None
  progress_factory: Optional[Callable] = None
  # model-vs-human's raw-data/ folder of human observers (--human_data).
  human_data: Optional[str] = None
  # ImageNet-X's annotation files (--imagenet_x_dir; None: the installed package's).
  imagenet_x_dir: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class ScoringContext:
  """What every scorer gets beside its predictions: its own table row (its
  id, sources, label space and options) and the run's `ScoringOptions`."""
  row: "Benchmark"
  options: ScoringOptions = ScoringOptions()

  @property
  def benchmark(self) -> str:
    return self.row.id

  @property
  def manual_dir(self) -> Optional[str]:
    return self.options.manual_dir

  @property
  def real_threshold(self) -> Optional[float]:
    return self.options.real_threshold

  @property
  def progress_factory(self) -> Optional[Callable]:
    return self.options.progress_factory


Scorer = Callable[[Sequence[Predictions], ScoringContext], List[Result]]


def reads(*options: str) -> Callable[[Scorer], Scorer]:
  """Marks a scorer as reading run options (names of `ScoringOptions` fields
  as flags: ``real_threshold``, ``manual_dir``); `Benchmark.reads` collects
  them, and the run configuration refuses an option no chosen row reads."""
  def mark(scorer: Scorer) -> Scorer:
    scorer.reads = frozenset(options)
    return scorer
  return mark


@dataclasses.dataclass(frozen=True)
class OfflineFallback:
  """What a row runs instead when its data cannot be had.

  Attributes:
    benchmark_id: the row run instead (reported under its own id, never
      under the original one).
    available: ``available(data) -> bool``: whether the original row can run.
    reason: why it cannot, for the notice.
  """
  benchmark_id: str
  available: Callable[[DataOptions], bool]
  reason: str


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """A row of the table.

  Attributes:
    id: the name users select with ``--benchmarks``.
    title: one line for ``--list``.
    sources: what to run the model on; ``score`` gets one Predictions each.
    metrics: names of the figures ``score`` reports.
    score: the scorer (`tfds_bench.scoring`): ``score(predictions, context)``,
      one Predictions per source in order and a ScoringContext holding this
      row -> results. Scorers take everything row-specific from the row, so
      one scorer serves every row that names it.
    needs_scores: True if the metrics need full scores (logits/probs), not
      just top-5 indices.
    offline_fallback: what runs instead when the data is not there.
    label_space: the `tfds_bench.label_spaces` name the row's labels and
      scoring are in (None: the 1000 ImageNet classes).
    space_scores: label spaces whose per-image scores the scorer reads
      (kept in the predictions only when a chosen row needs them).
    ood_scores: per-image OOD scores computed from the logits that the
      scorer reads (`predictions.LOGIT_OOD_SCORES`: max logit, energy), kept
      in ``Predictions.ood_scores`` only when a chosen row names them and the
      model outputs logits.
    options: the scorer's parameters for this row.
    check_inputs: ``check_inputs(context)`` reads and checks, before any
      forward pass, a file the scorer will read (a baseline in manual_dir),
      so that a bad one stops the run in seconds, not after the evaluation;
      raises `errors.UserError`. None: nothing to check.
  """
  id: str
  title: str
  sources: Tuple[Source, ...]
  metrics: Tuple[str, ...]
  score: Scorer
  needs_scores: bool = False
  offline_fallback: Optional[OfflineFallback] = None
  label_space: Optional[str] = None
  space_scores: Tuple[str, ...] = ()
  ood_scores: Tuple[str, ...] = ()
  options: Mapping[str, object] = dataclasses.field(default_factory=dict)
  check_inputs: Optional[Callable[[ScoringContext], None]] = None

  @property
  def reads(self) -> FrozenSet[str]:
    """The run options (flag names) this row's sources and scorer read."""
    out = set(getattr(self.score, "reads", ()))
    for source in self.sources:
      out |= source.reads
    return frozenset(out)
