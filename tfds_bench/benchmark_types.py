"""The benchmark table's types: a row (`Benchmark`), its figures (`Result`),
what its scorer may need (`ScoringContext`) and its offline fallback.

Kept apart from the table (`tfds_bench.benchmark_table`) so that scorers can
build results without importing the table that lists them
(docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional, Sequence, Tuple

from tfds_bench.predictions import Predictions
from tfds_bench.sources import DataOptions, Source


@dataclasses.dataclass(frozen=True)
class Result:
  """One figure: ``value`` (a fraction) of ``metric`` over ``n`` examples."""
  benchmark: str
  metric: str
  value: float
  n: int


@dataclasses.dataclass(frozen=True)
class ScoringContext:
  """What a scorer may need beyond predictions: files from ``--manual_dir``,
  a ReaL operating point (Dawid-Skene score threshold) to report, and a
  progress display for slow scorers (`tfds_bench.progress`; None: silent)."""
  manual_dir: Optional[str] = None
  real_threshold: Optional[float] = None
  progress_factory: Optional[Callable] = None


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
    score: ``score(predictions, context)``: one Predictions per source, in
      order, and a ScoringContext -> results.
    needs_scores: True if the metrics need full scores (logits/probs), not
      just top-5 indices.
    offline_fallback: what runs instead when the data is not there.
  """
  id: str
  title: str
  sources: Tuple[Source, ...]
  metrics: Tuple[str, ...]
  score: Callable[[Sequence[Predictions], ScoringContext], List[Result]]
  needs_scores: bool = False
  offline_fallback: Optional[OfflineFallback] = None
