"""ImageNet-P: perturbation fidelity, sequences, the builders' sources, the scorer.

Fidelity: each perturbation is compared with the reference's own code
(hendrycks/robustness `ImageNet-P/create_p/make_imagenet_p.py`), transcribed
here in a few lines per perturbation, given the same random draws (injected
through the private `_*_from_draws` functions), and through the reference's
own libraries where they are installed (Pillow for torchvision 0.2.1's
`F.affine`, scikit-image for brightness and gaussian_blur). OpenCV and
ImageMagick are not installed: tilt is checked against a float bilinear
warp (within one level), motion blur and snow's blur are the ImageNet-C
engine's approximation (checked there).
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

from tfds_bench import benchmarks
from tfds_bench import errors
from tfds_bench import imagenet_p
from tfds_bench import metrics
from tfds_bench import perturbations
from tfds_bench.builders.bench_sample.bench_sample_dataset_builder import PHOTOS
from tfds_bench.builders.bench_sample.bench_sample_dataset_builder import read_photo
from tfds_bench.predictions import Predictions


@pytest.fixture(scope="module")
def resized() -> np.ndarray:
  """chelsea, Resize(256) as the release: 256 x 384 (not square: crop offsets)."""
  return imagenet_p.resize_shorter_side(read_photo(PHOTOS[0]))


def _crop(image: np.ndarray) -> np.ndarray:
  """torchvision CenterCrop(224) (round half to even)."""
  h, w = image.shape[:2]
  top, left = int(round((h - 224) / 2.)), int(round((w - 224) / 2.))
  return image[top:top + 224, left:left + 224]


@pytest.fixture(scope="module")
def sequences(resized):
  """Every perturbation's sequence of `resized` at seed 0 (computed once)."""
  return {name: perturbations.sequence(resized, name, seed=0).numpy()
          for name in perturbations.NAMES}


# --- shapes, frame counts, determinism --------------------------------------

def test_names_and_frame_counts_are_the_release():
  assert perturbations.NAMES == metrics.perturbation.ALL_PERTURBATIONS
  assert len(perturbations.NAMES) == 14
  for name in perturbations.NAMES:
    assert perturbations.num_frames(name) == (41 if name == "translate" else 31)
  with pytest.raises(ValueError, match="unknown perturbation"):
    perturbations.num_frames("fog")


def test_every_sequence_has_its_frames_and_shape(sequences):
  for name, frames in sequences.items():
    assert frames.shape == (perturbations.num_frames(name), 224, 224, 3), name
    assert frames.dtype == np.uint8
    # A sequence changes from frame to frame (none is stuck on one image).
    assert len({f.tobytes() for f in frames}) > frames.shape[0] // 2, name


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "speckle_noise",
                                  "snow", "spatter"])
def test_random_sequences_are_deterministic_per_seed(resized, sequences, name):
  again = perturbations.sequence(resized, name, seed=0).numpy()
  np.testing.assert_array_equal(again, sequences[name])
  if name in ("gaussian_noise", "snow"):  # The cheap ones: another seed differs.
    other = perturbations.sequence(resized, name, seed=1).numpy()
    assert not np.array_equal(other, sequences[name])


def test_noise_sequences_start_with_the_clean_crop(resized, sequences):
  for name in perturbations.NOISE_NAMES:
    np.testing.assert_array_equal(sequences[name][0], _crop(resized))


def test_noise_difficulty_selects_the_strength_and_others_refuse_it(resized):
  d1 = perturbations.sequence(resized, "gaussian_noise", difficulty=1).numpy()
  d3 = perturbations.sequence(resized, "gaussian_noise", difficulty=3).numpy()
  crop = _crop(resized).astype(int)
  assert np.abs(d3[1:] - crop).mean() > 2 * np.abs(d1[1:] - crop).mean()
  with pytest.raises(ValueError, match="frame step"):
    perturbations.sequence(resized, "rotate", difficulty=2)


def test_input_checks(resized):
  with pytest.raises(ValueError, match="224"):
    perturbations.sequence(resized[:200], "rotate")
  with pytest.raises(TypeError, match="uint8"):
    perturbations.sequence(resized.astype(np.float32), "rotate")


# --- fidelity: noise, given the reference's draws ------------------------------

def test_gaussian_noise_is_the_reference_given_its_draws(resized):
  crop = _crop(resized)
  normals = np.random.default_rng(1).standard_normal((30, 224, 224, 3)).astype(np.float32)
  ours = perturbations._gaussian_noise_from_draws(crop, normals, 0.03).numpy()
  # Reference (torch, float32): ToTensor, + 0.03 * randn, clamp, ToPILImage
  # (mul(255).byte()).
  x = crop.astype(np.float32) / np.float32(255)
  z = np.clip(x + np.float32(0.03) * normals, 0, 1)
  reference = (z * np.float32(255)).astype(np.uint8)
  np.testing.assert_array_equal(ours[0], crop)
  np.testing.assert_array_equal(ours[1:], reference)


def test_shot_noise_is_the_reference_given_its_draws(resized):
  crop = _crop(resized)
  rng = np.random.default_rng(2)
  x = np.array(crop, copy=True) / 255.
  counts = rng.poisson(x * 300, size=(30,) + x.shape)
  ours = perturbations._shot_noise_from_draws(crop, counts, 300).numpy()
  reference = np.uint8(255 * np.clip(counts / 300., 0, 1))
  np.testing.assert_array_equal(ours[1:], reference)


def test_shot_noise_sampler_has_the_poisson_statistics(sequences, resized):
  # The alias-method sampler against numpy's Poisson: same mean and spread.
  crop = _crop(resized)
  ours = sequences["shot_noise"][1:].astype(np.float64)
  counts = np.random.default_rng(3).poisson(crop / 255. * 300, size=(30,) + crop.shape)
  reference = np.uint8(255 * np.clip(counts / 300., 0, 1)).astype(np.float64)
  assert abs(ours.mean() - reference.mean()) < 0.05
  assert abs(ours.std(axis=0).mean() - reference.std(axis=0).mean()) < 0.05


def test_speckle_noise_is_the_reference_given_its_draws(resized):
  crop = _crop(resized)
  noise = np.random.default_rng(4).normal(size=(30,) + crop.shape, scale=0.05)
  ours = perturbations._speckle_noise_from_draws(crop, noise).numpy()
  x = np.array(crop) / 255.
  reference = np.uint8(255 * np.clip(x + x * noise, 0, 1))
  np.testing.assert_array_equal(ours[1:], reference)


# --- fidelity: geometry (torchvision 0.2.1 F.affine = Pillow AFFINE) -------------

def _torchvision_021_affine(img: PIL.Image.Image, angle=0, translate=(0, 0),
                            scale=1.0, shear=0, resample=PIL.Image.NEAREST):
  """torchvision 0.2.1 `F.affine` / `_get_inverse_affine_matrix`, transcribed."""
  center = (img.size[0] * 0.5 + 0.5, img.size[1] * 0.5 + 0.5)
  angle, shear, scale = math.radians(angle), math.radians(shear), 1.0 / scale
  d = math.cos(angle + shear) * math.cos(angle) + math.sin(angle + shear) * math.sin(angle)
  matrix = [math.cos(angle + shear), math.sin(angle + shear), 0,
            -math.sin(angle), math.cos(angle), 0]
  matrix = [scale / d * m for m in matrix]
  matrix[2] += matrix[0] * (-center[0] - translate[0]) + matrix[1] * (-center[1] - translate[1])
  matrix[5] += matrix[3] * (-center[0] - translate[0]) + matrix[4] * (-center[1] - translate[1])
  matrix[2] += center[0]
  matrix[5] += center[1]
  return img.transform(img.size, PIL.Image.AFFINE, matrix, resample)


def _reference_geometric(resized: np.ndarray, name: str) -> np.ndarray:
  """make_imagenet_p.py's translate / rotate / scale / shear frames."""
  img = PIL.Image.fromarray(resized)
  bilinear = PIL.Image.BILINEAR
  if name == "translate":
    frames = [_torchvision_021_affine(img, translate=(i - 20, 0)) for i in range(41)]
  elif name == "rotate":
    frames = [_torchvision_021_affine(img, angle=i - 15, resample=bilinear) for i in range(31)]
  elif name == "scale":
    frames = [_torchvision_021_affine(img, scale=(i * 2.5 + 40) / 100., resample=bilinear)
              for i in range(31)]
  else:
    frames = [_torchvision_021_affine(img, shear=i - 15, resample=bilinear) for i in range(31)]
  return np.stack([_crop(np.asarray(f)) for f in frames])


@pytest.mark.parametrize("name", ["translate", "rotate", "scale", "shear"])
def test_affine_perturbations_are_bit_identical_to_pillow(resized, sequences, name):
  np.testing.assert_array_equal(sequences[name], _reference_geometric(resized, name))


def test_zoom_blur_is_the_reference(resized, sequences):
  img = PIL.Image.fromarray(resized)
  to_tensor = lambda a: np.asarray(a, np.float32) / np.float32(255)
  avg = to_tensor(_crop(resized))
  reference = [_crop(resized)]
  for i in range(1, 31):
    z = _crop(np.asarray(_torchvision_021_affine(img, scale=1 + 0.004 * i,
                                                 resample=PIL.Image.BILINEAR)))
    avg += to_tensor(z)
    reference.append((avg / np.float32(i + 1) * np.float32(255)).astype(np.uint8))
  np.testing.assert_array_equal(sequences["zoom_blur"], np.stack(reference))


def test_tilt_is_the_perspective_warp(resized, sequences):
  # No OpenCV here: compare with a float bilinear warpPerspective (inverse
  # map, zero border) at source coordinates rounded to 1/32 pixel as OpenCV
  # does; its 15-bit fixed-point weights then differ by <= 1 level.
  h, w = resized.shape[:2]
  top, left = int(round((h - 224) / 2.)), int(round((w - 224) / 2.))
  ys, xs = np.mgrid[top:top + 224, left:left + 224].astype(np.float64)
  padded = np.pad(resized.astype(np.float64), ((1, 2), (1, 2), (0, 0)))
  worst, mismatched = 0, 0.0
  for i in (0, 8, 15, 30):
    inverse = np.linalg.inv(perturbations.tilt_matrix(w, h, i - 15))
    src = inverse @ np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    sx, sy = np.rint(src[:2] / src[2] * 32).reshape(2, 224, 224) / 32
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    valid = ((x0 >= -1) & (x0 < w) & (y0 >= -1) & (y0 < h))[..., None]
    x0, y0 = np.clip(x0, -1, w - 1) + 1, np.clip(y0, -1, h - 1) + 1
    value = ((1 - fy) * ((1 - fx) * padded[y0, x0] + fx * padded[y0, x0 + 1])
             + fy * ((1 - fx) * padded[y0 + 1, x0] + fx * padded[y0 + 1, x0 + 1]))
    value = np.where(valid, value, 0.)
    diff = np.abs(np.round(value) - sequences["tilt"][i])
    inner = diff[2:-2, 2:-2]
    worst = max(worst, inner.max())
    mismatched = max(mismatched, (inner > 0).mean())
  assert worst <= 1, worst
  assert mismatched < 0.02, mismatched


# --- fidelity: photometric -------------------------------------------------------

def test_brightness_is_the_reference(resized, sequences):
  x = _crop(resized)
  reference = []
  for i in range(31):
    # make_imagenet_p.py `brightness(_x, c)` with skimage.color.
    z = np.array(x, copy=True) / 255.
    z = skimage.color.rgb2hsv(z)
    z[:, :, 2] = np.clip(z[:, :, 2] + (i - 15) * 2 / 100., 0, 1)
    z = skimage.color.hsv2rgb(z)
    reference.append(np.uint8(z * 255))
  diff = np.abs(sequences["brightness"].astype(int) - np.stack(reference))
  assert diff.max() <= 1
  assert (diff > 0).mean() < 1e-4


def test_gaussian_blur_is_the_reference(resized, sequences):
  x = _crop(resized)
  mismatched = 0.0
  for i in (0, 10, 30):
    # skimage `gaussian(..., multichannel=True, truncate=6.0)` (channel_axis now).
    reference = np.uint8(255 * skimage.filters.gaussian(
        np.array(x, copy=True) / 255., sigma=0.25 + 0.035 * i, channel_axis=-1,
        truncate=6.0))
    diff = np.abs(sequences["gaussian_blur"][i].astype(int) - reference)
    assert diff.max() <= 1
    mismatched = max(mismatched, (diff > 0).mean())
  assert mismatched < 1e-3


def test_motion_blur_frames_are_the_engine_at_the_reference_angles(resized, sequences):
  from tfds_bench.corruptions import noise_blur  # pylint: disable=g-import-not-at-top
  crop = _crop(resized)
  for i in (0, 22, 30):  # angle (i - 30) * 4
    expected = noise_blur._motion_blur_from_draws(crop[None], 1, np.array([(i - 30) * 4.]))
    np.testing.assert_array_equal(sequences["motion_blur"][i], expected.numpy()[0])


def test_snow_blend_is_the_reference_where_there_is_no_snow(resized):
  # Normals so low that no snow survives the threshold: only the blend is left.
  ours = perturbations._snow_from_draws(resized, np.full((224, 224), -10.)).numpy()
  x = np.array(_crop(resized)) / 255.
  gray = (np.float32(x) @ np.float32([0.299, 0.587, 0.114])).reshape(224, 224, 1)
  z = 0.85 * x + (1 - 0.85) * np.maximum(x, gray * np.float32(1.5) + np.float32(0.5))
  reference = np.uint8(np.clip(z, 0, 1) * 255)
  for frame in ours:
    diff = np.abs(frame.astype(int) - reference)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_spatter_liquid_smear_is_numpy_convolve_same():
  liquid = np.random.default_rng(5).uniform(size=(224, 224))
  layers = perturbations.spatter_liquid_layers(liquid, 4).numpy()
  expected = liquid
  for layer in layers[1:]:
    expected = np.apply_along_axis(
        lambda mat: np.convolve(mat, np.array([0.05, 0.1, 0.15, 0.7]), mode="same"),
        axis=0, arr=expected)
    np.testing.assert_allclose(layer, expected, rtol=0, atol=1e-15)


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
  top1, top5 = imagenet_p.videos_from_predictions(p)
  np.testing.assert_array_equal(top1, [[4, 5, 6], [1, 2, 3]])
  assert top5.shape == (2, 3, 5)


def test_videos_with_missing_frames_or_bad_names_are_refused():
  p = _predictions({"a": _top5([1, 2, 3]), "b": _top5([1, 2])})
  with pytest.raises(errors.UserError, match="differ in length"):
    imagenet_p.videos_from_predictions(p)
  p = _predictions({"a": _top5([1, 2, 3])}).select(np.array([0, 2]))
  with pytest.raises(errors.UserError, match="lacks frames"):
    imagenet_p.videos_from_predictions(p)
  bad = dataclasses.replace(p, file_name=np.array(["x.JPEG", "y.JPEG"]))
  with pytest.raises(errors.UserError, match="not an ImageNet-P frame"):
    imagenet_p.videos_from_predictions(bad)


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
      "gaussian_noise": imagenet_p.videos_from_predictions(_predictions(noise)),
      "rotate": imagenet_p.videos_from_predictions(_predictions(other, [7, 6, 5, 4, 3, 2, 1, 0])),
  }
  results = imagenet_p.score_imagenet_p(by_perturbation)
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


def test_mfp_is_normalised_only_with_alexnet_values():
  rng = np.random.default_rng(6)
  by_perturbation = {}
  for name in imagenet_p.TEST_NAMES:
    top5 = np.stack([np.stack([rng.permutation(8)[:5] for _ in range(31)]) for _ in range(3)])
    by_perturbation[name] = (top5[..., 0], top5)
  plain = imagenet_p.score_imagenet_p(by_perturbation)
  names = {r.metric for r in plain}
  assert "mfp" not in names and "mt5d" not in names
  fp = {p: _metric(plain, f"flip_probability/{p}") for p in imagenet_p.TEST_NAMES}
  t5d = {p: _metric(plain, f"top5_distance/{p}") for p in imagenet_p.TEST_NAMES}
  assert _metric(plain, "mean_flip_probability") == pytest.approx(np.mean(list(fp.values())))
  assert _metric(plain, "mean_top5_distance") == pytest.approx(np.mean(list(t5d.values())))
  alexnet_fp = {p: 0.1 * (k + 1) for k, p in enumerate(imagenet_p.TEST_NAMES)}
  alexnet_t5d = {p: 1.0 + k for k, p in enumerate(imagenet_p.TEST_NAMES)}
  normalised = imagenet_p.score_imagenet_p(by_perturbation, alexnet_fp, alexnet_t5d)
  assert _metric(normalised, "mfp") == pytest.approx(metrics.mfp(fp, alexnet_fp))
  assert _metric(normalised, "mt5d") == pytest.approx(metrics.mt5d(t5d, alexnet_t5d))
  assert _metric(normalised, "mfp") == pytest.approx(
      np.mean([fp[p] / alexnet_fp[p] for p in imagenet_p.TEST_NAMES]))
  assert {r.n for r in normalised if r.metric == "mfp"} == {30}


def test_benchmark_scorer_reads_alexnet_values_from_manual_dir(tmp_path):
  sources = imagenet_p.imagenet_p_sources(imagenet_p.TEST_NAMES)
  assert [s.builder for s in sources][:2] == ["bench_imagenet_p/gaussian_noise",
                                              "bench_imagenet_p/shot_noise"]
  assert "noise.tar" in sources[0].manual_files
  predictions = [_predictions({"a": _top5([1, 1, 2, 1] * 8)[:31]}) for _ in sources]
  score = imagenet_p.benchmark_scorer(sources)
  plain = score(predictions, benchmarks.ScoringContext(manual_dir=str(tmp_path)))
  assert "mfp" not in {r.metric for r in plain}
  table = {"flip_probability": {p: 0.5 for p in imagenet_p.TEST_NAMES},
           "top5_distance": {p: 2.0 for p in imagenet_p.TEST_NAMES}}
  (tmp_path / imagenet_p.ALEXNET_FILE).write_text(json.dumps(table))
  normalised = score(predictions, benchmarks.ScoringContext(manual_dir=str(tmp_path)))
  assert _metric(normalised, "mfp") == pytest.approx(
      2 * _metric(normalised, "mean_flip_probability"))
  with pytest.raises(ValueError, match="expected 10"):
    score(predictions[:3], None)


# --- builders: sample (offline) and generated, via tfds.load ----------------------

def test_sample_builder_loads_with_tfds(tmp_path, sequences, resized):
  dataset = tfds.load("bench_sample_p/rotate", split="test", data_dir=str(tmp_path))
  examples = list(tfds.as_numpy(dataset))
  assert len(examples) == 3 * 31
  first = examples[0]
  assert first["file_name"].decode() == "chelsea/000"
  assert first["label"] == PHOTOS[0].label
  # PNG is lossless: the stored frames are exactly the perturbation's output.
  for example in examples[:31]:
    np.testing.assert_array_equal(example["image"], sequences["rotate"][example["frame"]])


def test_missing_sources_error_names_both(tmp_path):
  builder = tfds.builder("bench_imagenet_p/rotate", data_dir=str(tmp_path / "data"))
  (tmp_path / "manual").mkdir()
  with pytest.raises(errors.MissingArchiveError) as raised:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(tmp_path / "manual")))
  message = str(raised.value)
  assert "digital.tar" in message and "ILSVRC2012_img_val.tar" in message
  assert "tfds_bench[video]" in message


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
  sources = imagenet_p.sample_p_sources(("gaussian_noise", "translate"))
  row = benchmarks.Benchmark(
      "sample_p", "ImageNet-P sequences of sample photos (offline)", sources,
      imagenet_p.METRICS, imagenet_p.benchmark_scorer(sources, "sample_p"))
  monkeypatch.setattr(benchmarks, "BENCHMARKS", benchmarks.BENCHMARKS + (row,))
  run = evaluate.evaluate("efficientnet", ["sample_p"],
                          data=evaluate.DataOptions(data_dir=str(tmp_path)))
  values = {r.metric: r for r in run.results}
  for name in ("gaussian_noise", "translate"):
    assert 0.0 <= values[f"flip_probability/{name}"].value <= 1.0
    assert values[f"flip_probability/{name}"].n == 3
    assert 0.0 <= values[f"top5_distance/{name}"].value <= 20.0
