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

from typing import Dict, List, Sequence, Tuple

from tfds_bench import errors
from tfds_bench.benchmark_types import Benchmark, OfflineFallback
from tfds_bench.release import common as release_common
from tfds_bench.release import imagenet_c as imagenet_c_release
from tfds_bench.release import imagenet_p as imagenet_p_release
from tfds_bench.scoring import classification, imagenet_c, imagenet_p
from tfds_bench.sources import (IMAGENET_VAL, DataOptions, ImageFolderSource, TfdsSource,
                                imagenet_c_source, imagenet_p_source)

SAMPLE = TfdsSource(key="sample", builder="bench_sample", label_lists={"real_label": 8})
SAMPLE_C = TfdsSource(key="sample_c", builder="bench_sample_c")
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


def _imagenet_c() -> Benchmark:
  sources = tuple(imagenet_c_source(config) for config in imagenet_c_release.ALL_CONFIGS)
  return Benchmark(
      "imagenet_c", "ImageNet-C: 19 corruptions x 5 severities; mCE and relative mCE vs AlexNet",
      (IMAGENET_VAL,) + sources, imagenet_c.METRICS + ("error/<corruption>",),
      imagenet_c.score_imagenet_c_row)


def _perturbation_sources(builder: str, names: Sequence[str]) -> Tuple[TfdsSource, ...]:
  return tuple(imagenet_p_source(builder, name) for name in names)


def _imagenet_p_available(data: DataOptions) -> bool:
  return imagenet_p_release.has_source_archives(data.manual_dir)


# ImageNet val top-1 over the classes of ImageNet-A / -R: the x axis timm
# compares A and R with (its *-clean results; tfds_bench.published).
_CLEAN_METRICS = {"imagenet_a": "top1_a_clean", "imagenet_r": "top1_r_clean"}

BENCHMARKS: Tuple[Benchmark, ...] = (
    Benchmark("sample", "Sample suite: real photos shipped with our dependencies (offline)",
              (SAMPLE,), ("top1", "top5", "real_top1", "real_top5", "ece",
                          "rms_calibration_error"), classification.score_sample),
    Benchmark("sample_c", "Sample photos under the 19 ImageNet-C corruptions x 5 severities "
                          "(offline)", (SAMPLE, SAMPLE_C),
              ("mce", "relative_mce", "clean_error", "error/<corruption>"),
              imagenet_c.score_sample_c),
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
    Benchmark("imagenet_p", "ImageNet-P: 14 perturbation sequences; flip probability, top-5 "
                            "distance, mFP / mT5D (AlexNet-normalised only when its values "
                            "are given)",
              _perturbation_sources(imagenet_p_release.BUILDER_NAME, imagenet_p_release.NAMES),
              imagenet_p.METRICS, imagenet_p.score_imagenet_p_row,
              offline_fallback=OfflineFallback(
                  "sample_p", _imagenet_p_available,
                  "no ImageNet-P archive nor "
                  f"{release_common.VAL_ARCHIVE_NAME} in --manual_dir")),
    Benchmark("sample_p", "ImageNet-P-style sequences of 3 sample photos, 10 test "
                          "perturbations (offline)",
              _perturbation_sources(imagenet_p_release.SAMPLE_BUILDER_NAME,
                                    imagenet_p_release.TEST_NAMES),
              imagenet_p.METRICS, imagenet_p.score_imagenet_p_row),
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
