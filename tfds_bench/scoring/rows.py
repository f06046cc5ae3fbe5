"""The one scoring entry point: table rows and their sources' predictions -> results.

Evaluation (`evaluate.evaluate`), ``--predictions`` scoring (single files and
merged ``--shard`` files) and ``--compare`` all score through `score_rows`,
so every scorer gets the same `ScoringContext`: its own row and the run's
`ScoringOptions`.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

from tfds_bench import errors
from tfds_bench.benchmark_types import Benchmark, Result, ScoringContext, ScoringOptions
from tfds_bench.predictions import LOGIT_OOD_SCORES, Predictions


def space_scores_of(rows: Sequence[Benchmark]) -> Tuple[str, ...]:
  """The label spaces whose per-image scores the rows' scorers read, sorted:
  what a forward pass (or a predictions file of scores) keeps."""
  return tuple(sorted({name for row in rows for name in row.space_scores}))


def ood_scores_of(rows: Sequence[Benchmark]) -> Tuple[str, ...]:
  """The logit OOD scores (`predictions.LOGIT_OOD_SCORES`) the rows' scorers
  read, in that order: what a forward pass of a logits model (or a
  predictions file of logits) keeps."""
  wanted = {name for row in rows for name in row.ood_scores}
  return tuple(name for name in LOGIT_OOD_SCORES if name in wanted)


def score_row(row: Benchmark, by_source: Mapping[str, Predictions],
              options: ScoringOptions = ScoringOptions(),
              with_intervals: bool = True) -> List[Result]:
  """One row's results from the predictions of its sources (by source key),
  each with its 95 % interval unless ``with_intervals`` is False.

  Raises:
    UserError: predictions of one of the row's sources are missing, or the
      row needs scores and the predictions hold top-5 indices only.
  """
  missing = [s.key for s in row.sources if s.key not in by_source]
  if missing:
    raise errors.UserError(f"{row.id} needs predictions of {', '.join(missing)}, which "
                           "the predictions given do not hold")
  predictions = [by_source[s.key] for s in row.sources]
  if row.needs_scores and not all(p.has_scores for p in predictions):
    raise errors.UserError(f"{row.id} needs logits or probs, not top-5 indices")
  results = row.score(predictions, ScoringContext(row, options))
  return [r.with_interval() for r in results] if with_intervals else list(results)


def score_rows(rows: Sequence[Benchmark], by_source: Mapping[str, Predictions],
               options: ScoringOptions = ScoringOptions()) -> List[Result]:
  """`score_row` of every row, in order, each result with its interval."""
  results: List[Result] = []
  for row in rows:
    results.extend(score_row(row, by_source, options))
  return results


def used_predictions(rows: Sequence[Benchmark], by_source: Mapping[str, Predictions]
                     ) -> Dict[str, Predictions]:
  """The predictions of the rows' sources, by source key, in first-use order."""
  return {s.key: by_source[s.key] for row in rows for s in row.sources if s.key in by_source}
