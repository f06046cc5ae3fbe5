"""Scorers of the classification benchmarks: val, ReaL, multi-label, V2, Sketch, A, R, O."""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Sequence

import numpy as np

from tfds_bench import errors, labels, metrics, multilabel, real_scores
from tfds_bench.benchmark_types import (Result, ScoringContext, proportion_result,
                                        statistic_result)
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
                     images: np.ndarray, prefix: str = "") -> List[Result]:
  return [proportion_result(benchmark, f"{prefix}top{k}", metrics.topk_correct(top5, label, k),
                            images)
          for k in (1, 5)]


def calibration_results(benchmark: str, predictions: Predictions,
                        label: np.ndarray) -> List[Result]:
  if not predictions.has_scores:
    return []  # a top-5-only predictions file carries no confidences.
  correct = metrics.topk_correct(predictions.top5, label, 1)
  confidence = predictions.confidence
  results = [statistic_result(
      benchmark, "ece",
      lambda i: metrics.expected_calibration_error(confidence[i], correct[i]),
      predictions.file_name)]
  # The RMS error's adaptive bins hold 100 examples each (Hendrycks et al.);
  # below one full bin it is undefined, so it is left out, not faked.
  if len(label) >= metrics.calibration.DEFAULT_ADAPTIVE_BIN_SIZE:
    results.append(statistic_result(
        benchmark, "rms_calibration_error",
        lambda i: metrics.rms_calibration_error(confidence[i], correct[i]),
        predictions.file_name))
  return results


def real_results(benchmark: str, top5: np.ndarray, label_sets: np.ndarray,
                 images: np.ndarray, prefix: str = "") -> List[Result]:
  results = []
  for k in (1, 5):
    correct, valid = metrics.real_correct(top5, label_sets, k)
    results.append(proportion_result(benchmark, f"{prefix}top{k}", correct[valid],
                                     images[valid]))
  return results


def score_classification(benchmark: str) -> Callable:
  """top-1 / top-5 accuracy and calibration against the dataset's labels."""
  def score(predictions: Sequence[Predictions], context=None) -> List[Result]:
    del context
    (p,) = predictions
    label = require_labels(benchmark, p)
    return (accuracy_results(benchmark, p.top5, label, p.file_name)
            + calibration_results(benchmark, p, label))
  return score


# ImageNet val top-1 over the 200 classes of ImageNet-A / -R, argmax over
# those classes' logits: the x axis timm compares A and R with (its
# *-clean results; tfds_bench.published).
CLEAN_SUBSET_METRICS = {"imagenet_a": "top1_a_clean", "imagenet_r": "top1_r_clean"}


def score_imagenet_val(predictions: Sequence[Predictions], context=None) -> List[Result]:
  """ImageNet val: top-1 / top-5, calibration and, when the predictions have
  the subsets' scores, the 200-class clean top-1 of ImageNet-A and -R's classes."""
  (p,) = predictions
  results = score_classification("imagenet2012")(predictions, context)
  label = p.label
  for subset, metric in CLEAN_SUBSET_METRICS.items():
    if subset not in p.subset_top5:
      continue  # a top-5-only predictions file has no subset scores.
    rows = np.isin(label, labels.subset(subset)[1])
    if rows.any():
      results.append(proportion_result("imagenet2012", metric,
                                       p.subset_top5[subset][rows, 0] == label[rows],
                                       p.file_name[rows]))
  return results


def score_sample(predictions: Sequence[Predictions], context=None) -> List[Result]:
  """The sample suite: original labels, its ReaL-style lists, calibration."""
  del context
  (p,) = predictions
  label = require_labels("sample", p)
  return (accuracy_results("sample", p.top5, label, p.file_name)
          + real_results("sample", p.top5, p.extras["real_label"], p.file_name, prefix="real_")
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
  results = real_results(name, p.top5, real_label_sets(p.file_name), p.file_name)
  score, rated = real_scores.soft_correct(p.top5[:, :1], p.file_name)
  if rated.any():
    rated_score = score[rated]
    results.append(statistic_result(name, "soft_top1", lambda i: rated_score[i].mean(),
                                    p.file_name[rated]))
  curve = real_scores.accuracy_curve(p.top5[:, :1], p.file_name)
  for threshold, accuracy, n in zip(curve["thresholds"], curve["accuracy"], curve["n"]):
    if n:
      results.append(Result(name, f"{REAL_CURVE_METRIC}/{threshold:.2f}", float(accuracy), int(n)))
  threshold = getattr(context, "real_threshold", None)
  if threshold is not None:
    correct, valid = real_scores.real_correct_at(p.top5, p.file_name, threshold, k=1)
    metric = f"top1_threshold_{threshold:g}"
    results.append(proportion_result(name, metric, correct[valid], p.file_name[valid])
                   if valid.any() else Result(name, metric, float("nan"), 0))
  return results


def score_subset(benchmark: str, subset: str) -> Callable:
  """ImageNet-A / -R: argmax over the subset's 200 logits (Hendrycks et al.),
  plus the 1000-way top-1 and calibration of the 200-way confidence."""
  def score(predictions: Sequence[Predictions], context=None) -> List[Result]:
    del context
    (p,) = predictions
    label = require_labels(benchmark, p)
    subset_top5 = p.subset_top5[subset]
    results = accuracy_results(benchmark, subset_top5, label, p.file_name)
    results.append(proportion_result(benchmark, "top1_1000way",
                                     metrics.topk_correct(p.top5, label, 1), p.file_name))
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
  images = np.concatenate([ood.file_name, val.file_name[in_classes]])
  return [statistic_result("imagenet_o", name, _ood_statistic(metric, scores, is_ood), images)
          for name, metric in (("aupr", metrics.aupr), ("auroc", metrics.auroc))]


def _ood_statistic(metric: Callable, scores: np.ndarray, is_ood: np.ndarray) -> Callable:
  def statistic(i: np.ndarray) -> float:
    # A resample with only one kind of image has no AUPR / AUROC: NaN, which
    # the bootstrap leaves out.
    if is_ood[i].all() or not is_ood[i].any():
      return float("nan")
    return float(metric(scores[i], is_ood[i]))
  return statistic


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
  arguments = (p.top5[found, 0], annotations.correct[rows], annotations.unclear[rows], label,
               annotations.is_problematic[rows])

  def statistic(key: str) -> Callable:
    return lambda i: metrics.multilabel_accuracy(*(a[i] for a in arguments))[key]

  # n counts the images scored (problematic ones skipped); the bootstrap
  # resamples all the annotated images, as the skipping is part of the figure.
  return [statistic_result("imagenet2012_multilabel", metric, statistic(key),
                           p.file_name[found], n)
          for metric, key in (("top1", "class_mean"), ("top1_image_mean", "image_mean"),
                              ("top1_correct_only", "correct_only_class_mean"))]
