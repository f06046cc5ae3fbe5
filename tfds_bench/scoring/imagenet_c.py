"""ImageNet-C scoring: top-1 error per config and corruption, mCE, relative mCE.

Normalised by AlexNet's errors with `tfds_bench.metrics.mce` /
`relative_mce` (Hendrycks & Dietterich 2019); the clean error they are
relative to is reported beside them. The same scorer serves any row of
corrupted copies of the val images (ImageNet-C-bar): the row's options name
its corruptions, the ones averaged, and whether AlexNet's normaliser applies
or, for a set with no published normaliser, a baseline file the user puts in
manual_dir (`score_imagenet_c_row`, `load_baseline`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from tfds_bench import errors, metrics
from tfds_bench.benchmark_types import (Result, ScoringContext, proportion_result, reads,
                                        statistic_result)
from tfds_bench.predictions import Predictions
from tfds_bench.release.imagenet_c import NAMES, SEVERITIES, TEST_NAMES, Config

# Figures `score_imagenet_c` reports, for the benchmark table's `metrics`.
METRICS = ("mce", "relative_mce", "clean_error", "clean_top1")
# Without a normaliser (a row whose options say ``"normaliser": None``).
UNNORMALISED_METRICS = ("mean_error", "clean_error", "clean_top1")


def load_baseline(path: str, names: Sequence[str]) -> metrics.BaselineErrors:
  """Reads a baseline file: ``{"errors": {corruption: E or [E_1..E_5]}, "clean_error": E}``.

  Errors are top-1 error fractions in [0, 1] of one baseline model, for every
  corruption of ``names`` (a list is the 5 severities' errors, averaged here);
  ``clean_error`` is optional (without it, no relative mCE); other keys (a
  ``"model"`` name, say) are ignored.
  """
  fix = (f'; it should hold {{"errors": {{corruption: error or [5 errors]}}, '
         f'"clean_error": error}} with fractions in [0, 1] for {", ".join(names)}')
  try:
    with open(path, "r", encoding="utf-8") as f:
      payload = json.load(f)
    given = payload["errors"]
    means = {}
    for name in names:
      value = np.asarray(given[name], dtype=np.float64)
      if value.shape not in ((), (len(SEVERITIES),)):
        raise ValueError(f"{name}: {value.size} values, need 1 or {len(SEVERITIES)}")
      means[name] = float(value.mean())
    clean = payload.get("clean_error")
    clean = None if clean is None else float(clean)
  except KeyError as e:
    raise errors.UserError(f"{path}: no baseline error {e}{fix}") from None
  except (OSError, ValueError, TypeError, AttributeError) as e:
    raise errors.UserError(f"cannot read baseline errors from {path}: {e}{fix}") from None
  values = list(means.values()) + ([] if clean is None else [clean])
  if not all(0. <= v <= 1. for v in values):
    raise errors.UserError(f"{path}: baseline errors must be fractions in [0, 1]{fix}")
  if 0. in means.values():
    raise errors.UserError(f"{path}: a baseline error of 0 cannot normalise{fix}")
  if clean is not None and any(m == clean for m in means.values()):
    raise errors.UserError(f"{path}: a corruption error equal to the clean error cannot "
                           f"normalise relative mCE{fix}")
  return metrics.BaselineErrors(means, clean)


def _top1_wrong(benchmark: str, what: str, predictions: Predictions) -> np.ndarray:
  """bool [n]: top-1 wrong, per image of labelled predictions; raises on missing labels."""
  label = np.asarray(predictions.label)
  if len(label) == 0:
    raise errors.UserError(f"{benchmark}: no predictions for {what}")
  if (label < 0).any():
    raise errors.UserError(
        f"{benchmark}: {int((label < 0).sum())} of {len(label)} images of "
        f"{what} have no label")
  top1 = np.asarray(predictions.top5)[:, 0]
  return top1 != label


def score_imagenet_c(predictions_by_config: Mapping[Config, Predictions],
                     clean: Predictions, benchmark: str, names: Sequence[str] = NAMES,
                     mean_over: Sequence[str] = TEST_NAMES,
                     alexnet_normalised: bool = True,
                     baseline: Optional[metrics.BaselineErrors] = None) -> List[Result]:
  """ImageNet-C figures from per-config predictions and clean predictions.

  Reported (values are fractions; `n` as stated):
    * `error/<corruption>_<severity>`: top-1 error; n = images of the config.
    * `error/<corruption>`: mean of the 5 severities' errors (only when all
      5 are given); n = image evaluations averaged over (sum over severities,
      250,000 for a full corruption).
    * `mce`, `relative_mce`: over the 15 test corruptions, AlexNet-normalised
      with the shipped numbers (only when all 15 x 5 configs are given);
      n = corrupted-image evaluations they average over (750,000 in full; the
      clean images are counted in `clean_error`'s n instead).
    * `mean_error` instead of them when ``alexnet_normalised`` is False: the
      mean over ``mean_over`` of the per-corruption errors (ImageNet-C-bar's
      release reports this "overall-avg"); same n. With a ``baseline`` as
      well, `mce` (and `relative_mce` when it has a clean error) normalised
      by that baseline's errors.
    * `clean_error`, `clean_top1`: of `clean`, which relative mCE uses;
      n = its images.

  Args:
    predictions_by_config: `{config: Predictions}`; a config has
      ``corruption``, ``severity`` and ``name`` (`release.imagenet_c.Config`
      or `release.imagenet_c_bar.Config`).
    clean: predictions on the clean images (ImageNet val) of the same files.
    benchmark: benchmark name written into the results.
    names: the row's corruptions (per-corruption errors, in this order).
    mean_over: the corruptions mCE (or the mean error) averages over.
    alexnet_normalised: mCE and relative mCE with AlexNet's errors; else
      `mean_error`.
    baseline: without AlexNet's normaliser, a baseline's errors on
      ``mean_over`` (`load_baseline`) for mCE and relative mCE.

  Raises:
    UserError: missing labels, or a config whose images are not the clean
      set's images.
  """
  clean_wrong = _top1_wrong(benchmark, "the clean images", clean)
  clean_error = float(clean_wrong.mean())
  clean_names = np.asarray(clean.file_name).astype(str)
  clean_files = set(clean_names.tolist())
  clean_sorted = np.argsort(clean_names)
  # Per config, top-1 wrong per image in the clean images' order, so that the
  # bootstrap of the means resamples the same images in every config.
  per_config: Dict[str, Dict[int, np.ndarray]] = {}
  results = []
  for config in sorted(predictions_by_config):
    corruption, severity, name = config.corruption, config.severity, config.name
    predictions = predictions_by_config[config]
    files = set(np.asarray(predictions.file_name).astype(str).tolist())
    if files != clean_files:
      raise errors.UserError(
          f"{benchmark}: {name} has {len(files)} images, "
          f"{len(files - clean_files)} of them not among the "
          f"{len(clean_files)} clean images (and {len(clean_files - files)} "
          "clean images missing): errors relative to the clean error need the "
          "same images")
    wrong = _top1_wrong(benchmark, name, predictions)
    # Same unique names: the k-th name in sorted order is the same image in both.
    aligned = np.empty_like(wrong)
    aligned[clean_sorted] = wrong[np.argsort(np.asarray(predictions.file_name).astype(str))]
    per_config.setdefault(corruption, {})[severity] = aligned
    results.append(proportion_result(benchmark, f"error/{name}", aligned, clean_names))

  complete = {c: per_config[c] for c in names
              if set(per_config.get(c, {})) == set(SEVERITIES)}
  images = len(clean_names)
  for corruption, by_severity in complete.items():
    # The 5 severities corrupt the same images, so their (image, severity)
    # pairs are not independent trials: the interval resamples images (the
    # bootstrap), not pairs (Clopper-Pearson over 5 n would be too narrow).
    results.append(statistic_result(
        benchmark, f"error/{corruption}", _mean_error(by_severity), clean_names,
        len(SEVERITIES) * images))

  if all(c in complete for c in mean_over):
    n = len(mean_over) * len(SEVERITIES) * images

    def test_errors(i: np.ndarray) -> Dict[str, List[float]]:
      return {c: [float(complete[c][s][i].mean()) for s in SEVERITIES] for c in mean_over}

    if not alexnet_normalised:
      results.append(statistic_result(
          benchmark, "mean_error",
          lambda i: float(np.mean([np.mean(e) for e in test_errors(i).values()])),
          clean_names, n))
    if alexnet_normalised or baseline is not None:
      # AlexNet's shipped ImageNet-C errors, or the given baseline's.
      base_errors = None if alexnet_normalised else baseline.errors
      base_clean = None if alexnet_normalised else baseline.clean_error
      results.append(statistic_result(
          benchmark, "mce", lambda i: metrics.mce(test_errors(i), base_errors, mean_over),
          clean_names, n))
      if alexnet_normalised or base_clean is not None:
        results.append(statistic_result(
            benchmark, "relative_mce",
            lambda i: metrics.relative_mce(test_errors(i), float(clean_wrong[i].mean()),
                                           base_errors, base_clean, mean_over),
            clean_names, n))
  results.append(proportion_result(benchmark, "clean_error", clean_wrong, clean_names))
  results.append(proportion_result(benchmark, "clean_top1", ~clean_wrong, clean_names))
  return results


def _mean_error(by_severity: Mapping[int, np.ndarray]) -> Callable[[np.ndarray], float]:
  """Mean over the severities of the top-1 error on the images at the indices."""
  return lambda i: float(np.mean([by_severity[s][i].mean() for s in SEVERITIES]))


@reads("manual_dir")
def score_imagenet_c_row(predictions: Sequence[Predictions],
                         context: ScoringContext) -> List[Result]:
  """The scorer of a row whose sources are the clean val images, then one
  `sources.ImageNetCSource` per config (each carrying its config).

  Row options (ImageNet-C's defaults when absent): ``corruptions`` (names),
  ``mean_over`` (the names averaged), ``normaliser`` ("alexnet" or None).
  """
  clean, *corrupted = predictions
  configs = [source.config for source in context.row.sources[1:]]
  return score_imagenet_c(dict(zip(configs, corrupted)), clean, context.row.id,
                          **_row_options(context))


def _row_options(context: ScoringContext) -> Dict[str, object]:
  """`score_imagenet_c`'s keyword arguments from the row's options (ImageNet-C's
  defaults when absent): ``corruptions`` (names), ``mean_over`` (the names
  averaged), ``normaliser``: "alexnet", None, or "baseline_file" (the mean
  error, and mCE / relative mCE when ``<manual_dir>/<baseline_file option>``
  holds a baseline's errors, `load_baseline`)."""
  options = context.row.options
  normaliser = options.get("normaliser", "alexnet")
  if normaliser not in ("alexnet", None, "baseline_file"):
    raise ValueError(f"{context.row.id}: unknown normaliser {normaliser!r}")
  mean_over = tuple(options.get("mean_over", TEST_NAMES))
  baseline = None
  if normaliser == "baseline_file" and context.manual_dir:
    path = os.path.join(context.manual_dir, options["baseline_file"])
    if os.path.isfile(path):
      baseline = load_baseline(path, mean_over)
  return {"names": tuple(options.get("corruptions", NAMES)), "mean_over": mean_over,
          "alexnet_normalised": normaliser == "alexnet", "baseline": baseline}


def check_baseline_file(context: ScoringContext) -> None:
  """The row's baseline file (``baseline_file`` option), read and checked now
  (`Benchmark.check_inputs`); no file is no check."""
  _row_options(context)


def score_sample_c(predictions: Sequence[Predictions],
                   context: ScoringContext) -> List[Result]:
  """ImageNet-C figures on corrupted sample photos (`bench_sample_c`,
  `bench_sample_c_bar`, whose file names are `<config>/<photo>`) against the
  clean sample: per-corruption error, and mCE / relative mCE or the mean
  error as the row's options say (`score_imagenet_c_row`)."""
  clean, corrupted = predictions
  config, photo = np.array([name.split("/", 1) for name in corrupted.file_name]).T
  by_config = {}
  for name in np.unique(config):
    rows = config == name
    try:
      parsed = Config.parse(str(name))
    except ValueError as e:
      raise errors.UserError(f"{context.row.id}: {e}") from None
    by_config[parsed] = dataclasses.replace(corrupted.select(rows), file_name=photo[rows])
  return score_imagenet_c(by_config, clean, context.row.id, **_row_options(context))


@reads("manual_dir")
def score_sample_c_bar(predictions: Sequence[Predictions],
                       context: ScoringContext) -> List[Result]:
  """`score_sample_c` for `bench_sample_c_bar`, which also reads a baseline
  file from manual_dir when one is there (`_row_options`)."""
  return score_sample_c(predictions, context)
