"""ImageNet-P: frames as examples, the builders' sources, the scorer.

Perturbation fidelity is tested in test_corruptions_perturbations.py.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import PIL.Image
import pytest
import skimage.color
import skimage.filters
import tensorflow_datasets as tfds

from tfds_bench import benchmark_table
from tfds_bench import errors
from tfds_bench import metrics
from tfds_bench import sources as sources_lib
from tfds_bench.benchmark_types import Benchmark, ScoringContext, ScoringOptions
from tfds_bench.release import common
from tfds_bench.release import imagenet_p
from tfds_bench.scoring import imagenet_p as imagenet_p_scoring
from tfds_bench.corruptions import perturbations
from tfds_bench.builders.bench_imagenet_p import bench_imagenet_p_dataset_builder
from tfds_bench.builders.bench_sample.bench_sample_dataset_builder import PHOTOS
from tfds_bench.builders.bench_sample.bench_sample_dataset_builder import read_photo
from tfds_bench.predictions import Predictions


# --- frames as examples, video regrouping ----------------------------------------

def test_frame_file_names_round_trip():
  name = imagenet_p.frame_file_name("ILSVRC2012_val_00000007", 3)
  assert name == "ILSVRC2012_val_00000007/003"
  assert imagenet_p.parse_frame_file_name(name) == ("ILSVRC2012_val_00000007", 3)
  with pytest.raises(ValueError):
    imagenet_p.parse_frame_file_name("ILSVRC2012_val_00000007.JPEG")


def _predictions(videos_top5: dict, order=None) -> Predictions:
  """Per-frame Predictions from {video_id: top5 [F, 5]}, rows in `order`."""
  names, top5 = [], []
  for video_id, frames in videos_top5.items():
    for f, row in enumerate(frames):
      names.append(imagenet_p.frame_file_name(video_id, f))
      top5.append(row)
  rows = np.arange(len(names)) if order is None else np.asarray(order)
  n = len(names)
  return Predictions(file_name=np.array(names)[rows], label=np.full(n, -1),
                     top5=np.array(top5, np.int64)[rows],
                     confidence=np.full(n, np.nan))


def _top5(top1_sequence, swap_at=()):
  """[F, 5] top-5 rows with the given top-1; rows in `swap_at` swap ranks 1-2."""
  rows = []
  for f, c in enumerate(top1_sequence):
    row = [c] + [k for k in range(100, 104)]
    if f in swap_at:
      row[1], row[2] = row[2], row[1]
    rows.append(row)
  return rows


def test_videos_are_regrouped_from_shuffled_frames():
  p = _predictions({"b": _top5([1, 2, 3]), "a": _top5([4, 5, 6])},
                   order=[5, 0, 3, 2, 4, 1])
  top1, top5 = imagenet_p_scoring.videos_from_predictions(p)
  np.testing.assert_array_equal(top1, [[4, 5, 6], [1, 2, 3]])
  assert top5.shape == (2, 3, 5)


def test_videos_with_missing_frames_or_bad_names_are_refused():
  p = _predictions({"a": _top5([1, 2, 3]), "b": _top5([1, 2])})
  with pytest.raises(errors.UserError, match="differ in length"):
    imagenet_p_scoring.videos_from_predictions(p)
  p = _predictions({"a": _top5([1, 2, 3])}).select(np.array([0, 2]))
  with pytest.raises(errors.UserError, match="lacks frames"):
    imagenet_p_scoring.videos_from_predictions(p)
  bad = dataclasses.replace(p, file_name=np.array(["x.JPEG", "y.JPEG"]))
  with pytest.raises(errors.UserError, match="not an ImageNet-P frame"):
    imagenet_p_scoring.videos_from_predictions(bad)


# --- scorer ---------------------------------------------------------------------

def _metric(results, name):
  (value,) = [r.value for r in results if r.metric == name]
  return value


def test_score_on_a_hand_made_fixture():
  # Noise: every frame vs frame 0. Video a: [1, 1, 2, 1] -> flips 0, 1, 0 =
  # 1/3; video b: no flip. FP = (1/3 + 0) / 2 = 1/6.
  # Non-noise: consecutive frames. a: [1, 2, 2, 1] -> 1, 0, 1 = 2/3;
  # b: [5, 5, 5, 6] -> 0, 0, 1 = 1/3. FP = 1/2.
  # Top-5 distance: swapping ranks 1 and 2 costs |1 - 2| + |2 - 1| = 2.
  noise = {"a": _top5([1, 1, 2, 1]), "b": _top5([3, 3, 3, 3], swap_at=(2,))}
  other = {"a": _top5([1, 2, 2, 1]), "b": _top5([5, 5, 5, 6], swap_at=(1,))}
  by_perturbation = {
      "gaussian_noise": imagenet_p_scoring.videos_from_predictions(_predictions(noise)),
      "rotate": imagenet_p_scoring.videos_from_predictions(_predictions(other, [7, 6, 5, 4, 3, 2, 1, 0])),
  }
  results = imagenet_p_scoring.score_imagenet_p(by_perturbation)
  assert _metric(results, "flip_probability/gaussian_noise") == pytest.approx(1 / 6)
  assert _metric(results, "flip_probability/rotate") == pytest.approx(1 / 2)
  for name, (top1, top5) in by_perturbation.items():
    assert _metric(results, f"flip_probability/{name}") == pytest.approx(
        metrics.flip_probability(top1, name))
    assert _metric(results, f"top5_distance/{name}") == pytest.approx(
        metrics.perturbation.top5_distance(top5, name))
  # Noise, video b: frames 1..3 vs frame 0; only frame 2 is swapped: 2/3.
  # Video a: the top-1 changes at frame 2 (class 2 replaces 1 at rank 1;
  # class 1 falls out of the top-5): |0 - 5| + 0 = 5, mean 5/3.
  assert _metric(results, "top5_distance/gaussian_noise") == pytest.approx((5 / 3 + 2 / 3) / 2)
  assert {r.n for r in results} == {2}
  # Fewer than the 10 test perturbations: no means at all.
  assert not {r.metric for r in results} & {"mfp", "mean_flip_probability"}


def test_imagenet_p_scoring_reports_progress_with_a_total():
  displays = []

  def factory(description, total):
    display = [description, total, 0]
    displays.append(display)
    return (lambda n: display.__setitem__(2, display[2] + n)), (lambda: None)

  names = ["gaussian_noise", "shot_noise"]
  videos = {"v1": _top5([1, 1, 2]), "v2": _top5([3, 3, 3])}
  row = Benchmark("imagenet_p", "two perturbations",
                  tuple(sources_lib.imagenet_p_source("bench_imagenet_p", n) for n in names),
                  imagenet_p_scoring.METRICS, imagenet_p_scoring.score_imagenet_p_row)
  imagenet_p_scoring.score_imagenet_p_row(
      [_predictions(videos)] * 2, ScoringContext(row, ScoringOptions(progress_factory=factory)))
  assert displays == [["imagenet_p: scoring steps", 4, 4]]


def test_mfp_is_normalised_only_with_alexnet_values():
  rng = np.random.default_rng(6)
  by_perturbation = {}
  for name in imagenet_p.TEST_NAMES:
    top5 = np.stack([np.stack([rng.permutation(8)[:5] for _ in range(31)]) for _ in range(3)])
    by_perturbation[name] = (top5[..., 0], top5)
  plain = imagenet_p_scoring.score_imagenet_p(by_perturbation)
  names = {r.metric for r in plain}
  assert "mfp" not in names and "mt5d" not in names
  fp = {p: _metric(plain, f"flip_probability/{p}") for p in imagenet_p.TEST_NAMES}
  t5d = {p: _metric(plain, f"top5_distance/{p}") for p in imagenet_p.TEST_NAMES}
  assert _metric(plain, "mean_flip_probability") == pytest.approx(np.mean(list(fp.values())))
  assert _metric(plain, "mean_top5_distance") == pytest.approx(np.mean(list(t5d.values())))
  alexnet_fp = {p: 0.1 * (k + 1) for k, p in enumerate(imagenet_p.TEST_NAMES)}
  alexnet_t5d = {p: 1.0 + k for k, p in enumerate(imagenet_p.TEST_NAMES)}
  normalised = imagenet_p_scoring.score_imagenet_p(by_perturbation, alexnet_fp, alexnet_t5d)
  assert _metric(normalised, "mfp") == pytest.approx(metrics.mfp(fp, alexnet_fp))
  assert _metric(normalised, "mt5d") == pytest.approx(metrics.mt5d(t5d, alexnet_t5d))
  assert _metric(normalised, "mfp") == pytest.approx(
      np.mean([fp[p] / alexnet_fp[p] for p in imagenet_p.TEST_NAMES]))
  assert {r.n for r in normalised if r.metric == "mfp"} == {30}


def test_benchmark_scorer_reads_alexnet_values_from_manual_dir(tmp_path):
  sources = benchmark_table.get("imagenet_p").sources
  assert [s.builder for s in sources][:2] == ["bench_imagenet_p/gaussian_noise",
                                              "bench_imagenet_p/shot_noise"]
  predictions = [_predictions({"a": _top5([1, 1, 2, 1] * 8)[:31]})
                 for _ in imagenet_p.TEST_NAMES]
  row = dataclasses.replace(benchmark_table.get("imagenet_p"), sources=tuple(
      s for s in sources if s.perturbation in imagenet_p.TEST_NAMES))

  def score(predictions, options):
    return imagenet_p_scoring.score_imagenet_p_row(predictions, ScoringContext(row, options))

  plain = score(predictions, ScoringOptions(manual_dir=str(tmp_path)))
  assert "mfp" not in {r.metric for r in plain}
  table = {"flip_probability": {p: 0.5 for p in imagenet_p.TEST_NAMES},
           "top5_distance": {p: 2.0 for p in imagenet_p.TEST_NAMES}}
  (tmp_path / imagenet_p_scoring.ALEXNET_FILE).write_text(json.dumps(table))
  normalised = score(predictions, ScoringOptions(manual_dir=str(tmp_path)))
  assert _metric(normalised, "mfp") == pytest.approx(
      2 * _metric(normalised, "mean_flip_probability"))


# --- builders: sample (offline) and generated, via tfds.load ----------------------

def test_sample_builder_loads_with_tfds(tmp_path):
  resized = common.resize_array(read_photo(PHOTOS[0]))
  rotate = perturbations.sequence(resized, "rotate", seed=0).numpy()
  dataset = tfds.load("bench_sample_p/rotate", split="test", data_dir=str(tmp_path))
  examples = list(tfds.as_numpy(dataset))
  assert len(examples) == 3 * 31
  first = examples[0]
  assert first["file_name"].decode() == "chelsea/000"
  assert first["label"] == PHOTOS[0].label
  # PNG is lossless: the stored frames are exactly the perturbation's output.
  for example in examples[:31]:
    np.testing.assert_array_equal(example["image"], rotate[example["frame"]])


def test_missing_sources_error_names_both(tmp_path):
  builder = tfds.builder("bench_imagenet_p/rotate", data_dir=str(tmp_path / "data"))
  (tmp_path / "manual").mkdir()
  with pytest.raises(errors.MissingArchiveError) as raised:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(tmp_path / "manual")))
  message = str(raised.value)
  assert "digital.tar" in message and "ILSVRC2012_img_val.tar" in message
  assert "tfds_bench[video]" in message


def test_builder_configs_carry_their_perturbation():
  configs = bench_imagenet_p_dataset_builder.Builder.BUILDER_CONFIGS
  assert [c.perturbation for c in configs] == list(imagenet_p.NAMES)
  assert all(c.name == c.perturbation for c in configs)


def test_has_source_archives(tmp_path):
  assert not imagenet_p.has_source_archives(None)
  assert not imagenet_p.has_source_archives(str(tmp_path))
  (tmp_path / "digital.tar").write_bytes(b"")
  assert imagenet_p.has_source_archives(str(tmp_path))


def test_decode_video_without_pyav_names_the_extra(monkeypatch):
  import builtins  # pylint: disable=g-import-not-at-top
  real_import = builtins.__import__

  def no_av(name, *args, **kwargs):
    if name == "av":
      raise ImportError("No module named 'av'")
    return real_import(name, *args, **kwargs)

  monkeypatch.setattr(builtins, "__import__", no_av)
  with pytest.raises(errors.UserError, match=r'pip install "tfds_bench\[video\]"'):
    list(imagenet_p.decode_video(b"not a video"))


def test_sample_p_benchmark_end_to_end(tmp_path, monkeypatch):
  """The proposed `sample_p` row, on two perturbations, through evaluate()."""
  from tfds_bench import evaluate  # pylint: disable=g-import-not-at-top
  names = ("gaussian_noise", "translate")
  sources = tuple(sources_lib.imagenet_p_source("bench_sample_p", name) for name in names)
  row = Benchmark(
      "sample_p", "ImageNet-P sequences of sample photos (offline)", sources,
      imagenet_p_scoring.METRICS, imagenet_p_scoring.score_imagenet_p_row)
  monkeypatch.setattr(benchmark_table, "BENCHMARKS", tuple(
      b for b in benchmark_table.BENCHMARKS if b.id != "sample_p") + (row,))
  run = evaluate.evaluate("efficientnet", ["sample_p"],
                          data=evaluate.DataOptions(data_dir=str(tmp_path)))
  values = {r.metric: r for r in run.results}
  for name in names:
    # Every frame of the prepared config was predicted, in video order.
    builder = tfds.builder(f"bench_sample_p/{name}", data_dir=str(tmp_path))
    frames = sorted(ex["file_name"].decode() for ex in tfds.as_numpy(builder.as_dataset(
        split="test", decoders={"image": tfds.decode.SkipDecoding()})))
    (predicted,) = [p for key, p in run.predictions.items() if name in key]
    assert sorted(predicted.file_name.tolist()) == frames
    videos = _release_videos(predicted)
    assert len(videos) == 3
    expected_flip, expected_top5 = _release_stability(videos, noise="noise" in name)
    assert values[f"flip_probability/{name}"].n == 3
    assert values[f"flip_probability/{name}"].value == pytest.approx(expected_flip, abs=1e-12)
    assert values[f"top5_distance/{name}"].n == 3
    assert values[f"top5_distance/{name}"].value == pytest.approx(expected_top5, abs=1e-12)


def _release_videos(predicted):
  """video id -> top-5 rows [frames, 5] in frame order, from file names
  `<video_id>/<frame:03d>` parsed here."""
  rows = {}
  for file_name, top5 in zip(predicted.file_name.tolist(), predicted.top5):
    video_id, frame = file_name.rsplit("/", 1)
    rows.setdefault(video_id, {})[int(frame)] = top5
  return {video: np.array([frames[i] for i in range(len(frames))])
          for video, frames in rows.items()}


def _release_stability(videos, noise):
  """Flip probability and top-5 distance at difficulty 1, as ImageNet-P/test.py
  (hendrycks/robustness) computes them, written out as loops: noise compares
  each frame with frame 0, the others each frame with the one before; the
  top-5 distance of frames (1, 2) sums, over the ranks r < 5 of frame 1,
  |r - min(rank of that class in frame 2, 5)| (the release's
  cum_sum_top5 on the 1-based ranks; a class outside frame 2's top 5 counts 5)."""
  flips, distances = [], []
  for top5 in videos.values():
    video_flips, video_distances = [], []
    previous = top5[0]
    for current in top5[1:]:
      video_flips.append(int(previous[0] != current[0]))
      total = 0
      for rank, cls in enumerate(previous):
        later = list(current).index(cls) if cls in current else 5
        total += abs(rank - min(later, 5))
      video_distances.append(total)
      if not noise:
        previous = current
    flips.append(np.mean(video_flips))
    distances.append(np.mean(video_distances))
  return float(np.mean(flips)), float(np.mean(distances))
