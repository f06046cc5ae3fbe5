"""Scorers of where a model fails: per class, per ImageNet-X metaclass, per factor.

They reuse a forward pass other rows already make (val, an image folder,
V2, Sketch, A, R, ObjectNet) in rows of their own (`benchmark_table`:
``<id>_per_class``, ``imagenet_x``), so the default benchmarks' output is
unchanged:

* per class (`score_per_class`): ``class/<wnid>/top1`` and ``/top5`` for
  every class with images (Clopper-Pearson), and over the classes
  ``balanced_top1`` / ``balanced_top5`` (mean of the per-class accuracies),
  ``worst_class_top1`` (the worst class's top-1, its Clopper-Pearson
  interval) and ``worst_10pct_class_top1`` (mean of the worst 10 % of
  classes), the balanced figures with a bootstrap over images (`worst_results`
  says why the worst figures' intervals keep the chosen classes fixed);
* ImageNet-X (`score_imagenet_x`, ImageNet val): over the annotated images
  (prototypes dropped) ``top1``, and for the top-factor annotations
  ``factor/<name>/top1`` (Clopper-Pearson) and ``factor/<name>/error_ratio``
  (bootstrap over the annotated images), the same as ``multi_factor/...``
  for the multi-factor ones; over all the val images the per-metaclass
  figures ``metaclass/<name>/top1`` / ``top5``, ``balanced_metaclass_top1``,
  ``worst_metaclass_top1``, and ``metaclass_top1`` (the top-1 prediction is
  in the label's metaclass).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Sequence

import numpy as np

from tfds_bench import errors, imagenet_x, label_spaces, labels
from tfds_bench.benchmark_types import (Result, ScoringContext, proportion_result, reads,
                                        statistic_result)
from tfds_bench.metrics import breakdown, topk_correct
from tfds_bench.predictions import Predictions
from tfds_bench.scoring.classification import require_labels

CLASS_PREFIX = "class/"
METACLASS_PREFIX = "metaclass/"
FACTOR_PREFIXES = {"top": "factor/", "multi": "multi_factor/"}
PER_CLASS_METRICS = ("balanced_top1", "balanced_top5", "worst_class_top1",
                     "worst_10pct_class_top1", "class/<wnid>/top1", "class/<wnid>/top5")
METACLASS_METRICS = ("metaclass_top1", "balanced_metaclass_top1", "worst_metaclass_top1",
                     "metaclass/<name>/top1", "metaclass/<name>/top5")
IMAGENET_X_METRICS = ("top1", "factor/<name>/top1", "factor/<name>/error_ratio",
                      "multi_factor/<name>/top1", "multi_factor/<name>/error_ratio"
                      ) + METACLASS_METRICS


def group_results(benchmark: str, prefix: str, names: Sequence[str], group: np.ndarray,
                  correct1: np.ndarray, correct5: np.ndarray,
                  images: np.ndarray) -> List[Result]:
  """``<prefix><name>/top1`` and ``/top5`` for each group with images.

  ``group``: int64 [N] each image's group (index into ``names``).
  """
  results = []
  order = np.argsort(group, kind="stable")
  starts = np.searchsorted(group[order], np.arange(len(names) + 1))
  for index, name in enumerate(names):
    rows = order[starts[index]:starts[index + 1]]
    if not len(rows):
      continue
    for k, correct in ((1, correct1), (5, correct5)):
      results.append(proportion_result(benchmark, f"{prefix}{name}/top{k}", correct[rows],
                                       images[rows]))
  return results


def balanced_result(benchmark: str, metric: str, group: np.ndarray, num_groups: int,
                    correct: np.ndarray, images: np.ndarray) -> Result:
  """The mean over groups of their accuracy, with a bootstrap over images."""
  def statistic(i):
    return breakdown.balanced_accuracy(breakdown.class_counts(correct[i], group[i],
                                                              num_groups))
  return statistic_result(benchmark, metric, statistic, images)


def worst_results(benchmark: str, prefix: str, group: np.ndarray, num_groups: int,
                  correct: np.ndarray, images: np.ndarray) -> List[Result]:
  """``worst_<prefix>_top1`` and ``worst_10pct_<prefix>_top1``.

  Their intervals are those of the groups chosen on all the images, kept
  fixed: the worst group's Clopper-Pearson interval, and for the worst 10 %
  the bootstrap of those groups' mean accuracy. Choosing again in every
  resample would not do: the minimum of resampled accuracies sits below the
  observed one, so the percentile interval would miss the figure it is for.
  The selection itself is not accounted for (the worst groups' true
  accuracy is likely somewhat higher than measured).
  """
  counts = breakdown.class_counts(correct, group, num_groups)
  if not counts.present.any():
    return []
  worst = breakdown.worst_classes(counts, 1.0)[0]
  results = [proportion_result(benchmark, f"worst_{prefix}_top1", correct[group == worst],
                               images[group == worst])]
  chosen = breakdown.worst_classes(counts, breakdown.WORST_FRACTION)
  in_chosen = np.isin(group, chosen)
  chosen_group, chosen_correct = group[in_chosen], correct[in_chosen]
  rows = np.flatnonzero(in_chosen)
  position = np.full(len(group), -1, np.int64)
  position[rows] = np.arange(len(rows))

  def statistic(i):
    i = position[i]
    i = i[i >= 0]
    counts = breakdown.class_counts(chosen_correct[i], chosen_group[i], num_groups)
    return breakdown.balanced_accuracy(counts)
  results.append(statistic_result(benchmark, f"worst_10pct_{prefix}_top1", statistic, images,
                                  n=int(in_chosen.sum())))
  return results


def class_results(benchmark: str, correct1: np.ndarray, correct5: np.ndarray,
                  label: np.ndarray, class_names: Sequence[str],
                  images: np.ndarray) -> List[Result]:
  """Per-class rows (``class/<name>/top1``, ``/top5``) and their summaries
  from per-image correctness; ``label`` indexes ``class_names`` (the 1000
  wnids, or a label space's classes)."""
  num = len(class_names)
  return ([balanced_result(benchmark, "balanced_top1", label, num, correct1, images),
           balanced_result(benchmark, "balanced_top5", label, num, correct5, images)]
          + worst_results(benchmark, "class", label, num, correct1, images)
          + group_results(benchmark, CLASS_PREFIX, class_names, label, correct1, correct5,
                          images))


def per_class_results(benchmark: str, top5: np.ndarray, label: np.ndarray,
                      images: np.ndarray) -> List[Result]:
  """Per-class rows and their summaries; classes in the 1000-class space,
  named by wnid (a 200-class set has rows for its own classes only)."""
  return class_results(benchmark, topk_correct(top5, label, 1), topk_correct(top5, label, 5),
                       label, labels.wnids(), images)


def _metric_name(name: str) -> str:
  # A class name is one component of the metric name: no "/" inside it.
  return name.replace("/", "_")


@dataclasses.dataclass(frozen=True)
class RowClasses:
  """A row's images scored in its own classes.

  Attributes:
    correct1, correct5: bool [N] top-1 / top-5 right by the row's rule.
    label: int64 [N] each image's class, an index into ``names``.
    names: the row's classes (wnids, or the label space's class names).
    members: int64 arrays, the ImageNet-1k classes of each of ``names``.
    top1_1000: int64 [N] the 1000-way top-1.
    images: str [N].
  """
  correct1: np.ndarray
  correct5: np.ndarray
  label: np.ndarray
  names: Sequence[str]
  members: Sequence[np.ndarray]
  top1_1000: np.ndarray
  images: np.ndarray


def row_classes(p: Predictions, row) -> RowClasses:
  """Scores ``p`` in ``row``'s classes, by the rule of the set the row reuses.

  * no label space: the 1000 ImageNet classes, named by wnid;
  * a label space whose scores the row keeps (ImageNet-A / -R): ranked over
    the space's classes, as the set's own top-1 is;
  * any other label space (ObjectNet): labels are space classes (-1 left
    out) and the 1000-way top-5 is mapped into the space, the set's rule.
  """
  benchmark = row.id
  if row.label_space is None:
    label = require_labels(benchmark, p)
    return RowClasses(topk_correct(p.top5, label, 1), topk_correct(p.top5, label, 5), label,
                      labels.wnids(), tuple(np.array([c]) for c in range(labels.NUM_CLASSES)),
                      p.top5[:, 0], p.file_name)
  space = label_spaces.get(row.label_space)
  names = [_metric_name(n) for n in space.class_names]
  if row.label_space in row.space_scores:
    label = space.to_space(require_labels(benchmark, p))
    if (label < 0).any():
      raise errors.UserError(f"{benchmark}: {int((label < 0).sum())} images have a label "
                             f"outside the {space.num_classes} classes of {space.name}")
    top5 = p.space_top5[space.name]
    return RowClasses(topk_correct(top5, label, 1), topk_correct(top5, label, 5), label, names,
                      space.members, p.top5[:, 0], p.file_name)
  inside = p.label >= 0
  if not inside.any():
    raise errors.UserError(f"{benchmark}: no image has a class of {space.name}")
  label = p.label[inside]
  mapped = space.to_space(p.top5[inside])
  correct1, correct5 = ((mapped[:, :k] == label[:, None]).any(axis=1) for k in (1, 5))
  return RowClasses(correct1, correct5, label, names, space.members, p.top5[inside, 0],
                    p.file_name[inside])


def score_per_class(predictions: Sequence[Predictions],
                    context: ScoringContext) -> List[Result]:
  """Per-class figures of the row's one source, in the row's classes (`row_classes`)."""
  (p,) = predictions
  scored = row_classes(p, context.row)
  return class_results(context.row.id, scored.correct1, scored.correct5, scored.label,
                       scored.names, scored.images)


def _factor_statistic(correct: np.ndarray, carried: np.ndarray) -> Callable:
  # One gather per resample: each image's cell (carried, correct) as 0..3,
  # counted with one bincount.
  cell = (2 * carried.astype(np.int8) + correct.astype(np.int8)).astype(np.intp)

  def statistic(i: np.ndarray) -> float:
    wrong_without, right_without, wrong_with, right_with = np.bincount(cell[i], minlength=4)
    return breakdown.error_ratio(right_with, wrong_with + right_with,
                                 right_without + right_with, len(i))
  return statistic


def factor_results(benchmark: str, prefix: str, correct: np.ndarray,
                   annotations: imagenet_x.Annotations) -> List[Result]:
  """``<prefix><factor>/top1`` and ``/error_ratio`` of each factor some image
  carries; ``correct`` bool per annotated image, in the annotations' order.

  The ratio's ``n`` is the number of images carrying the factor; its
  bootstrap resamples all the annotated images (the denominator is theirs).
  """
  images = annotations.file_name
  results = []
  for name, carried in annotations.factors.items():
    if not carried.any():
      continue
    results.append(proportion_result(benchmark, f"{prefix}{name}/top1", correct[carried],
                                     images[carried]))
    results.append(statistic_result(benchmark, f"{prefix}{name}/error_ratio",
                                    _factor_statistic(correct, carried), images,
                                    n=int(carried.sum())))
  return results


def annotated_rows(benchmark: str, p: Predictions,
                   annotations: imagenet_x.Annotations) -> tuple:
  """(rows of ``p``, the annotations restricted to the images ``p`` has), with
  the annotated class checked against the predictions' label."""
  position = {str(f): i for i, f in enumerate(p.file_name)}
  rows = np.array([position.get(str(f), -1) for f in annotations.file_name], np.int64)
  found = rows >= 0
  if not found.any():
    raise errors.UserError(f"{benchmark}: none of the evaluated images is annotated by "
                           "ImageNet-X (it annotates ImageNet val)")
  annotations, rows = annotations.select(found), rows[found]
  differ = annotations.label != p.label[rows]
  if differ.any():
    first = int(np.argmax(differ))
    raise errors.UserError(
        f"{benchmark}: ImageNet-X labels {annotations.file_name[first]} class "
        f"{annotations.label[first]} but the predictions say {p.label[rows][first]}: "
        "annotations or predictions of another class order")
  return rows, annotations


def metaclass_results(benchmark: str, scored: RowClasses, names: Sequence[str],
                      metaclass_of_class: np.ndarray) -> List[Result]:
  """Per-metaclass top-1 / top-5 (images grouped by their label's metaclass),
  the balanced and worst metaclass top-1, and ``metaclass_top1`` (the 1000-way
  top-1 is in the label's metaclass).

  A class of the row is in a metaclass when all its ImageNet classes are; the
  images of a class whose ImageNet classes straddle two are left out.
  """
  of_row_class = np.array([metaclass_of_class[m[0]] if len(set(metaclass_of_class[m])) == 1
                           else -1 for m in scored.members], np.int64)
  group = of_row_class[scored.label]
  kept = group >= 0
  if not kept.any():
    return []
  group, images = group[kept], scored.images[kept]
  correct1, correct5 = scored.correct1[kept], scored.correct5[kept]
  same_metaclass = metaclass_of_class[scored.top1_1000[kept]] == group
  return ([proportion_result(benchmark, "metaclass_top1", same_metaclass, images),
           balanced_result(benchmark, "balanced_metaclass_top1", group, len(names), correct1,
                           images)]
          + worst_results(benchmark, "metaclass", group, len(names), correct1, images)[:1]
          + group_results(benchmark, METACLASS_PREFIX, names, group, correct1, correct5,
                          images))


@reads("imagenet_x_dir")
def score_metaclass(predictions: Sequence[Predictions],
                    context: ScoringContext) -> List[Result]:
  """ImageNet-X's metaclass figures of the row's one source, scored by the
  rule of the set it reuses (`row_classes`)."""
  (p,) = predictions
  directory = imagenet_x.annotation_dir(context.options.imagenet_x_dir)
  names, metaclass_of_class = imagenet_x.metaclasses(directory)
  return metaclass_results(context.row.id, row_classes(p, context.row), names,
                           metaclass_of_class)


@reads("imagenet_x_dir")
def score_imagenet_x(predictions: Sequence[Predictions],
                     context: ScoringContext) -> List[Result]:
  """ImageNet-X factors and metaclasses on the ImageNet val predictions.

  The annotations come from ``--imagenet_x_dir`` (``context.options``) if
  set, else the installed ``imagenet-x`` package (`tfds_bench.imagenet_x`).
  """
  (p,) = predictions
  benchmark = context.row.id
  label = require_labels(benchmark, p)
  directory = imagenet_x.annotation_dir(context.options.imagenet_x_dir)
  results = []
  for which, prefix in FACTOR_PREFIXES.items():
    rows, annotations = annotated_rows(benchmark, p, imagenet_x.load(directory, which))
    correct = topk_correct(p.top5[rows], label[rows], 1)
    if which == "top":
      results.append(proportion_result(benchmark, "top1", correct, annotations.file_name))
    results += factor_results(benchmark, prefix, correct, annotations)
  names, metaclass_of_class = imagenet_x.metaclasses(directory)
  return results + metaclass_results(benchmark, row_classes(p, context.row), names,
                                     metaclass_of_class)
