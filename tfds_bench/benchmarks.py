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
class ScoringContext:
  """What a scorer may need beyond predictions: files from ``--manual_dir``,
  and a ReaL operating point (Dawid-Skene score threshold) to report."""
  manual_dir: Optional[str] = None
  real_threshold: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """A row of the table.

  Attributes:
    id: the name users select with ``--benchmarks``.
    title: one line for ``--list``.
    sources: what to run the model on; ``score`` gets one Predictions each.
    metrics: names of the figures ``score`` reports.
    score: ``score(predictions, context)``: one Predictions per source, in
      order, and a ScoringContext -> results.
    needs_scores: True if the metrics need full scores (logits/probs), not
      just top-5 indices.
  """
  id: str
  title: str
  sources: Tuple[Source, ...]
  metrics: Tuple[str, ...]
  score: Callable[[Sequence[Predictions], ScoringContext], List[Result]]
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
  def score(predictions: Sequence[Predictions], context=None) -> List[Result]:
    del context
    (p,) = predictions
    label = _require_labels(benchmark, p)
    return _accuracy_results(benchmark, p.top5, label) + _calibration_results(benchmark, p, label)
  return score


def score_sample(predictions: Sequence[Predictions], context=None) -> List[Result]:
  """The sample suite: original labels, its ReaL-style lists, calibration."""
  del context
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


REAL_CURVE_METRIC = "top1_at_threshold"


def score_real(predictions: Sequence[Predictions], context=None) -> List[Result]:
  """ReaL accuracy (Beyer et al. 2020): images with an empty list are skipped.

  Also the threshold-free expected accuracy under the Dawid-Skene scores
  (``soft_top1``: mean over the rated images of the predicted class's score),
  ReaL top-1 along the score threshold (``top1_at_threshold/<t>``; real.json
  is the 0.8 point) and, when asked for, at one more operating point.
  """
  from tfds_bench import real_scores  # pylint: disable=g-import-not-at-top
  (p,) = predictions
  name = "imagenet2012_real"
  results = _real_results(name, p.top5, real_label_sets(p.file_name))
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
    label = _require_labels(benchmark, p)
    subset_top5 = p.subset_top5[subset]
    n = len(label)
    results = _accuracy_results(benchmark, subset_top5, label)
    results.append(Result(benchmark, "top1_1000way",
                          float(metrics.topk_correct(p.top5, label, 1).mean()), n))
    subset_view = dataclasses.replace(p, top5=subset_top5,
                                      confidence=p.subset_confidence[subset])
    return results + _calibration_results(benchmark, subset_view, label)
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
  from tfds_bench import multilabel  # pylint: disable=g-import-not-at-top
  (p,) = predictions
  annotations = multilabel.load(multilabel.annotation_path(context.manual_dir))
  rows = annotations.rows_of(p.file_name)
  found = rows >= 0
  if not found.any():
    raise errors.UserError("imagenet2012_multilabel: none of the evaluated images is in "
                           "the multi-label annotation file")
  rows = rows[found]
  label = _require_labels("imagenet2012_multilabel", p)[found]
  accuracy = metrics.multilabel_accuracy(
      p.top5[found, 0], annotations.correct[rows], annotations.unclear[rows], label,
      annotations.is_problematic[rows])
  n = int(accuracy["n"])
  return [Result("imagenet2012_multilabel", "top1", float(accuracy["class_mean"]), n),
          Result("imagenet2012_multilabel", "top1_image_mean", float(accuracy["image_mean"]), n),
          Result("imagenet2012_multilabel", "top1_correct_only",
                 float(accuracy["correct_only_class_mean"]), n)]


# --- the table ----------------------------------------------------------------

SAMPLE = Source("sample", "bench_sample", "test", label_lists={"real_label": 8})
SAMPLE_C = Source("sample_c", "bench_sample_c", "test")
IMAGE_FOLDER = Source("image_folder", None, "test")
IMAGENET_VAL = Source(
    "imagenet2012:validation", "imagenet2012", "validation",
    manual_files="ILSVRC2012_img_val.tar (and ILSVRC2012_img_train.tar, which TFDS's "
                 "imagenet2012 builder also requires)")

_ACCURACY_AND_CALIBRATION = ("top1", "top5", "ece", "rms_calibration_error")
_SUBSET_METRICS = ("top1", "top5", "top1_1000way", "ece", "rms_calibration_error")

IMAGENET_V2_ARCHIVES = {
    "matched-frequency": "imagenetv2-matched-frequency.tar.gz",
    "threshold-0.7": "imagenetv2-threshold0.7.tar.gz",
    "top-images": "imagenetv2-top-images.tar.gz",
}


def _imagenet_v2(config: str) -> Benchmark:
  benchmark_id = f"imagenet_v2/{config}"
  source = Source(benchmark_id, f"bench_imagenet_v2/{config}", "test",
                  manual_files=IMAGENET_V2_ARCHIVES[config])
  return Benchmark(benchmark_id, f"ImageNetV2 {config} (10,000 new test images)",
                   (source,), _ACCURACY_AND_CALIBRATION, score_classification(benchmark_id))


def _subset_benchmark(name: str, title: str) -> Benchmark:
  source = Source(name, f"bench_{name}", "test", manual_files=f"{name.replace('_', '-')}.tar")
  return Benchmark(name, title, (source,), _SUBSET_METRICS, score_subset(name, name),
                   needs_scores=True)

def score_sample_c(predictions: Sequence[Predictions], context=None) -> List[Result]:
  """ImageNet-C figures on the sample photos: per-corruption error, mCE and
  relative mCE against the clean sample, with the AlexNet normaliser."""
  del context
  from tfds_bench import imagenet_c  # pylint: disable=g-import-not-at-top
  clean, corrupted = predictions
  config, photo = np.array([name.split("/", 1) for name in corrupted.file_name]).T
  by_config = {}
  for name in np.unique(config):
    rows = config == name
    by_config[str(name)] = dataclasses.replace(corrupted.select(rows), file_name=photo[rows])
  return imagenet_c.score_imagenet_c(by_config, clean, "sample_c")


def _imagenet_c() -> Benchmark:
  from tfds_bench import imagenet_c  # pylint: disable=g-import-not-at-top
  sources = imagenet_c.imagenet_c_sources()  # 19 corruptions x 5 severities
  return Benchmark(
      "imagenet_c", "ImageNet-C: 19 corruptions x 5 severities; mCE and relative mCE vs AlexNet",
      (IMAGENET_VAL,) + tuple(sources), imagenet_c.METRICS + ("error/<corruption>",),
      imagenet_c.benchmark_scorer(sources))


def _imagenet_p() -> Benchmark:
  from tfds_bench import imagenet_p  # pylint: disable=g-import-not-at-top
  sources = imagenet_p.imagenet_p_sources()  # 14 perturbations
  return Benchmark(
      "imagenet_p", "ImageNet-P: 14 perturbation sequences; flip probability, top-5 distance, "
                    "mFP / mT5D (AlexNet-normalised only when its values are given)",
      sources, imagenet_p.METRICS, imagenet_p.benchmark_scorer(sources))


def _sample_p() -> Benchmark:
  from tfds_bench import imagenet_p  # pylint: disable=g-import-not-at-top
  sources = imagenet_p.sample_p_sources(imagenet_p.TEST_NAMES)  # 10 test perturbations
  return Benchmark(
      "sample_p", "ImageNet-P-style sequences of 3 sample photos, 10 test perturbations (offline)",
      sources, imagenet_p.METRICS,
      imagenet_p.benchmark_scorer(sources, imagenet_p.SAMPLE_BENCHMARK_ID))


BENCHMARKS: Tuple[Benchmark, ...] = (
    Benchmark("sample", "Sample suite: real photos shipped with our dependencies (offline)",
              (SAMPLE,), ("top1", "top5", "real_top1", "real_top5", "ece",
                          "rms_calibration_error"), score_sample),
    Benchmark("sample_c", "Sample photos under the 19 ImageNet-C corruptions x 5 severities "
                          "(offline)", (SAMPLE, SAMPLE_C),
              ("mce", "relative_mce", "clean_error", "error/<corruption>"), score_sample_c),
    Benchmark("image_folder", "Any folder in ImageNet layout (--image_folder=DIR)",
              (IMAGE_FOLDER,), _ACCURACY_AND_CALIBRATION, score_classification("image_folder")),
    Benchmark("imagenet2012", "ImageNet-1k validation set, original labels",
              (IMAGENET_VAL,), _ACCURACY_AND_CALIBRATION, score_classification("imagenet2012")),
    Benchmark("imagenet2012_real", "ImageNet val with ReaL labels (46,837 images with a label)",
              (IMAGENET_VAL,), ("top1", "top5", "soft_top1", "top1_at_threshold/<t>"),
              score_real),
    Benchmark("imagenet2012_multilabel",
              "ImageNet val, multi-label annotations of 20,000 images (Shankar et al. 2020)",
              (IMAGENET_VAL,), ("top1", "top1_image_mean", "top1_correct_only"),
              score_multilabel),
    *(_imagenet_v2(config) for config in IMAGENET_V2_ARCHIVES),
    Benchmark("imagenet_sketch", "ImageNet-Sketch: 50,889 black-and-white sketches",
              (Source("imagenet_sketch", "bench_imagenet_sketch", "test",
                      manual_files="ImageNet-Sketch.zip"),),
              _ACCURACY_AND_CALIBRATION, score_classification("imagenet_sketch")),
    _subset_benchmark("imagenet_a", "ImageNet-A: 7,500 natural adversarial examples, 200 classes"),
    _subset_benchmark("imagenet_r", "ImageNet-R: 30,000 renditions (art, cartoons, ...), "
                                    "200 classes"),
    Benchmark("imagenet_o", "ImageNet-O: out-of-distribution detection (2,000 O images vs "
                            "ImageNet val of the 200 classes)",
              (Source("imagenet_o", "bench_imagenet_o", "test", manual_files="imagenet-o.tar"),
               IMAGENET_VAL),
              ("aupr", "auroc"), score_imagenet_o, needs_scores=True),
    _imagenet_c(),
    _imagenet_p(),
    _sample_p(),
)

DEFAULT_OFFLINE = ("sample", "sample_c")


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
