"""model-vs-human's figures: 16-class decisions, shape bias, error consistency.

Definitions re-derived from bethgelab/model-vs-human (MIT;
``datasets/decision_mappings.py``, ``plotting/analyses.py``,
``plotting/plot.py``):

* 16-class decision: each of the 16 categories is a set of ImageNet-1k class
  indices (`tfds_bench/data/label_spaces/model_vs_human_16.json`, 207 in
  all); a model's probability for a category is the MEAN of its softmax
  probabilities over the category's members, and its decision is the
  category with the highest mean. Ties go to the lower category index (the
  reference's reversed argsort takes the higher one; with real-valued
  probabilities ties do not happen).
* Shape bias (cue-conflict): over the trials whose shape and texture
  categories differ, ``shape hits / (shape hits + texture hits)``; a
  decision that is neither (or a human's "na") counts in neither.
* Error consistency (Cohen's kappa of trial-by-trial correctness):
  ``(c_obs - c_exp) / (1 - c_exp)``, ``c_obs`` the share of trials where
  both are right or both wrong, ``c_exp = p1 p2 + (1 - p1)(1 - p2)`` from
  the two accuracies; 1 when ``c_obs`` is 1 (the reference's rule, which
  also covers ``c_exp = 1``).
* Accuracy difference: ``(accuracy_a - accuracy_b) ** 2``, the reference's
  default (its ``norm=np.square``), averaged like error consistency.

Against humans every figure is computed per condition against each human
subject and averaged over subjects; a dataset's figure is the mean over its
conditions (`subject_mean`, `condition_mean`). Intervals: the percentile
bootstrap over trials (images) and, where subjects are averaged, over
subjects too (`two_level_bootstrap_interval`).
"""

from __future__ import annotations

from typing import Callable, Sequence, Tuple

import numpy as np

from tfds_bench.labels import NUM_CLASSES
from tfds_bench.metrics import formulas
from tfds_bench.metrics.formulas import NUMPY
from tfds_bench.metrics.intervals import CONFIDENCE, RESAMPLES, SEED

TWO_LEVEL_BOOTSTRAP = f"bootstrap_images_and_subjects_{RESAMPLES}"


def averaging_matrix(members: Sequence[Sequence[int]],
                     num_classes: int = NUM_CLASSES) -> np.ndarray:
  """float64 [num_classes, C]: column c averages the members of category c."""
  matrix = np.zeros((num_classes, len(members)), np.float64)
  for category, indices in enumerate(members):
    indices = np.asarray(indices, np.int64)
    if not len(indices) or len(np.unique(indices)) != len(indices):
      raise ValueError(f"category {category}: members must be non-empty and unique")
    if indices.min() < 0 or indices.max() >= num_classes:
      raise ValueError(f"category {category}: member outside 0..{num_classes - 1}")
    matrix[indices, category] = 1.0 / len(indices)
  return matrix


def category_probabilities(probabilities: np.ndarray,
                           members: Sequence[Sequence[int]]) -> np.ndarray:
  """float64 [N, C]: mean softmax probability over each category's members.

  ``probabilities``: float [N, 1000] softmax outputs (not logits: the mean
  of logits ranks differently).
  """
  probabilities = np.asarray(probabilities)
  if probabilities.ndim != 2:
    raise ValueError(f"probabilities must be [N, classes], got {probabilities.shape}")
  return formulas.category_means(NUMPY, probabilities,
                                 averaging_matrix(members, probabilities.shape[1]))


def sixteen_class_decisions(probabilities: np.ndarray,
                            members: Sequence[Sequence[int]]) -> np.ndarray:
  """int64 [N]: the category (index into ``members``) with the highest mean
  probability; ties to the lower index."""
  return np.argmax(category_probabilities(probabilities, members), axis=1).astype(np.int64)


def _same_length(*arrays) -> None:
  lengths = {len(a) for a in arrays}
  if len(lengths) != 1:
    raise ValueError(f"arrays over the same trials must have one length, got {sorted(lengths)}")


def shape_texture_hits(decisions, shape_categories, texture_categories
                       ) -> Tuple[np.ndarray, np.ndarray]:
  """bool [N] twice: shape hit, texture hit, over cue-conflict trials only.

  A trial whose shape and texture categories are equal is neither.
  Decisions and categories may be indices or names (compared with ==).
  """
  decisions, shape, texture = (np.asarray(a) for a in
                               (decisions, shape_categories, texture_categories))
  _same_length(decisions, shape, texture)
  conflict = shape != texture
  return conflict & (decisions == shape), conflict & (decisions == texture)


def shape_bias(decisions, shape_categories, texture_categories) -> float:
  """Shape bias: shape hits / (shape hits + texture hits) over trials whose
  shape and texture categories differ; NaN when there are none of either."""
  shape_hit, texture_hit = shape_texture_hits(decisions, shape_categories,
                                              texture_categories)
  return float(formulas.ratio(NUMPY, shape_hit.sum(),
                              shape_hit.sum() + texture_hit.sum(), np.nan))


def shape_bias_per_category(decisions, shape_categories, texture_categories,
                            categories: Sequence) -> np.ndarray:
  """float64 [len(categories)]: shape bias over the trials of each SHAPE
  category (NaN where a category has no shape or texture hit)."""
  shape_categories = np.asarray(shape_categories)
  decisions, texture_categories = np.asarray(decisions), np.asarray(texture_categories)
  _same_length(decisions, shape_categories, texture_categories)
  return np.array([
      shape_bias(decisions[shape_categories == c], shape_categories[shape_categories == c],
                 texture_categories[shape_categories == c]) for c in categories])


def _paired_correct(correct_a, correct_b) -> Tuple[np.ndarray, np.ndarray]:
  correct_a, correct_b = np.asarray(correct_a), np.asarray(correct_b)
  if correct_a.dtype != bool or correct_b.dtype != bool:
    raise ValueError("correctness arrays must be boolean (one value per trial)")
  if correct_a.shape != correct_b.shape or correct_a.ndim != 1 or not len(correct_a):
    raise ValueError(f"need two non-empty boolean arrays over the same trials, got "
                     f"shapes {correct_a.shape} and {correct_b.shape}")
  return correct_a, correct_b


def observed_consistency(correct_a, correct_b) -> float:
  """Share of trials where both observers are right or both are wrong."""
  correct_a, correct_b = _paired_correct(correct_a, correct_b)
  return float(np.mean(correct_a == correct_b))


def expected_consistency(correct_a, correct_b) -> float:
  """``p_a p_b + (1 - p_a)(1 - p_b)``: the consistency of independent observers
  with these accuracies."""
  correct_a, correct_b = _paired_correct(correct_a, correct_b)
  p_a, p_b = float(np.mean(correct_a)), float(np.mean(correct_b))
  return p_a * p_b + (1.0 - p_a) * (1.0 - p_b)


def error_consistency(correct_a, correct_b) -> float:
  """Cohen's kappa of two observers' trial-by-trial correctness.

  ``correct_a``, ``correct_b``: bool [N] over the same trials in the same
  order. Returns ``(c_obs - c_exp) / (1 - c_exp)``, and 1 when ``c_obs`` is 1.
  """
  c_obs = observed_consistency(correct_a, correct_b)
  if c_obs == 1.0:
    return 1.0
  c_exp = expected_consistency(correct_a, correct_b)
  return (c_obs - c_exp) / (1.0 - c_exp)


def accuracy_difference(correct_a, correct_b) -> float:
  """``(accuracy_a - accuracy_b) ** 2`` (model-vs-human's default norm)."""
  correct_a, correct_b = _paired_correct(correct_a, correct_b)
  return float((np.mean(correct_a) - np.mean(correct_b)) ** 2)


PAIR_METRICS = {
    "error_consistency": error_consistency,
    "observed_consistency": observed_consistency,
    "accuracy_difference": accuracy_difference,
}


def pairwise(metric: str, correct_a: np.ndarray, correct_b: np.ndarray) -> np.ndarray:
  """float64 [A, B]: ``metric`` (a `PAIR_METRICS` name) of every row of
  ``correct_a`` (bool [A, N]) against every row of ``correct_b`` ([B, N]).

  The same formulas as the pair functions, on all pairs at once (for the
  bootstrap, which recomputes them a thousand times).
  """
  if metric not in PAIR_METRICS:
    raise ValueError(f"unknown pair metric {metric!r}; known: {sorted(PAIR_METRICS)}")
  a = np.asarray(correct_a, np.float64)
  b = np.asarray(correct_b, np.float64)
  if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not a.shape[1]:
    raise ValueError(f"need [A, N] and [B, N] with N > 0, got {a.shape} and {b.shape}")
  n = a.shape[1]
  p_a, p_b = a.mean(axis=1)[:, None], b.mean(axis=1)[None, :]
  if metric == "accuracy_difference":
    return (p_a - p_b) ** 2
  c_obs = (a @ b.T + (1.0 - a) @ (1.0 - b).T) / n
  if metric == "observed_consistency":
    return c_obs
  c_exp = p_a * p_b + (1.0 - p_a) * (1.0 - p_b)
  identical = c_obs >= 1.0
  with np.errstate(divide="ignore", invalid="ignore"):
    kappa = (c_obs - c_exp) / (1.0 - c_exp)
  return np.where(identical, 1.0, kappa)


def subject_mean(pair_metric: Callable, correct: np.ndarray,
                 subjects_correct: np.ndarray) -> float:
  """Mean over subjects of ``pair_metric(correct, subject's correct)``.

  ``correct``: bool [N]; ``subjects_correct``: bool [S, N], the same trials.
  """
  return float(np.mean([pair_metric(correct, row) for row in subjects_correct]))


def human_pairs_mean(pair_metric: Callable, subjects_correct: np.ndarray) -> float:
  """Humans among themselves: the mean over subjects of each one's mean
  against every other subject (the reference's human row; for a symmetric
  metric this is the mean over unordered pairs). Needs two subjects."""
  subjects_correct = np.asarray(subjects_correct)
  count = len(subjects_correct)
  if count < 2:
    raise ValueError("human-vs-human figures need at least two subjects")
  return float(np.mean([
      np.mean([pair_metric(subjects_correct[i], subjects_correct[j])
               for j in range(count) if j != i]) for i in range(count)]))


def two_level_bootstrap_interval(statistic: Callable[[np.ndarray, np.ndarray], float],
                                 num_images: int, num_subjects: int,
                                 confidence: float = CONFIDENCE,
                                 resamples: int = RESAMPLES, seed: int = SEED
                                 ) -> Tuple[float, float]:
  """Percentile bootstrap over images and subjects together (seeded).

  ``statistic(image_indices, subject_indices)`` recomputes the figure on
  images and subjects drawn with replacement; each resample draws both.
  Resamples where it is undefined (NaN) are left out.
  """
  if num_images <= 0 or num_subjects <= 0:
    raise ValueError(f"need images and subjects, got {num_images} and {num_subjects}")
  rng = np.random.default_rng(seed)
  values = np.array([
      statistic(rng.integers(0, num_images, num_images),
                rng.integers(0, num_subjects, num_subjects))
      for _ in range(resamples)])
  values = values[np.isfinite(values)]
  if not len(values):
    return float("nan"), float("nan")
  alpha = 1.0 - confidence
  low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
  return float(low), float(high)
