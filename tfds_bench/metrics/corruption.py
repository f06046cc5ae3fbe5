"""ImageNet-C: corruption errors, mCE and relative mCE.

Definitions (Hendrycks & Dietterich 2019, "Benchmarking Neural Network
Robustness to Common Corruptions and Perturbations", Sec. 4; evaluation code
hendrycks/robustness ``ImageNet-C/test.py``, which takes the top-1 error per
severity 1..5 and averages over severities):

  CE_c = (sum_s E_{s,c}) / (sum_s E^AlexNet_{s,c})
       = mean_s E_{s,c} / mean_s E^AlexNet_{s,c}   (both over the 5 severities)
  mCE = mean of CE_c over the 15 test corruptions (the 4 held-out ones,
        speckle_noise, gaussian_blur, spatter, saturate, are not in it)
  relative CE_c = (sum_s E_{s,c} - 5 E_clean) / (sum_s E^AlexNet_{s,c} - 5 E^AlexNet_clean)
                = (mean_s E_{s,c} - E_clean) / (mean_s E^AlexNet_{s,c} - E^AlexNet_clean)
  relative mCE = mean of relative CE_c over the 15.

AlexNet's mean-over-severities errors ship in ``data/imagenet_c_alexnet.json``
(google-research/augmix ``imagenet.py`` ALEXNET_ERR, from hendrycks/robustness);
its clean error is 0.4348. The same definitions serve another set of
corruptions (``names``, e.g. ImageNet-C-bar's 10) with a baseline's errors on
those corruptions given explicitly: the shipped AlexNet numbers cover
ImageNet-C's 15 only.
"""

from __future__ import annotations

import json
from typing import Dict, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from tfds_bench.labels import data_path

# The 15 test corruptions in the paper's order, then the 4 held-out ones: one
# list for the engine and the metrics (importing it does not load TensorFlow).
from tfds_bench.corruptions import HELDOUT_NAMES as HELDOUT_CORRUPTIONS
from tfds_bench.corruptions import SEVERITIES
from tfds_bench.corruptions import TEST_NAMES as TEST_CORRUPTIONS

ErrorsBySeverity = Union[Sequence[float], Mapping[int, float], np.ndarray]


class BaselineErrors(NamedTuple):
  """A baseline model's corruption errors (fractions) that mCE is normalised
  by: AlexNet's ImageNet-C errors (`alexnet_imagenet_c`), or a baseline the
  user gives for another set (`scoring.imagenet_c.load_baseline`)."""
  errors: Dict[str, float]  # mean over the 5 severities, per corruption averaged
  clean_error: Optional[float]  # None: no relative mCE (AlexNet's is always given)


# AlexNet's ImageNet-C errors are one baseline; the earlier public name stays.
AlexNetImageNetC = BaselineErrors


def alexnet_imagenet_c() -> BaselineErrors:
  """Reads ``tfds_bench/data/imagenet_c_alexnet.json``."""
  with data_path("imagenet_c_alexnet.json").open("r") as f:
    payload = json.load(f)
  errors = {k: float(v) for k, v in payload["alexnet_error"].items()}
  missing = [c for c in TEST_CORRUPTIONS if c not in errors]
  if missing:
    raise RuntimeError(f"imagenet_c_alexnet.json lacks AlexNet errors for {missing}")
  return BaselineErrors(errors, float(payload["alexnet_clean_error"]))


def corruption_errors(top1_by_corruption: Mapping[str, ErrorsBySeverity],
                      labels: np.ndarray) -> Dict[str, list]:
  """Top-1 error per corruption and severity.

  Args:
    top1_by_corruption: ``{corruption: predictions}`` where predictions is
      int ``[5, N]`` (row s-1 = severity s), a list of 5 ``[N]`` arrays, or a
      mapping ``{severity: [N]}`` for severities 1..5.
    labels: int ``[N]`` true class of each (clean) image.

  Returns:
    ``{corruption: [E_1, ..., E_5]}`` error fractions.
  """
  labels = np.asarray(labels).reshape(-1)
  result = {}
  for name, per_severity in top1_by_corruption.items():
    rows = _by_severity(name, per_severity)
    errors = []
    for severity, top1 in zip(SEVERITIES, rows):
      top1 = np.asarray(top1).reshape(-1)
      if top1.shape != labels.shape:
        raise ValueError(
            f"{name} severity {severity}: {top1.size} predictions for {labels.size} labels")
      errors.append(float(np.mean(top1 != labels)))
    result[name] = errors
  return result


def _by_severity(name: str, values: ErrorsBySeverity) -> list:
  if isinstance(values, Mapping):
    missing = [s for s in SEVERITIES if s not in values]
    if missing:
      raise ValueError(f"{name}: missing severities {missing} (need 1..5)")
    extra = sorted(set(values) - set(SEVERITIES))
    if extra:
      raise ValueError(f"{name}: unknown severities {extra} (need 1..5)")
    return [values[s] for s in SEVERITIES]
  values = list(values)
  if len(values) != len(SEVERITIES):
    raise ValueError(f"{name}: {len(values)} severities given, need exactly 5 (1..5)")
  return values


def _mean_errors(errors_by_corruption: Mapping[str, ErrorsBySeverity],
                 names: Sequence[str] = TEST_CORRUPTIONS) -> Dict[str, float]:
  missing = [c for c in names if c not in errors_by_corruption]
  if missing:
    raise ValueError(f"mCE needs all {len(names)} corruptions averaged; missing {missing}")
  means = {}
  for name in names:
    values = np.asarray(_by_severity(name, errors_by_corruption[name]), dtype=np.float64)
    if not np.all(np.isfinite(values)):
      raise ValueError(f"{name}: non-finite error {values}")
    means[name] = float(np.mean(values))
  return means


def _alexnet_means(alexnet_errors: Mapping[str, Union[float, ErrorsBySeverity]] | None,
                   names: Sequence[str] = TEST_CORRUPTIONS) -> Dict[str, float]:
  if alexnet_errors is None:
    shipped = alexnet_imagenet_c().errors
    missing = [c for c in names if c not in shipped]
    if missing:
      raise ValueError(f"the shipped AlexNet errors are ImageNet-C's; give baseline errors "
                       f"for {missing}")
    return shipped
  means = {}
  for name in names:
    if name not in alexnet_errors:
      raise ValueError(f"baseline error missing for {name}")
    value = alexnet_errors[name]
    means[name] = (float(value) if np.ndim(value) == 0 and not isinstance(value, Mapping)
                   else float(np.mean(_by_severity(name, value))))
  return means


def corruption_error_ratios(errors_by_corruption: Mapping[str, ErrorsBySeverity],
                            alexnet_errors: Mapping | None = None,
                            names: Sequence[str] = TEST_CORRUPTIONS) -> Dict[str, float]:
  """CE_c per corruption of ``names`` (baseline-normalised; see module doc)."""
  means = _mean_errors(errors_by_corruption, names)
  alexnet = _alexnet_means(alexnet_errors, names)
  return {c: means[c] / alexnet[c] for c in names}


def mce(errors_by_corruption: Mapping[str, ErrorsBySeverity],
        alexnet_errors: Mapping | None = None,
        names: Sequence[str] = TEST_CORRUPTIONS) -> float:
  """Mean corruption error over ``names`` (default: ImageNet-C's 15 test corruptions).

  Args:
    errors_by_corruption: ``{corruption: [E_1..E_5]}`` top-1 error fractions
      (extra corruptions, e.g. the held-out ones, are ignored).
    alexnet_errors: ``{corruption: mean error}`` or ``{corruption: [E_1..E_5]}``
      of the baseline (AlexNet); default: the shipped `alexnet_imagenet_c`
      values, which cover ImageNet-C's corruptions only.
    names: the corruptions averaged.

  Returns:
    mCE as a fraction (multiply by 100 for the paper's percentages).
  """
  ratios = corruption_error_ratios(errors_by_corruption, alexnet_errors, names)
  return float(np.mean([ratios[c] for c in names]))


def relative_mce(errors_by_corruption: Mapping[str, ErrorsBySeverity], clean_error: float,
                 alexnet_errors: Mapping | None = None,
                 alexnet_clean_error: float | None = None,
                 names: Sequence[str] = TEST_CORRUPTIONS) -> float:
  """Relative mCE: mean over ``names`` of (E_c - E_clean) / (E_c^AlexNet - E_clean^AlexNet).

  E_c is the mean over severities. The baseline defaults to AlexNet's shipped
  values, `alexnet_imagenet_c` (both or neither should be given).
  """
  means = _mean_errors(errors_by_corruption, names)
  alexnet = _alexnet_means(alexnet_errors, names)
  if alexnet_clean_error is None:
    alexnet_clean_error = alexnet_imagenet_c().clean_error
  ratios = [(means[c] - clean_error) / (alexnet[c] - alexnet_clean_error) for c in names]
  return float(np.mean(ratios))
