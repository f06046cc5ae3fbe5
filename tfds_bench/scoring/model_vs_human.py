"""Scorer of the 17 model-vs-human datasets: 16-class accuracy, shape bias and
the human comparisons (error consistency, observed consistency, accuracy
difference), with intervals.

Input per image: its 16-class decision (the category with the highest mean
softmax probability over its members: the best class of label space
``model_vs_human_16``, which the predictions record keeps), keyed by the
builder's `file_name`. Human data (`human_data.read_dataset`) is
optional; without it only the model's own figures are reported.

Metric names (``<c>``: a condition as the file names write it, ``<k>``: a
category, ``<s>``: a subject id):

* ``accuracy/<c>``: 16-class accuracy (Clopper-Pearson);
  ``accuracy``: mean over the dataset's included conditions (bootstrap over
  images). Included: all but the reference benchmark's excluded conditions.
* cue-conflict: ``shape_bias``, ``shape_bias/<k>`` (bootstrap over images).
* with human data, for m in error_consistency, observed_consistency,
  accuracy_difference: ``m/<c>`` (mean over subjects), ``m`` (mean over
  included conditions), ``m/<s>`` (against one subject, mean over included
  conditions), and the humans among themselves ``human_m``; ``human_accuracy``,
  and on cue-conflict ``human_shape_bias``, ``human_shape_bias/<k>`` (all
  subjects' trials pooled, as the reference's shape-bias plot pools them).
  Figures averaged over subjects get a bootstrap over images and subjects
  together (`metrics.two_level_bootstrap_interval`); the rest over images.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfds_bench import errors, human_data, label_spaces, labels, metrics
from tfds_bench.benchmark_types import (Result, ScoringContext, proportion_result, reads,
                                        statistic_result)
from tfds_bench.human_data import HumanTrials
from tfds_bench.predictions import Predictions
from tfds_bench.metrics.model_vs_human import PAIR_METRICS, TWO_LEVEL_BOOTSTRAP
from tfds_bench.release import model_vs_human as mvh


# The label space of the 16-class decision (its per-image scores are the
# mean softmax probabilities over each category's members).
LABEL_SPACE = "model_vs_human_16"


def category_space():
  """The 16 categories as a `label_spaces.LabelSpace`, in `mvh.CATEGORIES` order."""
  space = label_spaces.get(LABEL_SPACE)
  if space.class_names != mvh.CATEGORIES:
    raise RuntimeError(f"label space {LABEL_SPACE} lists other categories than "
                       f"{mvh.CATEGORIES}")
  return space


@dataclasses.dataclass(frozen=True)
class ModelTrials:
  """The model's decisions, parsed from its file names."""
  file_name: np.ndarray    # str [N]
  condition: np.ndarray    # str [N]
  image_id: np.ndarray     # str [N]
  category: np.ndarray     # str [N]
  texture: np.ndarray      # str [N] ("" outside cue-conflict)
  decision: np.ndarray     # str [N] category names

  @property
  def correct(self) -> np.ndarray:
    return self.decision == self.category


def model_trials(benchmark: str, dataset: mvh.Dataset, file_names: Sequence[str],
                 decisions: np.ndarray) -> ModelTrials:
  """Parses file names; ``decisions`` are category indices (`mvh.CATEGORIES`)."""
  file_names = np.asarray(file_names).astype(str)
  decisions = np.asarray(decisions)
  if (decisions.shape != (len(file_names),) or not np.issubdtype(decisions.dtype, np.integer)
      or (len(decisions) and (decisions.min() < 0 or decisions.max() >= len(mvh.CATEGORIES)))):
    raise errors.UserError(
        f"{benchmark}: need one 16-class decision (an index 0..{len(mvh.CATEGORIES) - 1}) "
        f"per image, {len(file_names)} in all; got {decisions.dtype} {decisions.shape}")
  if len(np.unique(file_names)) != len(file_names):
    raise errors.UserError(f"{benchmark}: repeated file names in the predictions")
  infos = []
  for name in file_names:
    try:
      infos.append(mvh.file_info(dataset, name))
    except ValueError as e:
      raise errors.UserError(f"{benchmark}: {e}") from None
  return ModelTrials(file_names, np.array([i.condition for i in infos]),
                     np.array([i.image_id for i in infos]),
                     np.array([i.category for i in infos]),
                     np.array([i.texture or "" for i in infos]),
                     np.array(mvh.CATEGORIES)[decisions])


def _condition_rows(trials: ModelTrials, conditions: Sequence[str]) -> Dict[str, np.ndarray]:
  return {c: np.flatnonzero(trials.condition == c) for c in conditions
          if (trials.condition == c).any()}


def _mean_over_conditions(rows: Dict[str, np.ndarray], per_condition):
  """``statistic(indices)``: mean over conditions of ``per_condition(c, rows)``
  on the resampled indices falling in each condition."""
  size = max(int(m.max()) for m in rows.values()) + 1
  label = np.full(size, -1)
  for k, members in enumerate(rows.values()):
    label[members] = k

  def statistic(indices):
    of = label[indices]
    values = []
    for k, condition in enumerate(rows):
      chosen = indices[of == k]
      values.append(per_condition(condition, chosen) if len(chosen) else np.nan)
    return float(np.mean(values))
  return statistic


def _accuracy_results(benchmark: str, dataset: mvh.Dataset,
                      trials: ModelTrials) -> List[Result]:
  correct = trials.correct
  rows = _condition_rows(trials, dataset.conditions)
  results = [proportion_result(benchmark, f"accuracy/{c}", correct[r], trials.file_name[r])
             for c, r in rows.items()]
  included = {c: r for c, r in rows.items() if c in dataset.included}
  if included:
    keep = np.concatenate(list(included.values()))
    position = {row: i for i, row in enumerate(keep)}
    local = {c: np.array([position[r] for r in members]) for c, members in included.items()}
    kept_correct = correct[keep]
    results.append(statistic_result(
        benchmark, "accuracy",
        _mean_over_conditions(local, lambda c, i: kept_correct[i].mean()),
        trials.file_name[keep]))
  return results


def _shape_bias_results(benchmark: str, prefix: str, decision, category, texture,
                        images) -> List[Result]:
  """Shape bias overall and per shape category; a figure with no shape or
  texture hit at all is undefined and left out, not reported as NaN."""
  results = [statistic_result(
      benchmark, f"{prefix}shape_bias",
      lambda i: metrics.shape_bias(decision[i], category[i], texture[i]), images)]
  for name in mvh.CATEGORIES:
    rows = np.flatnonzero(category == name)
    if len(rows):
      results.append(statistic_result(
          benchmark, f"{prefix}shape_bias/{name}",
          lambda i, rows=rows: metrics.shape_bias(decision[rows][i], category[rows][i],
                                                  texture[rows][i]), images[rows]))
  return [r for r in results if np.isfinite(r.value)]


def _aligned(benchmark: str, trials: ModelTrials, humans: HumanTrials,
             conditions: Sequence[str]):
  """Per condition: model correctness [N_c] and human correctness [S, N_c] on
  the human trials' images, in their order."""
  index = {(c, i): row for row, (c, i) in enumerate(zip(trials.condition, trials.image_id))}
  aligned = {}
  for condition in conditions:
    if condition not in humans.conditions:
      continue
    human = humans.conditions[condition]
    rows = [index.get((condition, i)) for i in human.image_ids]
    missing = [i for i, r in zip(human.image_ids, rows) if r is None]
    if missing:
      raise errors.UserError(
          f"{benchmark}: no prediction for {len(missing)} image(s) the humans saw in "
          f"condition {condition!r}, e.g. {missing[0]!r}: score the whole dataset")
    rows = np.array(rows)
    aligned[condition] = (rows, trials.correct[rows], human.correct)
  return aligned


def _human_pairs(matrix: np.ndarray, drawn: np.ndarray) -> float:
  """Mean over drawn subjects of their mean against the OTHER drawn subjects
  (a subject drawn twice is not paired with itself)."""
  values = []
  for i in drawn:
    others = drawn[drawn != i]
    if len(others):
      values.append(matrix[i, others].mean())
  return float(np.mean(values)) if values else np.nan


def _human_results(benchmark: str, dataset: mvh.Dataset, trials: ModelTrials,
                   humans: HumanTrials) -> List[Result]:
  aligned = _aligned(benchmark, trials, humans, dataset.conditions)
  if not aligned:
    raise errors.UserError(f"{benchmark}: the human data has none of {dataset.name}'s "
                           "conditions")
  subjects = humans.subjects
  num_subjects = len(subjects)
  # Images of the comparison: the aligned model rows, condition by condition.
  order = list(aligned)
  images = np.concatenate([trials.file_name[aligned[c][0]] for c in order])
  offsets = np.cumsum([0] + [len(aligned[c][0]) for c in order])
  positions = {c: np.arange(offsets[k], offsets[k + 1]) for k, c in enumerate(order)}
  included = [c for c in order if c in dataset.included]

  condition_of = np.repeat(np.arange(len(order)), np.diff(offsets))

  def resampled(condition, image_indices):
    k = order.index(condition)
    chosen = image_indices[condition_of[image_indices] == k] - offsets[k]
    _, model_correct, human_correct = aligned[condition]
    return model_correct[chosen], human_correct[:, chosen]

  def model_statistic(metric, conditions, subject_filter=None):
    def statistic(image_indices, subject_indices):
      values = []
      for condition in conditions:
        model_correct, human_correct = resampled(condition, image_indices)
        if not len(model_correct):
          values.append(np.nan)
          continue
        chosen = subject_indices if subject_filter is None else subject_filter
        values.append(metrics.pairwise(metric, model_correct[None], human_correct[chosen]).mean())
      return float(np.mean(values))
    return statistic

  def human_statistic(metric, conditions):
    def statistic(image_indices, subject_indices):
      values = []
      for condition in conditions:
        _, human_correct = resampled(condition, image_indices)
        if not human_correct.shape[1]:
          values.append(np.nan)
          continue
        matrix = metrics.pairwise(metric, human_correct, human_correct)
        values.append(_human_pairs(matrix, subject_indices))
      return float(np.mean(values))
    return statistic

  everyone = np.arange(num_subjects)

  def with_two_level(metric_name, statistic, image_positions) -> Result:
    result = statistic_result(benchmark, metric_name,
                              lambda i: statistic(image_positions[i], everyone),
                              images[image_positions])
    low, high = metrics.two_level_bootstrap_interval(
        lambda i, s: statistic(image_positions[i], s), len(image_positions), num_subjects)
    if not (np.isfinite(low) and np.isfinite(high)):
      return result
    return dataclasses.replace(result, ci_low=low, ci_high=high, ci_method=TWO_LEVEL_BOOTSTRAP)

  included_positions = (np.concatenate([positions[c] for c in included])
                        if included else np.array([], int))
  results = []
  for metric in PAIR_METRICS:
    for condition in order:
      results.append(with_two_level(f"{metric}/{condition}",
                                    model_statistic(metric, [condition]), positions[condition]))
    if included:
      results.append(with_two_level(metric, model_statistic(metric, included),
                                    included_positions))
      for k, subject in enumerate(subjects):
        statistic = model_statistic(metric, included, subject_filter=np.array([k]))
        results.append(statistic_result(
            benchmark, f"{metric}/{subject}",
            lambda i, statistic=statistic: statistic(included_positions[i], everyone),
            images[included_positions]))
      if num_subjects >= 2:
        results.append(with_two_level(f"human_{metric}", human_statistic(metric, included),
                                      included_positions))
  if included:
    def human_accuracy(image_indices, subject_indices):
      return float(np.mean([resampled(c, image_indices)[1][subject_indices].mean()
                            for c in included]))
    results.append(with_two_level("human_accuracy", human_accuracy, included_positions))
  if dataset.name == mvh.CUE_CONFLICT:
    results.extend(_human_shape_bias_results(benchmark, humans))
  return results


def _human_shape_bias_results(benchmark: str, humans: HumanTrials) -> List[Result]:
  trials = humans.conditions[mvh.SINGLE_CONDITION]
  textures = np.array([mvh.texture_category(i) for i in trials.image_ids])
  num_subjects = len(humans.subjects)
  # Pooled over subjects: every (subject, image) trial counts once.
  decision = trials.responses.reshape(-1)
  category = np.tile(trials.categories, num_subjects)
  texture = np.tile(textures, num_subjects)
  pooled_images = np.array([f"{s}/{i}" for s in humans.subjects for i in trials.image_ids])
  return _shape_bias_results(benchmark, "human_", decision, category, texture, pooled_images)


def score(benchmark: str, dataset_name: str, file_names: Sequence[str],
          decisions: np.ndarray, humans: Optional[HumanTrials] = None) -> List[Result]:
  """All figures of one model-vs-human dataset (see the module docstring).

  ``file_names``: the builder's `file_name` per image; ``decisions``: int [N],
  each image's 16-class decision (index into `mvh.CATEGORIES`).
  """
  dataset = mvh.get(dataset_name)
  trials = model_trials(benchmark, dataset, file_names, decisions)
  results = _accuracy_results(benchmark, dataset, trials)
  if dataset.name == mvh.CUE_CONFLICT:
    results.extend(_shape_bias_results(benchmark, "", trials.decision, trials.category,
                                       trials.texture, trials.file_name))
  if humans is not None:
    if humans.dataset != dataset.name:
      raise ValueError(f"human data of {humans.dataset} given for {dataset.name}")
    results.extend(_human_results(benchmark, dataset, trials, humans))
  return [r.with_interval() for r in results]


def score_probabilities(benchmark: str, dataset_name: str, file_names: Sequence[str],
                        probabilities: np.ndarray,
                        humans: Optional[HumanTrials] = None) -> List[Result]:
  """`score` from 1000-way softmax probabilities [N, 1000] (logits must go
  through a softmax first: the decision averages probabilities)."""
  probabilities = np.asarray(probabilities, np.float64)
  if probabilities.ndim != 2 or probabilities.shape[1] != labels.NUM_CLASSES:
    raise errors.UserError(f"{benchmark}: need softmax probabilities [N, "
                           f"{labels.NUM_CLASSES}], got shape {probabilities.shape}")
  decisions = metrics.sixteen_class_decisions(probabilities, category_space().members)
  return score(benchmark, dataset_name, file_names, decisions, humans)


@reads("human_data")
def score_model_vs_human_row(predictions: Sequence[Predictions],
                             context: ScoringContext) -> List[Result]:
  """A table row's scorer: ``context.row.options["dataset"]`` names the
  dataset; the decision is the best class of the predictions' label space
  ``model_vs_human_16`` (mean softmax probability per category); human data
  from ``--human_data`` when given."""
  (source,) = predictions
  benchmark = context.row.id
  if LABEL_SPACE not in source.space_top5:
    raise errors.UserError(
        f"{benchmark}: the predictions carry no {LABEL_SPACE} classes; score a model run, "
        "or a predictions file with 'logits' or 'probs'")
  dataset_name = context.row.options["dataset"]
  folder = context.options.human_data
  humans = human_data.read_dataset(folder, dataset_name) if folder else None
  return score(benchmark, dataset_name, source.file_name,
               source.space_top5[LABEL_SPACE][:, 0], humans)
