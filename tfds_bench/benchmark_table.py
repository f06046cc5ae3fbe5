"""The benchmark table: the single source of truth for what the suite measures.

A benchmark reads the images of one or more *sources* (`tfds_bench.sources`:
a TFDS builder split, or the user's image folder) and scores the model's
predictions on them with a scorer (`tfds_bench.scoring`). Two benchmarks with
the same source share one forward pass: ImageNet val top-1, ReaL and
calibration all come from a single pass over the val images.

A new test set is one builder folder under ``builders/`` plus one row here
(docs/architecture.md has the recipe).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from tfds_bench import errors, openood_lists
from tfds_bench.benchmark_types import (Benchmark, OfflineFallback, ScoringContext,
                                        ScoringOptions)
from tfds_bench.release import common as release_common
from tfds_bench.release import imagenet_c as imagenet_c_release
from tfds_bench.release import imagenet_c_bar as imagenet_c_bar_release
from tfds_bench.release import imagenet_p as imagenet_p_release
from tfds_bench.release import model_vs_human as model_vs_human_release
from tfds_bench.metrics import openood as openood_metrics
from tfds_bench.predictions import LOGIT_OOD_SCORES
from tfds_bench.scoring import (breakdown, classification, imagenet_c, imagenet_p,
                                 model_vs_human)
from tfds_bench.scoring import openood as openood_scoring
from tfds_bench.sources import (IMAGENET_VAL, DataOptions, ImageFolderSource, TfdsSource,
                                imagenet_c_source, imagenet_p_source)

SAMPLE = TfdsSource(key="sample", builder="bench_sample", label_lists={"real_label": 8})
SAMPLE_C = TfdsSource(key="sample_c", builder="bench_sample_c")
SAMPLE_C_BAR = TfdsSource(key="sample_c_bar", builder="bench_sample_c_bar")
IMAGE_FOLDER = ImageFolderSource(key="image_folder")

_ACCURACY_AND_CALIBRATION = ("top1", "top5", "ece", "rms_calibration_error")
_SUBSET_METRICS = ("top1", "top5", "top1_1000way", "ece", "rms_calibration_error")

IMAGENET_V2_CONFIGS = ("matched-frequency", "threshold-0.7", "top-images")


def _classification(benchmark_id: str, title: str, builder: str) -> Benchmark:
  return Benchmark(benchmark_id, title, (TfdsSource(key=benchmark_id, builder=builder),),
                   _ACCURACY_AND_CALIBRATION, classification.score_classification)


def _label_space_set(name: str, title: str) -> Benchmark:
  """A set scored over its label space's classes (`label_spaces.get(name)`)."""
  return Benchmark(name, title, (TfdsSource(key=name, builder=f"bench_{name}"),),
                   _SUBSET_METRICS, classification.score_label_space, needs_scores=True,
                   label_space=name, space_scores=(name,))


def _per_class(row: Benchmark) -> Benchmark:
  """``<id>_per_class``: per-class figures of ``row``'s one source (the same
  forward pass, so adding it costs no image; opt-in, never a default)."""
  (source,) = row.sources
  return Benchmark(f"{row.id}_per_class",
                   f"{row.id} per class: top-1/top-5 of each class, balanced and worst-class "
                   "top-1", (source,), breakdown.PER_CLASS_METRICS, breakdown.score_per_class,
                   needs_scores=row.needs_scores, label_space=row.label_space,
                   space_scores=row.space_scores)


def _metaclass(row: Benchmark) -> Benchmark:
  """``<id>_metaclass``: ImageNet-X's metaclass figures of ``row``'s one source."""
  (source,) = row.sources
  return Benchmark(f"{row.id}_metaclass",
                   f"{row.id} per ImageNet-X metaclass (the imagenet-x package or "
                   "--imagenet_x_dir)", (source,), breakdown.METACLASS_METRICS,
                   breakdown.score_metaclass, needs_scores=row.needs_scores,
                   label_space=row.label_space, space_scores=row.space_scores)


def _imagenet_c() -> Benchmark:
  sources = tuple(imagenet_c_source(config) for config in imagenet_c_release.ALL_CONFIGS)
  return Benchmark(
      "imagenet_c", "ImageNet-C: 19 corruptions x 5 severities; mCE and relative mCE vs AlexNet",
      (IMAGENET_VAL,) + sources, imagenet_c.METRICS + ("error/<corruption>",),
      imagenet_c.score_imagenet_c_row)


# The release publishes no normalising errors for C-bar (its baseline pickle,
# experiments/baseline_data/mCE_baseline_imagenet.p, holds AlexNet's
# ImageNet-C errors; its C-bar scripts pass an empty baseline file), so the C-bar
# rows report the mean error over the 10 corruptions, as its test_c_bar.py does,
# and mCE / relative mCE only against a baseline's errors the user gives in
# manual_dir (`scoring.imagenet_c.load_baseline`), never invented ones.
C_BAR_BASELINE_FILE = "imagenet_c_bar_baseline.json"
_C_BAR_OPTIONS = {"corruptions": imagenet_c_bar_release.NAMES,
                  "mean_over": imagenet_c_bar_release.NAMES, "normaliser": "baseline_file",
                  "baseline_file": C_BAR_BASELINE_FILE}
_C_BAR_METRICS = imagenet_c.UNNORMALISED_METRICS + ("mce", "relative_mce",
                                                    "error/<corruption>")


def _imagenet_c_bar() -> Benchmark:
  sources = tuple(imagenet_c_source(config) for config in imagenet_c_bar_release.ALL_CONFIGS)
  return Benchmark(
      "imagenet_c_bar", "ImageNet-C-bar: 10 corruptions x 5 severities dissimilar to "
      f"ImageNet-C's; mean error (mCE with a baseline in --manual_dir/{C_BAR_BASELINE_FILE})",
      (IMAGENET_VAL,) + sources, _C_BAR_METRICS,
      imagenet_c.score_imagenet_c_row, options=_C_BAR_OPTIONS,
      check_inputs=imagenet_c.check_baseline_file)


def _perturbation_sources(builder: str, names: Sequence[str]) -> Tuple[TfdsSource, ...]:
  return tuple(imagenet_p_source(builder, name) for name in names)


def _imagenet_p_available(data: DataOptions) -> bool:
  return imagenet_p_release.has_source_archives(data.manual_dir)


_HUMAN_COMPARISONS = ("error_consistency", "observed_consistency", "accuracy_difference")


def _model_vs_human(dataset: model_vs_human_release.Dataset) -> Benchmark:
  """One model-vs-human dataset: 16-class decisions, vs humans with --human_data."""
  benchmark_id = f"model_vs_human/{dataset.name}"
  metrics = ("accuracy", "accuracy/<condition>")
  humans = ("human_accuracy",) + tuple(f"human_{m}" for m in _HUMAN_COMPARISONS)
  if dataset.name == model_vs_human_release.CUE_CONFLICT:
    metrics += ("shape_bias", "shape_bias/<category>")
    humans += ("human_shape_bias", "human_shape_bias/<category>")
  metrics += _HUMAN_COMPARISONS + tuple(f"{m}/<condition or subject>"
                                        for m in _HUMAN_COMPARISONS) + humans
  return Benchmark(
      benchmark_id, f"model-vs-human {dataset.name}: {dataset.description}, 16 classes "
      "(vs human observers with --human_data)",
      (TfdsSource(key=benchmark_id, builder=f"bench_model_vs_human/{dataset.name}"),),
      metrics, model_vs_human.score_model_vs_human_row, needs_scores=True,
      label_space=model_vs_human.LABEL_SPACE, space_scores=(model_vs_human.LABEL_SPACE,),
      options={"dataset": dataset.name})


# Each OpenOOD figure per score: MSP (every run) and the logit scores (a
# model that outputs logits).
_OPENOOD_METRICS = tuple(f"{figure}_{score}" for score in ("msp",) + LOGIT_OOD_SCORES
                         for figure in openood_metrics.OOD_METRIC_NAMES)


def _openood_source(set_name: str) -> TfdsSource:
  return TfdsSource(key=openood_scoring.SET_BENCHMARKS[set_name],
                    builder=f"bench_openood_{set_name}")


def _openood(benchmark_id: str, title: str, set_names: Sequence[str]) -> Benchmark:
  """An OpenOOD v1.5 row: OpenOOD's 45,000 val images against ``set_names``
  (their figures averaged when there are several, as OpenOOD's near / far)."""
  return Benchmark(
      benchmark_id, title, (IMAGENET_VAL,) + tuple(_openood_source(n) for n in set_names),
      _OPENOOD_METRICS, openood_scoring.score_openood_row, needs_scores=True,
      ood_scores=LOGIT_OOD_SCORES, options={openood_scoring.SETS_OPTION: tuple(set_names)})


def _openood_rows() -> Tuple[Benchmark, ...]:
  rows = []
  for name, spec in openood_lists.OOD_SETS.items():
    rows.append(_openood(
        openood_scoring.SET_BENCHMARKS[name],
        f"OpenOOD v1.5 ImageNet-1k, {spec.group}-OOD {spec.title} ({spec.count:,} images) "
        "vs OpenOOD's 45,000 val images: AUROC, AUPR-In/-Out, FPR@95", (name,)))
  for group, names in openood_scoring.GROUP_SETS.items():
    titles = ", ".join(openood_lists.OOD_SETS[n].title for n in names)
    rows.append(_openood(
        openood_scoring.GROUP_BENCHMARKS[group],
        f"OpenOOD v1.5 ImageNet-1k {group}-OOD: the mean over {titles}", names))
  return tuple(rows)


# ImageNet val top-1 over the classes of ImageNet-A / -R: the x axis timm
# compares A and R with (its *-clean results; tfds_bench.published).
_CLEAN_METRICS = {"imagenet_a": "top1_a_clean", "imagenet_r": "top1_r_clean"}

_MAIN_ROWS: Tuple[Benchmark, ...] = (
    Benchmark("sample", "Sample suite: real photos shipped with our dependencies (offline)",
              # 7 photos: never the 100 images of one RMS calibration bin.
              (SAMPLE,), ("top1", "top5", "real_top1", "real_top5", "ece"),
              classification.score_sample),
    Benchmark("sample_c", "Sample photos under the 19 ImageNet-C corruptions x 5 severities "
                          "(offline)", (SAMPLE, SAMPLE_C),
              imagenet_c.METRICS + ("error/<corruption>",), imagenet_c.score_sample_c),
    Benchmark("sample_c_bar", "Sample photos under the 10 ImageNet-C-bar corruptions x 5 "
                              "severities (offline)", (SAMPLE, SAMPLE_C_BAR), _C_BAR_METRICS,
              imagenet_c.score_sample_c_bar, options=_C_BAR_OPTIONS,
              check_inputs=imagenet_c.check_baseline_file),
    Benchmark("image_folder", "Any folder in ImageNet layout (--image_folder=DIR)",
              (IMAGE_FOLDER,), _ACCURACY_AND_CALIBRATION,
              classification.score_classification),
    Benchmark("imagenet2012", "ImageNet-1k validation set, original labels",
              (IMAGENET_VAL,),
              _ACCURACY_AND_CALIBRATION + tuple(_CLEAN_METRICS.values()),
              classification.score_imagenet_val, space_scores=tuple(_CLEAN_METRICS),
              options={"clean_metrics": _CLEAN_METRICS}),
    Benchmark("imagenet2012_real", "ImageNet val with ReaL labels (46,837 images with a label)",
              (IMAGENET_VAL,), ("top1", "top5", "soft_top1", "top1_at_threshold/<t>"),
              classification.score_real),
    Benchmark("imagenet2012_multilabel",
              "ImageNet val, multi-label annotations of 20,000 images (Shankar et al. 2020)",
              (IMAGENET_VAL,), ("top1", "top1_image_mean", "top1_correct_only"),
              classification.score_multilabel),
    *(_classification(f"imagenet_v2/{config}", f"ImageNetV2 {config} (10,000 new test images)",
                      f"bench_imagenet_v2/{config}") for config in IMAGENET_V2_CONFIGS),
    _classification("imagenet_sketch", "ImageNet-Sketch: 50,889 black-and-white sketches",
                    "bench_imagenet_sketch"),
    _label_space_set("imagenet_a", "ImageNet-A: 7,500 natural adversarial examples, 200 classes"),
    _label_space_set("imagenet_r",
                     "ImageNet-R: 30,000 renditions (art, cartoons, ...), 200 classes"),
    Benchmark("imagenet_o", "ImageNet-O: out-of-distribution detection (2,000 O images vs "
                            "ImageNet val of the 200 classes)",
              (TfdsSource(key="imagenet_o", builder="bench_imagenet_o"), IMAGENET_VAL),
              ("aupr", "auroc"), classification.score_imagenet_o, needs_scores=True,
              label_space="imagenet_o", space_scores=("imagenet_o",)),
    Benchmark("objectnet", "ObjectNet 1.0: 113 classes overlapping ImageNet-1k, controlled "
                           "rotation, background and viewpoint",
              (TfdsSource(key="objectnet", builder="bench_objectnet"),), ("top1", "top5"),
              classification.score_mapped_top5, label_space="objectnet"),
    _imagenet_c(),
    _imagenet_c_bar(),
    Benchmark("imagenet_p", "ImageNet-P: 14 perturbation sequences; flip probability, top-5 "
                            "distance, mFP / mT5D (AlexNet-normalised only when its values "
                            "are given)",
              _perturbation_sources(imagenet_p_release.BUILDER_NAME, imagenet_p_release.NAMES),
              imagenet_p.METRICS, imagenet_p.score_imagenet_p_row,
              check_inputs=imagenet_p.check_alexnet_file,
              offline_fallback=OfflineFallback(
                  "sample_p", _imagenet_p_available,
                  "no ImageNet-P archive nor "
                  f"{release_common.VAL_ARCHIVE_NAME} in --manual_dir")),
    Benchmark("sample_p", "ImageNet-P-style sequences of 3 sample photos, 10 test "
                          "perturbations (offline)",
              _perturbation_sources(imagenet_p_release.SAMPLE_BUILDER_NAME,
                                    imagenet_p_release.TEST_NAMES),
              imagenet_p.METRICS, imagenet_p.score_imagenet_p_row,
              check_inputs=imagenet_p.check_alexnet_file),
    *(_model_vs_human(dataset) for dataset in model_vs_human_release.DATASETS),
    *_openood_rows(),
)

# Where a model fails (tfds_bench.scoring.breakdown), on the forward passes
# the rows above already make.
_PER_CLASS_OF = ("image_folder", *(f"imagenet_v2/{c}" for c in IMAGENET_V2_CONFIGS),
                 "imagenet_sketch", "imagenet_a", "imagenet_r", "objectnet")
_BY_ID = {b.id: b for b in _MAIN_ROWS}
BENCHMARKS: Tuple[Benchmark, ...] = _MAIN_ROWS + (
    Benchmark("imagenet2012_per_class", "ImageNet val per class: top-1/top-5 of each class, "
                                        "balanced and worst-class top-1",
              (IMAGENET_VAL,), breakdown.PER_CLASS_METRICS, breakdown.score_per_class),
    *(_per_class(_BY_ID[b]) for b in _PER_CLASS_OF),
    *(_metaclass(_BY_ID[b]) for b in _PER_CLASS_OF),
    Benchmark("imagenet_x", "ImageNet-X on val: error ratio of 16 factors of variation, "
                            "17 metaclasses (the imagenet-x package or --imagenet_x_dir)",
              (IMAGENET_VAL,), breakdown.IMAGENET_X_METRICS, breakdown.score_imagenet_x),
)

DEFAULT_OFFLINE = ("sample", "sample_c")


def check_row_inputs(rows: Sequence[Benchmark], manual_dir: Optional[str]) -> None:
  """Each row's `check_inputs` (the files its scorer will read from
  manual_dir), before any forward pass: a bad file ends the run now, not
  after it (when scoring raised, the forward passes were lost)."""
  options = ScoringOptions(manual_dir=manual_dir)
  for row in rows:
    if row.check_inputs is not None:
      row.check_inputs(ScoringContext(row, options))


def by_id() -> Dict[str, Benchmark]:
  return {b.id: b for b in BENCHMARKS}


def get(benchmark_id: str) -> Benchmark:
  table = by_id()
  if benchmark_id not in table:
    raise errors.UserError(
        f"unknown benchmark {benchmark_id!r}; known: {', '.join(table)} (see --list)")
  return table[benchmark_id]


def resolve(benchmark_ids: Sequence[str], data: DataOptions
            ) -> Tuple[List[Benchmark], List[str]]:
  """The rows to run for ``benchmark_ids``, with offline fallbacks applied.

  A row whose data cannot be had is replaced by its fallback row (run once,
  reported under the fallback's own id, never the original's).

  Returns:
    (rows in order, one notice per fallback taken).
  """
  chosen: List[Benchmark] = []
  notices: List[str] = []
  for benchmark_id in benchmark_ids:
    row = get(benchmark_id)
    fallback = row.offline_fallback
    if fallback is not None and not fallback.available(data):
      notices.append(f"{fallback.reason}: running {fallback.benchmark_id} instead of {row.id}")
      row = get(fallback.benchmark_id)
    if row.id not in {b.id for b in chosen}:
      chosen.append(row)
  return chosen, notices


def _check_table() -> None:
  ids = [b.id for b in BENCHMARKS]
  duplicates = sorted({i for i in ids if ids.count(i) > 1})
  if duplicates:
    raise RuntimeError(f"duplicate benchmark ids in the table: {duplicates}")


_check_table()
