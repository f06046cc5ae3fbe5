"""ImageNet-C: the release pipeline (tfds_bench.release), source selection and
errors of the builder, the scorer (tfds_bench.scoring); Beam generation is
tests/test_beam_generation.py.

The builder is prepared from the shipped dummy data
(builders/bench_imagenet_c/dummy_data/{released,generated}); preparing each
config from each source is the builder's own `*_dataset_builder_test.py`.
"""

import dataclasses
import io
import json
import shutil
import tarfile

import numpy as np
import PIL.Image
import pytest
import tensorflow_datasets as tfds

import tfds_bench.builders  # pylint: disable=unused-import  # registers builders
from tfds_bench import benchmark_table
from tfds_bench import corruptions
from tfds_bench import errors
from tfds_bench import labels
from tfds_bench import sources as sources_lib
from tfds_bench.release import common
from tfds_bench.release import imagenet_c
from tfds_bench.scoring import imagenet_c as imagenet_c_scoring
from tfds_bench.builders.bench_imagenet_c import bench_imagenet_c_dataset_builder
from tfds_bench.benchmark_types import ScoringContext
from tests.conftest import top1_wrong_predictions

DUMMY_DIR = bench_imagenet_c_dataset_builder.Builder.pkg_dir_path / "dummy_data"
RELEASED_DIR = DUMMY_DIR / "released"
GENERATED_DIR = DUMMY_DIR / "generated"
VAL_TAR = GENERATED_DIR / common.VAL_ARCHIVE_NAME


def _val_members() -> dict:
  with tarfile.open(VAL_TAR) as tar:
    return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def _prepare(config: str, manual_dir, data_dir, **download_config_kwargs):
  """Prepares a config; returns {file_name: (label, raw JPEG bytes)} and info."""
  builder = tfds.builder(f"bench_imagenet_c/{config}", data_dir=str(data_dir))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual_dir), **download_config_kwargs))
  dataset = builder.as_dataset(
      split="test", decoders={"image": tfds.decode.SkipDecoding()})
  examples = {ex["file_name"].decode(): (int(ex["label"]), ex["image"])
              for ex in tfds.as_numpy(dataset)}
  return examples, builder.info


def _pil_decode(jpeg_bytes: bytes) -> np.ndarray:
  with PIL.Image.open(io.BytesIO(jpeg_bytes)) as image:
    return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
  """gaussian_noise_3 generated from the dummy val tar, prepared twice."""
  first = _prepare("gaussian_noise_3", GENERATED_DIR,
                   tmp_path_factory.mktemp("tfds_c_1"))
  second = _prepare("gaussian_noise_3", GENERATED_DIR,
                    tmp_path_factory.mktemp("tfds_c_2"))
  return first, second


# --- the release pipeline -------------------------------------------------------

def test_release_preprocess_is_torchvision_resize_and_center_crop():
  # Val file 1 of the dummy tar is 37x50: Resize(256) gives 256 x int(256 *
  # 50 / 37) = 256x345, and CenterCrop(224) starts at round(60.5) = 60 rows
  # (half to even), column 16.
  data = _val_members()["ILSVRC2012_val_00000001.JPEG"]
  with PIL.Image.open(io.BytesIO(data)) as image:
    rgb = image.convert("RGB")
  assert rgb.size == (37, 50)
  resized = rgb.resize((256, 345), PIL.Image.Resampling.BILINEAR)
  expected = np.asarray(resized)[60:60 + 224, 16:16 + 224]
  np.testing.assert_array_equal(imagenet_c.release_preprocess(data), expected)


@pytest.mark.parametrize("name", ["ILSVRC2012_val_00000003.JPEG",
                                  "ILSVRC2012_val_00000004.JPEG"])
def test_release_preprocess_converts_grayscale_and_cmyk_to_rgb(name):
  out = imagenet_c.release_preprocess(_val_members()[name])
  assert out.shape == (224, 224, 3) and out.dtype == np.uint8


def test_release_preprocess_names_a_damaged_image():
  with pytest.raises(errors.DamagedInputError, match="member x of y"):
    imagenet_c.release_preprocess(b"not a jpeg", "member x of y")


def test_image_seed_is_per_file_and_in_31_bits():
  assert common.image_seed(0, "ILSVRC2012_val_00000001.JPEG") == 1
  assert common.image_seed(2, "val/ILSVRC2012_val_00050000.JPEG") == 250_000
  top = common.image_seed(common.MAX_BASE_SEED,
                              "ILSVRC2012_val_00050000.JPEG")
  assert top < 2**31
  with pytest.raises(ValueError):
    common.image_seed(common.MAX_BASE_SEED + 1,
                          "ILSVRC2012_val_00000001.JPEG")
  with pytest.raises(ValueError):
    common.image_seed(0, "n01440764_1.JPEG")


# --- generated source -------------------------------------------------------------

def test_generated_images_are_the_release_pipeline(generated):
  (examples, info), _ = generated
  assert info.metadata["source"] == "generated"
  members = _val_members()
  assert sorted(examples) == sorted(members)
  val_labels = labels.val_labels()
  for file_name, (label, stored) in examples.items():
    assert label == val_labels[labels.val_file_number(file_name) - 1]
    # Independently of corrupt_and_encode: preprocess, corrupt, np.uint8,
    # PIL JPEG quality 85 optimize=True, as make_imagenet_c.py saves.
    image = imagenet_c.release_preprocess(members[file_name])
    seed = common.image_seed(0, file_name)
    corrupted = np.uint8(corruptions.apply(image, "gaussian_noise", 3, seed))
    buffer = io.BytesIO()
    PIL.Image.fromarray(corrupted).save(buffer, format="JPEG", quality=85,
                                        optimize=True)
    assert stored == buffer.getvalue(), file_name
    np.testing.assert_array_equal(_pil_decode(stored),
                                  _pil_decode(buffer.getvalue()))
    assert _pil_decode(stored).shape == (224, 224, 3)


@pytest.mark.parametrize("corruption", ["motion_blur", "brightness", "spatter"])
def test_batched_generation_equals_one_image_at_a_time(corruption):
  # generate_images runs many images on a pool of threads;
  # each must be what corrupt_and_encode makes of that image alone, in order.
  members = sorted(_val_members().items())
  sources = [imagenet_c.val_source_image(name, data, name) for name, data in members]
  config = imagenet_c.Config(corruption, 2)
  got = list(imagenet_c.generate_images(sources, config, workers=2))
  assert [key for key, _ in got] == [name for name, _ in members]
  for (name, data), (_, image) in zip(members, got):
    assert image == imagenet_c.corrupt_and_encode(data, name, config), name


def test_generation_in_groups_equals_one_image_at_a_time():
  # Two full groups and a partial one, each image with its own seed.
  members = sorted(_val_members().items())
  count = 2 * imagenet_c.GROUP_SIZE + 3
  named = [(f"ILSVRC2012_val_{i + 1:08d}.JPEG", members[i % len(members)][1])
           for i in range(count)]
  sources = [imagenet_c.val_source_image(name, data, name) for name, data in named]
  config = imagenet_c.Config("impulse_noise", 4)
  got = list(imagenet_c.generate_images(sources, config, workers=2))
  assert [key for key, _ in got] == [name for name, _ in named]
  for (name, data), (_, image) in zip(named, got):
    assert image == imagenet_c.corrupt_and_encode(data, name, config), name


def test_batched_generation_names_a_damaged_image():
  members = sorted(_val_members().items())
  sources = [imagenet_c.val_source_image(name, data, f"member {name!r} of val.tar")
             for name, data in members]
  sources.insert(1, imagenet_c.val_source_image(
      "ILSVRC2012_val_00000099.JPEG", b"not a jpeg",
      "member 'ILSVRC2012_val_00000099.JPEG' of val.tar"))
  generated = imagenet_c.generate_images(sources, imagenet_c.Config("contrast", 1))
  assert next(generated)[0] == members[0][0]
  with pytest.raises(errors.DamagedInputError,
                     match="member 'ILSVRC2012_val_00000099.JPEG' of val.tar is not a readable"):
    next(generated)


def test_batched_generation_raises_the_source_error_itself():
  # An archive's reading error (here raised by the sources' iterator) comes
  # out as itself, after the images before it, not wrapped in a TF error.
  (name, data), = sorted(_val_members().items())[:1]

  def sources():
    yield imagenet_c.val_source_image(name, data, name)
    raise errors.DamagedInputError("Unexpected member 'x' in val.tar")

  generated = imagenet_c.generate_images(sources(), imagenet_c.Config("contrast", 1))
  assert next(generated)[0] == name
  with pytest.raises(errors.DamagedInputError, match="^Unexpected member 'x' in val.tar$"):
    next(generated)


def test_generation_is_reproducible(generated):
  (first, _), (second, _) = generated
  assert first.keys() == second.keys()
  for file_name in first:
    assert first[file_name] == second[file_name], file_name


# --- source selection and errors ----------------------------------------------

def test_released_archive_is_preferred_over_generation(tmp_path):
  manual_dir = tmp_path / "manual"
  manual_dir.mkdir()
  shutil.copy(RELEASED_DIR / "noise.tar", manual_dir)
  shutil.copy(VAL_TAR, manual_dir)
  examples, info = _prepare("gaussian_noise_3", manual_dir, tmp_path / "data")
  assert info.metadata["source"] == "released"
  assert len(examples) == 3
  # Stored byte for byte as released.
  with tarfile.open(manual_dir / "noise.tar") as tar:
    released = {m.name.rsplit("/", 1)[-1]: tar.extractfile(m).read()
                for m in tar if m.name.startswith("gaussian_noise/3/")
                and m.isfile()}
  assert {k: v[1] for k, v in examples.items()} == released


@pytest.mark.parametrize("with_manual_dir", [True, False])
def test_missing_archives_error_names_both_options(tmp_path, with_manual_dir):
  builder = tfds.builder("bench_imagenet_c/gaussian_noise_3",
                         data_dir=str(tmp_path / "data"))
  manual_dir = tmp_path / "empty"
  manual_dir.mkdir()
  config = tfds.download.DownloadConfig(
      manual_dir=str(manual_dir) if with_manual_dir else None)
  with pytest.raises(errors.MissingArchiveError) as raised:
    builder.download_and_prepare(download_config=config)
  message = str(raised.value)
  assert "noise.tar" in message and "ILSVRC2012_img_val.tar" in message
  assert "zenodo.org/record/2235448" in message
  if with_manual_dir:
    assert str(manual_dir) in message


def test_unexpected_member_in_released_archive_is_named(tmp_path):
  manual_dir = tmp_path / "manual"
  manual_dir.mkdir()
  with tarfile.open(manual_dir / "noise.tar", "w") as tar:
    data = _val_members()["ILSVRC2012_val_00000001.JPEG"]
    info = tarfile.TarInfo("imagenet-c/gaussian_noise/3/n01751748/x.JPEG")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
  with pytest.raises(errors.DamagedInputError, match="imagenet-c/gaussian"):
    _prepare("gaussian_noise_3", manual_dir, tmp_path / "data")


def test_configs_cover_all_corruptions_and_severities():
  builder_configs = bench_imagenet_c_dataset_builder.Builder.BUILDER_CONFIGS
  names = [c.name for c in builder_configs]
  assert len(names) == 95 == len(set(names))
  assert names[0] == "gaussian_noise_1" and names[-1] == "saturate_5"
  # Each builder config carries its ImageNet-C config, named as it is.
  assert tuple(c.config for c in builder_configs) == imagenet_c.ALL_CONFIGS
  assert all(c.name == c.config.name for c in builder_configs)
  assert set(imagenet_c.ARCHIVE_OF) == set(corruptions.NAMES)


# --- scoring ----------------------------------------------------------------------

def test_score_imagenet_c_on_a_hand_made_fixture():
  files = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 5)]
  label = [3, 1, 4, 1]
  # Severity s: s - 1 of 4 wrong -> errors 0, .25, .5, .75, 1; mean 0.5.
  by_config = {imagenet_c.Config(c, s): top1_wrong_predictions(files, label, s - 1)
               for c in corruptions.NAMES for s in range(1, 6)}
  clean = top1_wrong_predictions(files, label, 1)  # clean error 0.25
  results = {r.metric: r for r in imagenet_c_scoring.score_imagenet_c(by_config, clean,
                                                                      "imagenet_c")}

  assert results["error/gaussian_noise_3"].value == 0.5
  assert results["error/saturate_5"].value == 1.0
  assert results["error/gaussian_noise_3"].n == 4
  assert results["error/fog"].value == 0.5 and results["error/fog"].n == 20
  assert results["error/spatter"].value == 0.5  # held-out: reported, not in mCE
  assert results["clean_error"].value == 0.25 and results["clean_error"].n == 4
  assert results["clean_top1"].value == 0.75

  with labels.data_path("imagenet_c_alexnet.json").open("r") as f:
    alexnet = json.load(f)
  errors_a, clean_a = alexnet["alexnet_error"], alexnet["alexnet_clean_error"]
  assert len(errors_a) == 15
  expected_mce = sum(0.5 / e for e in errors_a.values()) / 15
  expected_rel = sum(0.25 / (e - clean_a) for e in errors_a.values()) / 15
  assert results["mce"].value == pytest.approx(expected_mce, abs=1e-12)
  assert results["relative_mce"].value == pytest.approx(expected_rel, abs=1e-12)
  assert results["mce"].n == 15 * 5 * 4
  # e.g. mCE 0.5 / ~0.8 averaged: a sanity range, not a second definition.
  assert 0.5 < results["mce"].value < 0.9


def test_score_imagenet_c_partial_configs_give_no_mce():
  files = ["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG"]
  clean = top1_wrong_predictions(files, [0, 1], 0)
  results = imagenet_c_scoring.score_imagenet_c(
      {imagenet_c.Config("gaussian_noise", 3): top1_wrong_predictions(files, [0, 1], 1)}, clean,
      "imagenet_c")
  metrics = {r.metric: r.value for r in results}
  assert metrics == {"error/gaussian_noise_3": 0.5, "clean_error": 0.0,
                     "clean_top1": 1.0}


def test_score_imagenet_c_refuses_different_images_and_unknown_configs():
  clean = top1_wrong_predictions(["ILSVRC2012_val_00000001.JPEG"], [0], 0)
  other = top1_wrong_predictions(["ILSVRC2012_val_00000002.JPEG"], [0], 0)
  with pytest.raises(errors.UserError, match="same images"):
    imagenet_c_scoring.score_imagenet_c({imagenet_c.Config("fog", 1): other}, clean, "c")
  with pytest.raises(ValueError, match="not an ImageNet-C config"):
    imagenet_c.Config("fog", 6)


def test_sources_and_benchmark_scorer():
  row = benchmark_table.get("imagenet_c")
  assert row.sources[0] is sources_lib.IMAGENET_VAL  # the clean error's images
  sources = row.sources[1:]
  assert len(sources) == 95 and len({s.key for s in sources}) == 95
  assert sources[0].builder == "bench_imagenet_c/gaussian_noise_1"
  assert sources[0].split == "test"
  assert "noise.tar" in bench_imagenet_c_dataset_builder.Builder.MANUAL_DOWNLOAD_INSTRUCTIONS
  few = [sources_lib.imagenet_c_source(imagenet_c.Config("fog", s)) for s in (1, 2)]
  assert [s.builder for s in few] == ["bench_imagenet_c/fog_1",
                                      "bench_imagenet_c/fog_2"]
  two_configs = dataclasses.replace(row, sources=(row.sources[0], *few))
  files = ["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG"]
  results = imagenet_c_scoring.score_imagenet_c_row(
      [top1_wrong_predictions(files, [0, 1], 0), top1_wrong_predictions(files, [0, 1], 1),
       top1_wrong_predictions(files, [0, 1], 2)], ScoringContext(two_configs))
  values = {r.metric: r.value for r in results}
  assert values["error/fog_1"] == 0.5 and values["error/fog_2"] == 1.0
  assert all(r.benchmark == "imagenet_c" for r in results)


@pytest.mark.parametrize("name, severity", [("gaussian_noise", 2), ("snow", 4), ("plasma_noise", 3)])
def test_corrupt_op_by_op_equals_the_traced_graph(name, severity):
  # traced=False (the sample suite's few images per config) gives the bytes
  # of the per-config graph (every ImageNet-C config on the seven sample
  # photos compared equal when it was introduced).
  crop = np.random.default_rng(4).integers(0, 256, (224, 224, 3), dtype=np.uint8)
  config = imagenet_c.Config(name, severity)
  for seed in (1, 2**31 - 1):
    np.testing.assert_array_equal(imagenet_c.corrupt(crop, config, seed, traced=False),
                                  imagenet_c.corrupt(crop, config, seed))
