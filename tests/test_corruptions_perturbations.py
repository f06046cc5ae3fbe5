"""ImageNet-P perturbations (tfds_bench.corruptions.perturbations): fidelity and sequences.

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

import math

import numpy as np
import PIL.Image
import pytest
import skimage.color
import skimage.filters

from tfds_bench import metrics
from tfds_bench.builders.bench_sample.bench_sample_dataset_builder import PHOTOS
from tfds_bench.builders.bench_sample.bench_sample_dataset_builder import read_photo
from tfds_bench.corruptions import blur
from tfds_bench.corruptions import perturbations


@pytest.fixture(scope="module")
def resized() -> np.ndarray:
  """chelsea, Resize(256) as the release: 256 x 384 (not square: crop offsets).

  torchvision ``Resize(256)``: shorter side to 256, longer side
  ``int(256 * long / short)``, PIL bilinear.
  """
  image = PIL.Image.fromarray(read_photo(PHOTOS[0]))
  w, h = image.size
  size = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
  return np.asarray(image.resize(size, PIL.Image.BILINEAR))


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
  crop = _crop(resized)
  for i in (0, 22, 30):  # angle (i - 30) * 4
    expected = blur.motion_blur_from_angles(crop[None], 1, np.array([(i - 30) * 4.]))
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
