"""ImageNet-C scoring: top-1 error per config and corruption, mCE, relative mCE.

Normalised by AlexNet's errors with `tfds_bench.metrics.mce` /
`relative_mce` (Hendrycks & Dietterich 2019); the clean error they are
relative to is reported beside them. The same scorer serves any row of
corrupted copies of the val images (ImageNet-C-bar): the row's options name
its corruptions, the ones averaged, and whether AlexNet's normaliser applies
(`score_imagenet_c_row`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Mapping, Sequence

import numpy as np

from tfds_bench import errors, metrics
from tfds_bench.benchmark_types import (Result, ScoringContext, proportion_result,
                                        statistic_result)
from tfds_bench.predictions import Predictions
from tfds_bench.release.imagenet_c import NAMES, SEVERITIES, TEST_NAMES, Config

# Figures `score_imagenet_c` reports, for the benchmark table's `metrics`.
METRICS = ("mce", "relative_mce", "clean_error", "clean_top1")
# Without a normaliser (a row whose options say ``"normaliser": None``).
UNNORMALISED_METRICS = ("mean_error", "clean_error", "clean_top1")


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
                     alexnet_normalised: bool = True) -> List[Result]:
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
      release reports this "overall-avg"); same n.
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
  if alexnet_normalised and all(c in complete for c in mean_over):

    results.append(statistic_result(benchmark, "mce", lambda i: metrics.mce(test_errors(i)),
                                    clean_names, n))
    results.append(statistic_result(
        benchmark, "relative_mce",
        lambda i: metrics.relative_mce(test_errors(i), float(clean_wrong[i].mean())),
        clean_names, n))
  results.append(proportion_result(benchmark, "clean_error", clean_wrong, clean_names))
  results.append(proportion_result(benchmark, "clean_top1", ~clean_wrong, clean_names))
  return results


def _mean_error(by_severity: Mapping[int, np.ndarray]) -> Callable[[np.ndarray], float]:
  """Mean over the severities of the top-1 error on the images at the indices."""
  return lambda i: float(np.mean([by_severity[s][i].mean() for s in SEVERITIES]))


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
  averaged), ``normaliser`` ("alexnet" or None)."""
  options = context.row.options
  normaliser = options.get("normaliser", "alexnet")
  if normaliser not in ("alexnet", None):
    raise ValueError(f"{context.row.id}: unknown normaliser {normaliser!r}")
  return {"names": tuple(options.get("corruptions", NAMES)),
          "mean_over": tuple(options.get("mean_over", TEST_NAMES)),
          "alexnet_normalised": normaliser == "alexnet"}


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
