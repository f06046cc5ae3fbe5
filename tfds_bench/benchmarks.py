"""The benchmark table: the single source of truth for what the suite measures.

A benchmark reads the images of one or more *sources* (a TFDS builder split,
or the user's image folder) and scores the model's predictions on them. Two
benchmarks with the same source share one forward pass: ImageNet val top-1,
ReaL and calibration all come from a single pass over the val images.

A new test set is one builder folder under ``builders/`` plus one row here.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfds_bench import errors, labels, metrics
from tfds_bench.predictions import Predictions


@dataclasses.dataclass(frozen=True)
class Result:
  """One figure: ``value`` (a fraction) of ``metric`` over ``n`` examples."""
  benchmark: str
  metric: str
  value: float
  n: int


@dataclasses.dataclass(frozen=True)
class Source:
  """Images a benchmark needs the model to see.

  Attributes:
    key: unique id; benchmarks with the same key share one forward pass.
    builder: TFDS builder name (with config), or None for ``--image_folder``.
    split: split to read.
    label_lists: variable-length label features to carry, name -> padding width.
    manual_files: what the user must put in ``--manual_dir`` (for messages).
  """
  key: str
  builder: Optional[str]
  split: str = "test"
  label_lists: Mapping[str, int] = dataclasses.field(default_factory=dict)
  manual_files: str = ""


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """A row of the table.

  Attributes:
    id: the name users select with ``--benchmarks``.
    title: one line for ``--list``.
    sources: what to run the model on; ``score`` gets one Predictions each.
    metrics: names of the figures ``score`` reports.
    score: predictions (one per source) -> results.
    needs_scores: True if the metrics need full scores (logits/probs), not
      just top-5 indices.
  """
  id: str
  title: str
  sources: Tuple[Source, ...]
  metrics: Tuple[str, ...]
  score: Callable[[Sequence[Predictions]], List[Result]]
  needs_scores: bool = False


# --- scorers ----------------------------------------------------------------

def _require_labels(benchmark: str, predictions: Predictions) -> np.ndarray:
  missing = predictions.label < 0
  if missing.any():
    raise errors.UserError(
        f"{benchmark}: {missing.sum()} of {len(predictions)} images have no label, "
        f"e.g. {predictions.file_name[missing][0]!r}")
  return predictions.label


def _accuracy_results(benchmark: str, top5: np.ndarray, label: np.ndarray,
                      prefix: str = "") -> List[Result]:
  return [Result(benchmark, f"{prefix}top{k}",
                 float(metrics.topk_correct(top5, label, k).mean()), len(label))
          for k in (1, 5)]


def _calibration_results(benchmark: str, predictions: Predictions,
                         label: np.ndarray) -> List[Result]:
  if not predictions.has_scores:
    return []  # a top-5-only predictions file carries no confidences.
  correct = metrics.topk_correct(predictions.top5, label, 1)
  n = len(label)
  results = [Result(benchmark, "ece", float(
      metrics.expected_calibration_error(predictions.confidence, correct)), n)]
  # The RMS error's adaptive bins hold 100 examples each (Hendrycks et al.);
  # below one full bin it is undefined, so it is left out, not faked.
  if n >= metrics.calibration.DEFAULT_ADAPTIVE_BIN_SIZE:
    results.append(Result(benchmark, "rms_calibration_error", float(
        metrics.rms_calibration_error(predictions.confidence, correct)), n))
  return results


def _real_results(benchmark: str, top5: np.ndarray, label_sets: np.ndarray,
                  prefix: str = "") -> List[Result]:
  results = []
  for k in (1, 5):
    correct, valid = metrics.real_correct(top5, label_sets, k)
    results.append(Result(benchmark, f"{prefix}top{k}", float(correct[valid].mean()),
                          int(valid.sum())))
  return results


def score_classification(benchmark: str) -> Callable:
  """top-1 / top-5 accuracy and calibration against the dataset's labels."""
  def score(predictions: Sequence[Predictions]) -> List[Result]:
    (p,) = predictions
    label = _require_labels(benchmark, p)
    return _accuracy_results(benchmark, p.top5, label) + _calibration_results(benchmark, p, label)
  return score


def score_sample(predictions: Sequence[Predictions]) -> List[Result]:
  """The sample suite: original labels, its ReaL-style lists, calibration."""
  (p,) = predictions
  label = _require_labels("sample", p)
  return (_accuracy_results("sample", p.top5, label)
          + _real_results("sample", p.top5, p.extras["real_label"], prefix="real_")
          + _calibration_results("sample", p, label))


def real_label_sets(file_names: np.ndarray) -> np.ndarray:
  """ReaL label sets of val file names from the shipped real.json, -1 padded."""
  try:
    lists = labels.real_labels_for(file_names)
  except ValueError as e:
    raise errors.UserError(f"imagenet2012_real: {e}") from None
  return labels.pad_label_lists(lists)


def score_real(predictions: Sequence[Predictions]) -> List[Result]:
  """ReaL accuracy (Beyer et al. 2020): images with an empty list are skipped."""
  (p,) = predictions
  return _real_results("imagenet2012_real", p.top5, real_label_sets(p.file_name))


# --- the table ----------------------------------------------------------------

SAMPLE = Source("sample", "bench_sample", "test", label_lists={"real_label": 8})
IMAGE_FOLDER = Source("image_folder", None, "test")
IMAGENET_VAL = Source(
    "imagenet2012:validation", "imagenet2012", "validation",
    manual_files="ILSVRC2012_img_val.tar (and ILSVRC2012_img_train.tar, which TFDS's "
                 "imagenet2012 builder also requires)")

_ACCURACY_AND_CALIBRATION = ("top1", "top5", "ece", "rms_calibration_error")

BENCHMARKS: Tuple[Benchmark, ...] = (
    Benchmark("sample", "Sample suite: real photos shipped with our dependencies (offline)",
              (SAMPLE,), ("top1", "top5", "real_top1", "real_top5", "ece",
                          "rms_calibration_error"), score_sample),
    Benchmark("image_folder", "Any folder in ImageNet layout (--image_folder=DIR)",
              (IMAGE_FOLDER,), _ACCURACY_AND_CALIBRATION, score_classification("image_folder")),
    Benchmark("imagenet2012", "ImageNet-1k validation set, original labels",
              (IMAGENET_VAL,), _ACCURACY_AND_CALIBRATION, score_classification("imagenet2012")),
    Benchmark("imagenet2012_real", "ImageNet val with ReaL labels (46,837 images with a label)",
              (IMAGENET_VAL,), ("top1", "top5"), score_real),
)

DEFAULT_OFFLINE = ("sample",)


def by_id() -> Dict[str, Benchmark]:
  return {b.id: b for b in BENCHMARKS}


def get(benchmark_id: str) -> Benchmark:
  table = by_id()
  if benchmark_id not in table:
    raise errors.UserError(
        f"unknown benchmark {benchmark_id!r}; known: {', '.join(table)} (see --list)")
  return table[benchmark_id]


def _check_table() -> None:
  ids = [b.id for b in BENCHMARKS]
  duplicates = sorted({i for i in ids if ids.count(i) > 1})
  if duplicates:
    raise RuntimeError(f"duplicate benchmark ids in the table: {duplicates}")


_check_table()
