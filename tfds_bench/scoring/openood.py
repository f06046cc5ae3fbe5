"""OpenOOD v1.5's ImageNet-1k OOD track: per set, and near / far means.

In-distribution: ImageNet val restricted to OpenOOD's 45,000 test images
(`openood_lists.id_val_file_names`), taken from the val predictions the
suite already makes. Out-of-distribution: one `bench_openood_*` set (keys:
the list's relative paths). Each figure of `metrics.openood` (AUROC,
AUPR-In, AUPR-Out, FPR@95 in OpenOOD's and ODIN's conventions) is reported
per score (MSP, max logit, energy, and any further per-image score the
predictions carry; higher = more in-distribution) as ``<figure>_<score>``,
with a seeded bootstrap interval over the pooled ID + OOD images. The near
and far rows are OpenOOD's unweighted means over their sets; their bootstrap
resamples the ID images once and every set's OOD images, and recomputes each
set's figure on the shared ID resample, so the interval covers the ID
images' share of the variation once.

Scores: MSP from ``Predictions.confidence`` (the max softmax probability the
suite keeps for every run), and every score of ``Predictions.ood_scores``
(name -> float [N]): max logit and energy where the predict step or a
predictions file of logits computed them (`Benchmark.ood_scores`), or any
score a predictions file carries.

One scorer serves the seven rows (`score_openood_row`): a row's sets are its
``options["sets"]``, one set for a per-set row, a group's sets for the near /
far rows; its sources are val and then those sets, in that order.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfds_bench import errors, openood_lists
from tfds_bench.benchmark_types import Result, ScoringContext, reads, statistic_result
from tfds_bench.metrics import formulas, openood
from tfds_bench.predictions import Predictions

BENCHMARK_PREFIX = "openood_"
# Names of the library form's results (`score_arrays`) and of the table's
# rows and set sources (`tfds_bench.benchmark_table`): one per set, and the
# two group means.
SET_BENCHMARKS = {name: f"{BENCHMARK_PREFIX}{name}" for name in openood_lists.OOD_SETS}
GROUP_BENCHMARKS = {"near": f"{BENCHMARK_PREFIX}near", "far": f"{BENCHMARK_PREFIX}far"}
GROUP_SETS = {"near": openood.NEAR_OOD_SETS, "far": openood.FAR_OOD_SETS}
# The row option naming its sets, in source order after val.
SETS_OPTION = "sets"


def metric_name(figure: str, score: str) -> str:
  """``auroc_msp``, ``fpr95_openood_energy``, ..."""
  return f"{figure}_{score}"


def per_image_scores(p: Predictions) -> Dict[str, np.ndarray]:
  """score name -> float64 [N] (higher = more in-distribution): ``msp`` from
  the confidence, then ``p.ood_scores`` (an ``msp`` there is taken as given)."""
  if not p.has_scores:
    raise errors.UserError(
        "OpenOOD scoring needs per-image scores (max softmax probability at least); "
        "these predictions hold top-5 indices only: save logits or probabilities.")
  scores = {"msp": np.asarray(p.confidence, np.float64)}
  scores.update({name: np.asarray(values, np.float64) for name, values in p.ood_scores.items()})
  return scores


def id_rows(val: Predictions, manual_dir: Optional[str] = None) -> np.ndarray:
  """Rows of the val predictions that are OpenOOD's 45,000 ID test images.

  Raises:
    errors.UserError: some of the listed val images have no prediction (a
      partial val run cannot stand in for OpenOOD's ID split).
  """
  wanted = openood_lists.id_val_file_names(manual_dir)
  row = {name: i for i, name in enumerate(np.asarray(val.file_name).astype(str).tolist())}
  missing = [name for name in wanted if name not in row]
  if missing:
    raise errors.UserError(
        f"OpenOOD's ID side is {len(wanted)} ImageNet val images (test_imagenet.txt), "
        f"and {len(missing)} of them have no val prediction (e.g. {missing[0]}): run "
        "the model on the whole of ImageNet val.")
  return np.array([row[name] for name in wanted], dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class _Pool:
  """ID images and the OOD images of one or more sets, ranked once per score.

  ``group[i]``: 0 for an ID image, k for the k-th set's images. ``ranks``:
  score name -> position of each image's score among the pool's distinct
  scores, so a resample's counts per score are one bincount.
  """
  images: np.ndarray
  group: np.ndarray
  num_sets: int
  ranks: Dict[str, np.ndarray]
  num_values: Dict[str, int]

  def statistic(self, figure: str, score: str) -> Callable[[np.ndarray], float]:
    formula = openood.FORMULAS[figure]
    ranks, num_values, group = self.ranks[score], self.num_values[score], self.group
    num_groups = self.num_sets + 1

    def statistic(indices: np.ndarray) -> float:
      counts = np.bincount(group[indices] * num_values + ranks[indices],
                           minlength=num_groups * num_values).reshape(num_groups, num_values)
      totals = counts.sum(axis=1)
      if (totals == 0).any():
        return float("nan")  # a resample without ID or without one set's images
      return float(np.mean([formula(formulas.NUMPY, counts[0], counts[k])
                            for k in range(1, num_groups)]))
    return statistic


def _pool(id_p: Predictions, id_scores: Mapping[str, np.ndarray],
          sets: Sequence[Tuple[Predictions, Mapping[str, np.ndarray]]]) -> _Pool:
  names = sorted(set(id_scores).intersection(*(set(s) for _, s in sets)))
  if not names:
    raise errors.UserError("OpenOOD scoring: the ID and OOD predictions share no score")
  images = np.concatenate([np.asarray(id_p.file_name).astype(str)]
                          + [np.asarray(p.file_name).astype(str) for p, _ in sets])
  group = np.concatenate([np.zeros(len(id_p), np.int64)]
                         + [np.full(len(p), k + 1, np.int64) for k, (p, _) in enumerate(sets)])
  ranks, num_values = {}, {}
  for name in names:
    pooled = np.concatenate([id_scores[name]] + [s[name] for _, s in sets])
    if not np.isfinite(pooled).all():
      raise errors.UserError(f"OpenOOD scoring: score {name!r} has NaN or infinite values")
    _, inverse = np.unique(pooled, return_inverse=True)
    ranks[name], num_values[name] = inverse.astype(np.int64), int(inverse.max()) + 1
  return _Pool(images, group, len(sets), ranks, num_values)


def _results(benchmark: str, pool: _Pool) -> List[Result]:
  return [statistic_result(benchmark, metric_name(figure, score),
                           pool.statistic(figure, score), pool.images)
          for score in sorted(pool.ranks) for figure in openood.OOD_METRIC_NAMES]


def _ood_side(benchmark: str, set_name: str, p: Predictions, manual_dir: Optional[str]):
  listed = openood_lists.ood_list(set_name, manual_dir)
  names = np.asarray(p.file_name).astype(str)
  given = set(names.tolist())
  extra = sorted(given - set(listed.paths))
  missing = [path for path in listed.paths if path not in given]
  if extra or missing:
    example = repr(extra[0]) if extra else repr(missing[0])
    raise errors.UserError(
        f"{benchmark}: the {set_name} predictions are not the {len(listed.paths)} "
        f"images {listed.source} lists ({len(extra)} unlisted, {len(missing)} missing, "
        f"e.g. {example}); keys are the list's relative paths. Predict on the prepared "
        f"bench_openood_{set_name} dataset.")
  return p, per_image_scores(p)


def _id_side(val: Predictions, manual_dir: Optional[str]):
  rows = id_rows(val, manual_dir)
  return val.select(rows), {k: v[rows] for k, v in per_image_scores(val).items()}


@reads("manual_dir")
def score_openood_row(predictions: Sequence[Predictions], context: ScoringContext
                      ) -> List[Result]:
  """The scorer of every OpenOOD row: predictions ``[val, *sets]``, the sets
  being ``context.row.options["sets"]``; per score and figure, the mean over
  the sets of each set's figure against the same ID images (a one-set row:
  that set's figure). ``--manual_dir``: the user's copies of OpenOOD's lists.
  """
  row = context.row
  set_names = tuple(row.options[SETS_OPTION])
  val, *ood_ps = predictions
  if len(ood_ps) != len(set_names):
    raise ValueError(f"{row.id}: expected val and {len(set_names)} sets, got "
                     f"{len(predictions)} predictions")
  id_p, id_scores = _id_side(val, context.manual_dir)
  sides = [_ood_side(row.id, name, p, context.manual_dir) for name, p in zip(set_names, ood_ps)]
  return _results(row.id, _pool(id_p, id_scores, sides))


def score_arrays(id_file_names, id_scores: Mapping[str, np.ndarray],
                 sets: Mapping[str, Tuple[np.ndarray, Mapping[str, np.ndarray]]]
                 ) -> List[Result]:
  """Library form: ID and per-set (file names, {score: values}) -> Result rows.

  One row per set and figure and score, plus the near / far means where all
  of a group's sets are given. No list restriction is applied: pass the ID
  images to use.
  """
  def as_predictions(names):
    names = np.asarray(names)
    n = len(names)
    return Predictions(file_name=names, label=np.full(n, -1, np.int64),
                       top5=np.zeros((n, 5), np.int64), confidence=np.full(n, np.nan))
  id_p = as_predictions(id_file_names)
  id_scores = {k: np.asarray(v, np.float64) for k, v in id_scores.items()}
  sides = {name: (as_predictions(names), {k: np.asarray(v, np.float64)
                                          for k, v in scores.items()})
           for name, (names, scores) in sets.items()}
  results = []
  for name, side in sides.items():
    results += _results(SET_BENCHMARKS.get(name, f"{BENCHMARK_PREFIX}{name}"),
                        _pool(id_p, id_scores, [side]))
  for group, names in GROUP_SETS.items():
    if all(n in sides for n in names):
      results += _results(GROUP_BENCHMARKS[group],
                          _pool(id_p, id_scores, [sides[n] for n in names]))
  return results
