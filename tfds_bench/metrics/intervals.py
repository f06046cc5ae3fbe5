"""95 % intervals of the figures, and paired tests between two models.

* A proportion (top-1, top-5, an error rate) is ``k`` successes out of ``n``
  images: its interval is the exact binomial Clopper-Pearson interval (as the
  ImageNetV2 paper reports), from the integer counts.
* Any other figure (mCE, ECE, AUROC, mFP, ...) is a function of the images:
  its interval is a seeded percentile bootstrap over images (`RESAMPLES`
  resamples, the same every run).
* Two models on the same images: exact McNemar for proportions (the
  discordant images only), a paired bootstrap (the same resampled images for
  both) for the rest.

A statistic for the bootstrap is ``statistic(indices) -> float``: the figure
recomputed on the images at ``indices`` (drawn with replacement from
``0..n-1``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Tuple

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 0
CLOPPER_PEARSON = "clopper_pearson"
BOOTSTRAP = f"bootstrap_percentile_{RESAMPLES}"

Statistic = Callable[[np.ndarray], float]


def clopper_pearson(successes: int, n: int, confidence: float = CONFIDENCE
                    ) -> Tuple[float, float]:
  """Exact binomial (Clopper-Pearson) interval of ``successes / n``.

  The bounds are quantiles of beta distributions; 0 successes give a lower
  bound of 0 and n successes an upper bound of 1.
  """
  successes, n = int(successes), int(n)
  if n <= 0 or not 0 <= successes <= n:
    raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}")
  alpha = 1.0 - confidence
  low = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2, successes, n - successes + 1))
  high = 1.0 if successes == n else float(
      stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
  return low, high


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED):
  """Yields ``resamples`` index arrays of length ``n``, drawn with replacement.

  The same seed yields the same arrays, so every interval and paired test is
  reproducible to the last digit.
  """
  rng = np.random.default_rng(seed)
  for _ in range(resamples):
    yield rng.integers(0, n, n)


def _percentile_interval(values: np.ndarray, confidence: float) -> Tuple[float, float]:
  alpha = 1.0 - confidence
  low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
  return float(low), float(high)


def bootstrap_interval(statistic: Statistic, n: int, confidence: float = CONFIDENCE,
                       resamples: int = RESAMPLES, seed: int = SEED) -> Tuple[float, float]:
  """Percentile bootstrap interval of ``statistic`` over ``n`` images (seeded).

  Resamples where the statistic is undefined (NaN, e.g. an AUROC with no
  positives drawn) are left out of the quantiles.
  """
  if n <= 0:
    raise ValueError(f"need at least one image, got n={n}")
  values = np.array([statistic(i) for i in resample_indices(n, resamples, seed)])
  values = values[np.isfinite(values)]
  if not len(values):
    return float("nan"), float("nan")
  return _percentile_interval(values, confidence)


@dataclasses.dataclass(frozen=True)
class PairedTest:
  """A paired comparison of two models on the same images.

  Attributes:
    difference: figure of B minus figure of A.
    ci_low, ci_high: 95 % interval of the difference (bootstrap), or NaN for
      McNemar, whose test needs none.
    p_value: two-sided.
    method: "mcnemar_exact" or `BOOTSTRAP` ("paired").
    a_only, b_only: McNemar's discordant counts (images only A / only B got
      right); None for the bootstrap.
  """
  difference: float
  ci_low: float
  ci_high: float
  p_value: float
  method: str
  a_only: int = None
  b_only: int = None


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> PairedTest:
  """Exact McNemar test: under "no difference" each discordant image is a fair coin.

  ``correct_a`` / ``correct_b``: bool per image, the same images in the same
  order. p = two-sided binomial test of ``a_only`` among ``a_only + b_only``
  at 1/2 (1 when no image is discordant).
  """
  correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
  if correct_a.shape != correct_b.shape:
    raise ValueError(f"paired arrays differ in shape: {correct_a.shape} vs {correct_b.shape}")
  a_only = int(np.sum(correct_a & ~correct_b))
  b_only = int(np.sum(correct_b & ~correct_a))
  discordant = a_only + b_only
  p = 1.0 if discordant == 0 else min(
      1.0, 2.0 * float(stats.binom.cdf(min(a_only, b_only), discordant, 0.5)))
  difference = (b_only - a_only) / len(correct_a)
  return PairedTest(difference, float("nan"), float("nan"), p, "mcnemar_exact", a_only, b_only)


def paired_bootstrap(statistic_a: Statistic, statistic_b: Statistic, n: int,
                     confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                     seed: int = SEED) -> PairedTest:
  """Bootstrap of B minus A, both recomputed on the same resampled images.

  The two-sided p-value is twice the share of resampled differences on the
  other side of 0 from the observed one (capped at 1), with one added to
  numerator and denominator so it is never 0 from a finite number of
  resamples.
  """
  everything = np.arange(n)
  difference = float(statistic_b(everything) - statistic_a(everything))
  values = np.array([statistic_b(i) - statistic_a(i)
                     for i in resample_indices(n, resamples, seed)])
  values = values[np.isfinite(values)]
  low, high = _percentile_interval(values, confidence)
  other_side = np.sum(values <= 0) if difference > 0 else np.sum(values >= 0)
  p = min(1.0, 2.0 * (other_side + 1) / (len(values) + 1))
  return PairedTest(difference, low, high, float(p), BOOTSTRAP)
