"""Scorers of the classification benchmarks: val, ReaL, multi-label, V2, Sketch,
the label-space sets (A, R, ObjectNet) and O.

Each scorer takes everything row-specific (its id, label space, options)
from the row in its `ScoringContext`, so a new test set reuses one by naming
it in its table row.""" 

from __future__ import annotations

import dataclasses
from typing import Callable, List, Sequence

import numpy as np

from tfds_bench import errors, label_spaces, metrics, multilabel, real_scores
from tfds_bench import labels
from tfds_bench.benchmark_types import (Result, ScoringContext, proportion_result, reads,
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


def score_classification(predictions: Sequence[Predictions],
                         context: ScoringContext) -> List[Result]:
  """top-1 / top-5 accuracy and calibration against the dataset's labels."""
  (p,) = predictions
  benchmark = context.row.id
  label = require_labels(benchmark, p)
  return (accuracy_results(benchmark, p.top5, label, p.file_name)
          + calibration_results(benchmark, p, label))


def score_imagenet_val(predictions: Sequence[Predictions],
                       context: ScoringContext) -> List[Result]:
  """ImageNet val: top-1 / top-5, calibration and, when the predictions have
  the label spaces' scores, the clean top-1 over each space's classes of the
  row's ``options["clean_metrics"]`` (space -> metric name): val images of
  those classes, argmax over those classes' logits, the x axis timm compares
  ImageNet-A and -R with (its *-clean results; tfds_bench.published)."""
  (p,) = predictions
  results = score_classification(predictions, context)
  for space_name, metric in context.row.options.get("clean_metrics", {}).items():
    if space_name not in p.space_top5:
      continue  # a top-5-only predictions file has no label-space scores.
    in_space = label_spaces.get(space_name).to_space(p.label)
    rows = in_space >= 0
    if rows.any():
      results.append(proportion_result(context.row.id, metric,
                                       p.space_top5[space_name][rows, 0] == in_space[rows],
                                       p.file_name[rows]))
  return results


def score_sample(predictions: Sequence[Predictions], context: ScoringContext) -> List[Result]:
  """The sample suite: original labels, its ReaL-style lists, calibration."""
  (p,) = predictions
  benchmark = context.row.id
  label = require_labels(benchmark, p)
  return (accuracy_results(benchmark, p.top5, label, p.file_name)
          + real_results(benchmark, p.top5, p.extras["real_label"], p.file_name, prefix="real_")
          + calibration_results(benchmark, p, label))


def real_label_sets(file_names: np.ndarray, benchmark: str) -> np.ndarray:
  """ReaL label sets of val file names from the shipped real.json, -1 padded."""
  try:
    lists = labels.real_labels_for(file_names)
  except ValueError as e:
    raise errors.UserError(f"{benchmark}: {e}") from None
  return labels.pad_label_lists(lists)


@reads("real_threshold")
def score_real(predictions: Sequence[Predictions], context: ScoringContext) -> List[Result]:
  """ReaL accuracy (Beyer et al. 2020): images with an empty list are skipped.

  Also the threshold-free expected accuracy under the Dawid-Skene scores
  (``soft_top1``: mean over the rated images of the predicted class's score),
  ReaL top-1 along the score threshold (``top1_at_threshold/<t>``; real.json
  is the 0.8 point) and, when asked for, at one more operating point.
  """
  (p,) = predictions
  name = context.row.id
  results = real_results(name, p.top5, real_label_sets(p.file_name, name), p.file_name)
  score, rated = real_scores.soft_correct(p.top5[:, :1], p.file_name)
  if rated.any():
    rated_score = score[rated]
    results.append(statistic_result(name, "soft_top1", lambda i: rated_score[i].mean(),
                                    p.file_name[rated]))
  curve = real_scores.accuracy_curve(p.top5[:, :1], p.file_name)
  for threshold, accuracy, n in zip(curve["thresholds"], curve["accuracy"], curve["n"]):
    if n:
      results.append(Result(name, f"{REAL_CURVE_METRIC}/{threshold:.2f}", float(accuracy), int(n)))
  threshold = context.real_threshold
  if threshold is not None:
    correct, valid = real_scores.real_correct_at(p.top5, p.file_name, threshold, k=1)
    metric = f"top1_threshold_{threshold:g}"
    results.append(proportion_result(name, metric, correct[valid], p.file_name[valid])
                   if valid.any() else Result(name, metric, float("nan"), 0))
  return results


def score_label_space(predictions: Sequence[Predictions],
                      context: ScoringContext) -> List[Result]:
  """A set scored in its row's label space by the space's own scores
  (ImageNet-A / -R: argmax over the 200 classes' logits, Hendrycks et al.),
  plus the 1000-way top-1 and calibration of the space's confidence. Labels
  are ImageNet-1k classes of the space."""
  (p,) = predictions
  benchmark = context.row.id
  space = label_spaces.get(context.row.label_space)
  label = require_labels(benchmark, p)
  in_space = space.to_space(label)
  if (in_space < 0).any():
    raise errors.UserError(
        f"{benchmark}: {int((in_space < 0).sum())} images have a label outside the "
        f"{space.num_classes} classes of {space.name}, e.g. "
        f"{p.file_name[in_space < 0][0]!r}")
  space_top5 = p.space_top5[space.name]
  results = accuracy_results(benchmark, space_top5, in_space, p.file_name)
  results.append(proportion_result(benchmark, "top1_1000way",
                                   metrics.topk_correct(p.top5, label, 1), p.file_name))
  space_view = dataclasses.replace(p, top5=space_top5,
                                   confidence=p.space_confidence[space.name])
  return results + calibration_results(benchmark, space_view, in_space)


def score_mapped_top5(predictions: Sequence[Predictions],
                      context: ScoringContext) -> List[Result]:
  """A set whose labels are classes of the row's many-to-one label space
  (ObjectNet): the model's 1000-way top-5 mapped into the space, a guess
  counting when it is any ImageNet class of the true class (Barbu et al.
  2019); images whose label is -1 (classes outside the space) are left out.
  top-k is right when one of the k best 1000-way classes maps to the label."""
  (p,) = predictions
  benchmark = context.row.id
  space = label_spaces.get(context.row.label_space)
  inside = p.label >= 0
  if not inside.any():
    raise errors.UserError(f"{benchmark}: no image has a class of {space.name}")
  if (p.label >= space.num_classes).any():
    raise errors.UserError(f"{benchmark}: labels must be {space.name} classes "
                           f"0..{space.num_classes - 1} or -1")
  mapped = space.to_space(p.top5[inside])
  label = p.label[inside]
  return [proportion_result(benchmark, f"top{k}", (mapped[:, :k] == label[:, None]).any(axis=1),
                            p.file_name[inside])
          for k in (1, 5)]


def score_imagenet_o(predictions: Sequence[Predictions],
                     context: ScoringContext) -> List[Result]:
  """ImageNet-O (Hendrycks et al. 2021): O images are the positives, ImageNet
  val images of the row's label space (its 200 classes) the negatives;
  score = -max softmax over those classes' logits; AUPR is average precision."""
  ood, val = predictions
  benchmark = context.row.id
  space = label_spaces.get(context.row.label_space)
  in_classes = space.to_space(val.label) >= 0
  if not in_classes.any():
    raise errors.UserError(f"{benchmark}: no ImageNet val images of the "
                           f"{space.num_classes} classes of {space.name}")
  confidence = np.concatenate([ood.space_confidence[space.name],
                               val.space_confidence[space.name][in_classes]])
  is_ood = np.concatenate([np.ones(len(ood), bool), np.zeros(int(in_classes.sum()), bool)])
  scores = -confidence
  images = np.concatenate([ood.file_name, val.file_name[in_classes]])
  return [statistic_result(benchmark, name, _ood_statistic(metric, scores, is_ood), images)
          for name, metric in (("aupr", metrics.aupr), ("auroc", metrics.auroc))]


def _ood_statistic(metric: Callable, scores: np.ndarray, is_ood: np.ndarray) -> Callable:
  def statistic(i: np.ndarray) -> float:
    # A resample with only one kind of image has no AUPR / AUROC: NaN, which
    # the bootstrap leaves out.
    if is_ood[i].all() or not is_ood[i].any():
      return float("nan")
    return float(metric(scores[i], is_ood[i]))
  return statistic


@reads("manual_dir")
def score_multilabel(predictions: Sequence[Predictions],
                     context: ScoringContext) -> List[Result]:
  """Multi-label accuracy (Shankar et al. 2020) on the 20,000 annotated val
  images: problematic images skipped, right if in correct or unclear labels,
  accuracy per original class then averaged over classes (``top1``); also the
  plain per-image mean and the correct-labels-only variant."""
  (p,) = predictions
  benchmark = context.row.id
  annotations = multilabel.load(multilabel.annotation_path(context.manual_dir))
  rows = annotations.rows_of(p.file_name)
  found = rows >= 0
  if not found.any():
    raise errors.UserError(f"{benchmark}: none of the evaluated images is in "
                           "the multi-label annotation file")
  rows = rows[found]
  label = require_labels(benchmark, p)[found]
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
  return [statistic_result(benchmark, metric, statistic(key),
                           p.file_name[found], n)
          for metric, key in (("top1", "class_mean"), ("top1_image_mean", "image_mean"),
                              ("top1_correct_only", "correct_only_class_mean"))]
