"""Scorers of the classification benchmarks: val, ReaL, multi-label, V2, Sketch, A, R, O."""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Sequence

import numpy as np

from tfds_bench import errors, labels, metrics, multilabel, real_scores
from tfds_bench.benchmark_types import Result, ScoringContext
from tfds_bench.predictions import Predictions

REAL_CURVE_METRIC = "top1_at_threshold"


def require_labels(benchmark: str, predictions: Predictions) -> np.ndarray:
  """The predictions' labels; raises naming an image when one has none."""
  missing = predictions.label < 0
  if missing.any():
    raise errors.UserError(
        f"{benchmark}: {missing.sum()} of {len(predictions)} images have no label, "
        f"e.g. {predictions.file_name[missing][0]!r}")
  return predictions.label


def accuracy_results(benchmark: str, top5: np.ndarray, label: np.ndarray,
                     prefix: str = "") -> List[Result]:
  return [Result(benchmark, f"{prefix}top{k}",
                 float(metrics.topk_correct(top5, label, k).mean()), len(label))
          for k in (1, 5)]


def calibration_results(benchmark: str, predictions: Predictions,
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


def real_results(benchmark: str, top5: np.ndarray, label_sets: np.ndarray,
                 prefix: str = "") -> List[Result]:
  results = []
  for k in (1, 5):
    correct, valid = metrics.real_correct(top5, label_sets, k)
    results.append(Result(benchmark, f"{prefix}top{k}", float(correct[valid].mean()),
                          int(valid.sum())))
  return results


def score_classification(benchmark: str) -> Callable:
  """top-1 / top-5 accuracy and calibration against the dataset's labels."""
  def score(predictions: Sequence[Predictions], context=None) -> List[Result]:
    del context
    (p,) = predictions
    label = require_labels(benchmark, p)
    return accuracy_results(benchmark, p.top5, label) + calibration_results(benchmark, p, label)
  return score


def score_sample(predictions: Sequence[Predictions], context=None) -> List[Result]:
  """The sample suite: original labels, its ReaL-style lists, calibration."""
  del context
  (p,) = predictions
  label = require_labels("sample", p)
  return (accuracy_results("sample", p.top5, label)
          + real_results("sample", p.top5, p.extras["real_label"], prefix="real_")
          + calibration_results("sample", p, label))


def real_label_sets(file_names: np.ndarray) -> np.ndarray:
  """ReaL label sets of val file names from the shipped real.json, -1 padded."""
  try:
    lists = labels.real_labels_for(file_names)
  except ValueError as e:
    raise errors.UserError(f"imagenet2012_real: {e}") from None
  return labels.pad_label_lists(lists)


def score_real(predictions: Sequence[Predictions],
               context: ScoringContext = None) -> List[Result]:
  """ReaL accuracy (Beyer et al. 2020): images with an empty list are skipped.

  Also the threshold-free expected accuracy under the Dawid-Skene scores
  (``soft_top1``: mean over the rated images of the predicted class's score),
  ReaL top-1 along the score threshold (``top1_at_threshold/<t>``; real.json
  is the 0.8 point) and, when asked for, at one more operating point.
  """
  (p,) = predictions
  name = "imagenet2012_real"
  results = real_results(name, p.top5, real_label_sets(p.file_name))
  score, rated = real_scores.soft_correct(p.top5[:, :1], p.file_name)
  if rated.any():
    results.append(Result(name, "soft_top1", float(score[rated].mean()), int(rated.sum())))
  curve = real_scores.accuracy_curve(p.top5[:, :1], p.file_name)
  for threshold, accuracy, n in zip(curve["thresholds"], curve["accuracy"], curve["n"]):
    if n:
      results.append(Result(name, f"{REAL_CURVE_METRIC}/{threshold:.2f}", float(accuracy), int(n)))
  threshold = getattr(context, "real_threshold", None)
  if threshold is not None:
    correct, valid = real_scores.real_correct_at(p.top5, p.file_name, threshold, k=1)
    results.append(Result(name, f"top1_threshold_{threshold:g}",
                          float(correct[valid].mean()) if valid.any() else float("nan"),
                          int(valid.sum())))
  return results


def score_subset(benchmark: str, subset: str) -> Callable:
  """ImageNet-A / -R: argmax over the subset's 200 logits (Hendrycks et al.),
  plus the 1000-way top-1 and calibration of the 200-way confidence."""
  def score(predictions: Sequence[Predictions], context=None) -> List[Result]:
    del context
    (p,) = predictions
    label = require_labels(benchmark, p)
    subset_top5 = p.subset_top5[subset]
    n = len(label)
    results = accuracy_results(benchmark, subset_top5, label)
    results.append(Result(benchmark, "top1_1000way",
                          float(metrics.topk_correct(p.top5, label, 1).mean()), n))
    subset_view = dataclasses.replace(p, top5=subset_top5,
                                      confidence=p.subset_confidence[subset])
    return results + calibration_results(benchmark, subset_view, label)
  return score


def score_imagenet_o(predictions: Sequence[Predictions], context=None) -> List[Result]:
  """ImageNet-O (Hendrycks et al. 2021): O images are the positives, ImageNet
  val images of the same 200 classes the negatives; score = -max softmax over
  the 200 classes' logits; AUPR is average precision."""
  del context
  ood, val = predictions
  in_classes = np.isin(val.label, labels.subset("imagenet_o")[1])
  if not in_classes.any():
    raise errors.UserError("imagenet_o: no ImageNet val images of the 200 ImageNet-O classes")
  confidence = np.concatenate([ood.subset_confidence["imagenet_o"],
                               val.subset_confidence["imagenet_o"][in_classes]])
  is_ood = np.concatenate([np.ones(len(ood), bool), np.zeros(int(in_classes.sum()), bool)])
  scores = -confidence
  n = len(scores)
  return [Result("imagenet_o", "aupr", float(metrics.aupr(scores, is_ood)), n),
          Result("imagenet_o", "auroc", float(metrics.auroc(scores, is_ood)), n)]


def score_multilabel(predictions: Sequence[Predictions],
                     context: ScoringContext) -> List[Result]:
  """Multi-label accuracy (Shankar et al. 2020) on the 20,000 annotated val
  images: problematic images skipped, right if in correct or unclear labels,
  accuracy per original class then averaged over classes (``top1``); also the
  plain per-image mean and the correct-labels-only variant."""
  (p,) = predictions
  annotations = multilabel.load(multilabel.annotation_path(context.manual_dir))
  rows = annotations.rows_of(p.file_name)
  found = rows >= 0
  if not found.any():
    raise errors.UserError("imagenet2012_multilabel: none of the evaluated images is in "
                           "the multi-label annotation file")
  rows = rows[found]
  label = require_labels("imagenet2012_multilabel", p)[found]
  accuracy = metrics.multilabel_accuracy(
      p.top5[found, 0], annotations.correct[rows], annotations.unclear[rows], label,
      annotations.is_problematic[rows])
  n = int(accuracy["n"])
  return [Result("imagenet2012_multilabel", "top1", float(accuracy["class_mean"]), n),
          Result("imagenet2012_multilabel", "top1_image_mean", float(accuracy["image_mean"]), n),
          Result("imagenet2012_multilabel", "top1_correct_only",
                 float(accuracy["correct_only_class_mean"]), n)]
