"""Models keras_hub loads (`tfds_bench.hub_models`): keras_hub presets, timm and
Transformers folders, handles; each with its own preprocessing, its figures
equal to keras_hub's own ``predict``, its published row beside them.

Fixtures are written offline from random weights (tests/tools/hub_fixtures.py).
"""

import json
import os
import pathlib
import sys

import numpy as np
import pytest

from tfds_bench import errors, hub_models, models, published
from tfds_bench.reports import tables

sys.path.insert(0, str(pathlib.Path(__file__).parent / "tools"))
import hub_fixtures  # pylint: disable=g-import-not-at-top,wrong-import-position

needs_hub = pytest.mark.skipif(not hub_models.is_installed(),
                               reason='needs the [hub] extra: pip install "tfds_bench[hub]"')

# Odd and even margins both ways, landscape and portrait, smaller and larger
# than the model inputs.
IMAGE_SIZES = ((37, 50), (45, 30), (24, 24), (31, 64))
WNIDS = ("n01440764", "n01443537")


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
  """PNG images (lossless: PIL and TF decode the same pixels) in ImageNet layout."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("hub_images")
  rng = np.random.default_rng(7)
  for i, (height, width) in enumerate(IMAGE_SIZES):
    folder = root / WNIDS[i % 2]
    folder.mkdir(exist_ok=True)
    # Smooth images, so a one-pixel shift of the crop changes them a little.
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 255 // width), (y * 255 // height),
                      rng.integers(0, 256, (height, width))], -1).astype(np.uint8)
    Image.fromarray(image).save(folder / f"image_{i}.png")
  return str(root)


@pytest.fixture(scope="module")
def timm_runs(presets, image_folder):
  """The timm folder evaluated with its own preprocessing and with keras_hub's converter."""
  return {p: _evaluate(presets["timm"], image_folder, p)
          for p in (None, models.KERAS_HUB_CONVERTER)}


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
  if not hub_models.is_installed():
    pytest.skip('needs the [hub] extra: pip install "tfds_bench[hub]"')
  root = tmp_path_factory.mktemp("hub_models")
  return {
      "resnet": hub_fixtures.write_keras_resnet_preset(str(root / "resnet_preset")),
      "vit": hub_fixtures.write_keras_vit_preset(str(root / "vit_preset")),
      "timm": hub_fixtures.write_timm_resnet18(str(root / "timm_resnet18"), input_size=224),
      "transformers": hub_fixtures.write_transformers_vit(str(root / "hf_vit")),
  }


def _decoded(folder, file_names):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  return [np.asarray(Image.open(os.path.join(folder, name)).convert("RGB"))
          for name in file_names]


def _softmax_top(logits):
  logits = np.asarray(logits, np.float64)
  probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
  probabilities /= probabilities.sum(axis=1, keepdims=True)
  return np.argsort(-logits, axis=1, kind="stable")[:, :5], probabilities.max(axis=1)


def _evaluate(model, folder, preprocessing=None):
  from tfds_bench import evaluate  # pylint: disable=g-import-not-at-top
  spec = models.get(model, preprocessing)
  run = evaluate.evaluate(spec, ["image_folder"], batch_size=3,
                          data=evaluate.DataOptions(image_folder=folder))
  return spec, run


def _assert_same_as_predict(run, classifier, folder, images=None):
  """The run's top-5 and confidences equal keras_hub's ``predict`` on the same
  decoded images (one by one: their sizes differ); top-1 too."""
  p = run.predictions["image_folder"]
  images = images or _decoded(folder, p.file_name)
  logits = np.concatenate([classifier.predict(image[None], verbose=0) for image in images])
  top5, confidence = _softmax_top(logits)
  np.testing.assert_array_equal(p.top5, top5)
  np.testing.assert_allclose(p.confidence, confidence, rtol=1e-4)
  top1 = {r["metric"]: r["value"] for r in run.records()}["top1"]
  assert top1 == np.mean(top5[:, 0] == p.label)


@needs_hub
@pytest.mark.parametrize("name", ["resnet", "vit"])
def test_keras_preset_figures_equal_keras_hub_predict(presets, image_folder, name):
  import keras_hub  # pylint: disable=g-import-not-at-top
  spec, run = _evaluate(presets[name], image_folder)
  classifier = keras_hub.models.ImageClassifier.from_preset(presets[name])
  _assert_same_as_predict(run, classifier, image_folder)
  assert run.provenance["model_source"]["format"] == hub_models.KERAS_PRESET
  assert run.provenance["preprocessing"]["center_rounding"] == "down"
  assert spec.published_match is None


@needs_hub
def test_timm_folder_with_keras_hub_converter_equals_predict(presets, image_folder, timm_runs):
  import keras_hub  # pylint: disable=g-import-not-at-top
  spec, run = timm_runs[models.KERAS_HUB_CONVERTER]
  assert spec.preprocessing.crop_fraction == 1.0
  classifier = keras_hub.models.ImageClassifier.from_preset(presets["timm"])
  assert type(classifier).__name__ == "ResNetImageClassifier"
  _assert_same_as_predict(run, classifier, image_folder)
  assert run.provenance["model_source"]["preprocessing_from"] == "keras_hub"


@needs_hub
def test_timm_folder_is_evaluated_with_its_crop_pct(presets, image_folder, timm_runs):
  """timm's validation: a centre square of crop_pct of the shorter side (the
  TF reference's resize-then-crop, as the suite does), antialiased resize,
  mean / std: the same figures as the model on an independently made input."""
  import keras_hub  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  spec, run = timm_runs[None]
  assert (spec.preprocessing.crop_fraction, spec.preprocessing.antialias,
          spec.preprocessing.crop_mode) == (0.875, True, "center")
  assert run.provenance["model_source"]["pretrained_cfg"]["crop_pct"] == 0.875
  p = run.predictions["image_folder"]
  crops = []
  for image in _decoded(image_folder, p.file_name):
    height, width = image.shape[:2]
    side = int(min(height, width) * 0.875)
    top, left = (height - side + 1) // 2, (width - side + 1) // 2
    crops.append(image[top:top + side, left:left + side])
  mean = 255 * np.array(hub_fixtures.IMAGENET_MEAN)
  std = 255 * np.array(hub_fixtures.IMAGENET_STD)
  inputs = np.stack([(tf.image.resize(crop.astype(np.float32), (224, 224), "bilinear",
                                      antialias=True).numpy() - mean) / std
                     for crop in crops]).astype(np.float32)
  classifier = keras_hub.models.ImageClassifier.from_preset(presets["timm"])
  top5, confidence = _softmax_top(classifier(inputs, training=False).numpy())
  np.testing.assert_array_equal(p.top5, top5)
  np.testing.assert_allclose(p.confidence, confidence, rtol=1e-4)
  # keras_hub alone would have used the whole centre square: different inputs.
  _, converter_run = timm_runs[models.KERAS_HUB_CONVERTER]
  assert not np.allclose(converter_run.predictions["image_folder"].confidence, p.confidence)


@needs_hub
def test_transformers_folder_is_evaluated_with_its_image_processor(presets, image_folder):
  """ViTImageProcessor: the whole image resized to 16x16 (aspect ratio not
  kept), antialiased bilinear as PIL's, (x / 255 - 0.5) / 0.5."""
  import keras_hub  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  spec, run = _evaluate(presets["transformers"], image_folder)
  assert run.provenance["model_source"]["format"] == hub_models.TRANSFORMERS
  p = run.predictions["image_folder"]
  inputs = np.stack([(tf.image.resize(image.astype(np.float32), (16, 16), "bilinear",
                                      antialias=True).numpy() - 127.5) / 127.5
                     for image in _decoded(image_folder, p.file_name)]).astype(np.float32)
  classifier = keras_hub.models.ImageClassifier.from_preset(presets["transformers"])
  assert type(classifier).__name__ == "ViTImageClassifier"
  top5, confidence = _softmax_top(classifier(inputs, training=False).numpy())
  np.testing.assert_array_equal(p.top5, top5)
  np.testing.assert_allclose(p.confidence, confidence, rtol=1e-4)
  with pytest.raises(errors.UserError, match="keras_hub has no image converter"):
    models.get(presets["transformers"], models.KERAS_HUB_CONVERTER)


def test_crop_pct_and_mode_change_the_crop_window():
  tf = pytest.importorskip("tensorflow")
  from tfds_bench import preprocessing  # pylint: disable=g-import-not-at-top
  window = lambda *args: preprocessing.center_crop_window(tf.constant(45), tf.constant(30),
                                                          *args).numpy().tolist()
  assert window(1.0) == [8, 0, 30, 30]  # margin 15: extra pixel above (TF reference)
  assert window(1.0, "center", "down") == [7, 0, 30, 30]  # below (Keras's Resizing)
  assert window(0.875) == [10, 2, 26, 26]
  assert window(0.875, "squash") == [3, 2, 39, 26]


def test_timm_config_preprocessing_without_tensorflow(tmp_path):
  folder = tmp_path / "timm_squash"
  folder.mkdir()
  (folder / "config.json").write_text(json.dumps({
      "architecture": "vit_base_patch16_224", "num_classes": 1000,
      "pretrained_cfg": {"tag": "augreg_in1k", "input_size": [3, 224, 224], "crop_pct": 0.9,
                         "crop_mode": "squash", "interpolation": "bicubic",
                         "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}))
  spec = models.get(str(folder))
  assert spec.name == "vit_base_patch16_224.augreg_in1k"
  assert (spec.preprocessing.input_size, spec.preprocessing.crop_fraction,
          spec.preprocessing.crop_mode, spec.preprocessing.resize_method,
          spec.preprocessing.mean, spec.preprocessing.std) == (
              224, 0.9, "squash", "bicubic", (127.5,) * 3, (127.5,) * 3)
  assert spec.published_match.key == ("vit_base_patch16_224.augreg_in1k", 224)


def test_transformers_image_processor_is_read(tmp_path):
  folder = tmp_path / "hf_vit"
  folder.mkdir()
  (folder / "config.json").write_text(json.dumps({
      "model_type": "vit", "architectures": ["ViTForImageClassification"], "image_size": 224,
      "id2label": {str(i): str(i) for i in range(1000)}}))
  (folder / "preprocessor_config.json").write_text(json.dumps({
      "do_resize": True, "size": {"height": 224, "width": 224}, "resample": 2,
      "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
      "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}))
  spec = models.get(str(folder))
  assert spec.preprocessing == models.Preprocessing(
      224, 1.0, "bilinear", (127.5,) * 3, (127.5,) * 3, crop_mode="squash")
  assert spec.source["format"] == hub_models.TRANSFORMERS


def test_published_row_matching():
  assert published.match_timm("resnet18", "tv_in1k", 224).key == ("resnet18.tv_in1k", 224)
  # One row of the architecture at that size: taken without a tag.
  assert published.match_timm("resnet18", None, 160).key == ("resnet18.a3_in1k", 160)
  several = published.match_timm("resnet18", None, 224)
  assert several.key is None and "rows of resnet18 at 224 px" in several.note
  missing = published.match_timm("resnet18", "tv_in1k", 32)
  assert missing.key is None and "published at 224 px" in missing.note


def test_published_row_beside_the_measurement():
  match = published.match_timm("resnet18", "tv_in1k", 224).describe()
  records = [{"model": "m", "benchmark": "image_folder", "metric": "top1", "value": 0.5,
              "n": 4, "ci_low": 0.1, "ci_high": 0.9, "ci_method": "clopper_pearson"}]
  text = tables.format_published(records, match)
  assert "timm's row resnet18.tv_in1k at 224 px" in text
  assert "crop_pct 0.875, bilinear" in text
  line = [l for l in text.splitlines() if l.startswith("image_folder")][0]
  assert line.split() == ["image_folder", "top1", "50.00%", "10.00-90.00", "69.75%",
                          "imagenet2012"]
  assert "none matches" in tables.format_published(
      records, published.match_timm("resnet18", "x", 224).describe())


def test_missing_extra_is_one_line_naming_it(tmp_path, monkeypatch):
  hub_fixtures_dir = tmp_path / "preset"
  hub_fixtures_dir.mkdir()
  (hub_fixtures_dir / "config.json").write_text("{}")
  real_find_spec = hub_models.importlib.util.find_spec
  monkeypatch.setattr(hub_models.importlib.util, "find_spec",
                      lambda name: None if name == "keras_hub" else real_find_spec(name))
  for model in (str(hub_fixtures_dir), "kaggle://keras/resnetv2/keras/resnet_50_imagenet/2"):
    with pytest.raises(errors.UserError, match=r'missing: keras_hub\): pip install '
                                              r'"tfds_bench\[hub\]"'):
      models.get(model)


@needs_hub
def test_uncached_handle_offline_is_one_line(monkeypatch, tmp_path):
  from keras_hub.src.utils import preset_utils  # pylint: disable=g-import-not-at-top

  def offline(preset, path):
    raise ConnectionError(f"cannot reach the host for {preset}/{path}")

  monkeypatch.setattr(preset_utils, "get_file", offline)
  monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kaggle"))
  handle = "kaggle://keras/resnetv2/keras/resnet_50_imagenet/2"
  with pytest.raises(errors.UserError) as raised:
    models.get(handle)
  message = str(raised.value)
  assert "\n" not in message
  assert f"not in keras_hub's cache ({tmp_path / 'kaggle'})" in message
  assert f"from_preset('{handle}')" in message
  monkeypatch.setattr(hub_models, "_network_reaches", lambda host: False)
  monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
  with pytest.raises(errors.UserError, match=r"hf://someone/model: not in keras_hub's cache "
                                             r".*hf\) .*\(no network\)$"):
    models.get("hf://someone/model")


@pytest.mark.parametrize("config, message", [
    ({"architecture": "resnet18", "num_classes": 21843,
      "pretrained_cfg": {"input_size": [3, 224, 224]}}, "its head has 21843 classes"),
    ({"model_type": "vit", "architectures": ["ViTForImageClassification"],
      "id2label": {str(i): str(i) for i in range(11821)}}, "its head has 11821 classes"),
    ({"architecture": "resnet18", "pretrained_cfg": {"input_size": [3, 224, 224],
                                                      "crop_mode": "border"}},
     "crop_mode 'border'"),
    ({"something": "else"}, "none of registered_name"),
])
def test_models_the_suite_cannot_score_are_refused(tmp_path, config, message):
  (tmp_path / "config.json").write_text(json.dumps(config))
  (tmp_path / "preprocessor_config.json").write_text(json.dumps({"size": {"height": 224,
                                                                          "width": 224}}))
  if not hub_models.is_installed():
    pytest.skip("the extra is checked first")
  with pytest.raises(errors.UserError, match=message):
    models.get(str(tmp_path))


@needs_hub
def test_unreadable_folders_are_one_line_errors(tmp_path, presets):
  (tmp_path / "empty").mkdir()
  with pytest.raises(errors.UserError, match="needs config.json"):
    models.get(str(tmp_path / "empty"))
  (tmp_path / "bad_json").mkdir()
  (tmp_path / "bad_json" / "config.json").write_text("{not json")
  with pytest.raises(errors.DamagedInputError, match="config.json: not valid JSON"):
    models.get(str(tmp_path / "bad_json"))
  damaged = tmp_path / "damaged_timm"
  damaged.mkdir()
  (damaged / "config.json").write_text(
      pathlib.Path(presets["timm"], "config.json").read_text())
  (damaged / "model.safetensors").write_bytes(b"\x00" * 64)
  spec = models.get(str(damaged))
  with pytest.raises(errors.DamagedInputError, match="keras_hub could not load it") as raised:
    spec.build()
  assert "\n" not in str(raised.value)


@needs_hub
def test_bench_main_on_a_timm_folder(presets, image_folder, tmp_path, capsys):
  """The command a user runs (in-process: the imports are already paid for)."""
  from tfds_bench import bench_main  # pylint: disable=g-import-not-at-top
  out = tmp_path / "out"
  bench_main.FLAGS.unparse_flags()
  bench_main.FLAGS(["bench_main", f"--model={presets['timm']}", f"--image_folder={image_folder}",
                    f"--output_dir={out}", "--noprogress"])
  try:
    assert bench_main._run(bench_main.check_flags()) == 0  # pylint: disable=protected-access
  finally:
    bench_main.FLAGS.unparse_flags()
  stdout = capsys.readouterr().out
  assert "resnet18.tv_in1k  image_folder  top1" in stdout
  assert "Published row: timm's row resnet18.tv_in1k at 224 px" in stdout
  assert "69.75%  imagenet2012" in stdout
  provenance = json.loads((out / "results.json").read_text())["provenance"]
  assert provenance["model_source"]["published_row"]["model"] == "resnet18.tv_in1k"
  assert provenance["preprocessing"]["crop_fraction"] == 0.875


def test_report_sets_the_published_row_beside_the_measurement(tmp_path):
  from tfds_bench import reports  # pylint: disable=g-import-not-at-top
  match = published.match_timm("resnet18", "tv_in1k", 224).describe()
  records = [{"model": "resnet18.tv_in1k", "benchmark": "image_folder", "metric": m,
              "value": 0.25, "n": 4, "ci_low": 0.0063, "ci_high": 0.8059,
              "ci_method": "clopper_pearson"} for m in ("top1", "top5")]
  path = tmp_path / "results.json"
  path.write_text(json.dumps({"provenance": {"model_source": {"published_row": match}},
                              "results": records}))
  assert reports.load_published_match(str(path)) == match
  text = reports.report_markdown(records, [], [],
                                 published_matches={"resnet18.tv_in1k": match})
  section = text.split("## Published rows beside the measurement", 1)[1]
  assert ("| resnet18.tv_in1k | image_folder | top5 | 25.00% | 0.63-80.59 | 89.08% | "
          "imagenet2012 |") in section


@needs_hub
def test_a_cached_handle_loads_like_its_folder(presets, image_folder, monkeypatch):
  """A kaggle:// handle whose files keras_hub's cache holds (the cache stood in
  for by its lookup, `get_file`): described, built and evaluated as the folder."""
  from keras_hub.src.utils import preset_utils  # pylint: disable=g-import-not-at-top
  handle = "kaggle://someone/resnet/keras/tiny/1"
  real_get_file = preset_utils.get_file

  def cached(preset, path):
    if preset != handle:
      return real_get_file(preset, path)
    local = os.path.join(presets["resnet"], path)
    if not os.path.exists(local):
      raise FileNotFoundError(f"`{path}` doesn't exist in preset directory `{preset}`.")
    return local

  monkeypatch.setattr(preset_utils, "get_file", cached)
  spec = models.get(handle)
  assert spec.name == "someone_resnet_keras_tiny_1"
  assert spec.preprocessing == models.get(presets["resnet"]).preprocessing
  from tfds_bench import evaluate  # pylint: disable=g-import-not-at-top
  run = evaluate.evaluate(spec, ["image_folder"], batch_size=4,
                          data=evaluate.DataOptions(image_folder=image_folder))
  _, folder_run = _evaluate(presets["resnet"], image_folder)
  np.testing.assert_array_equal(run.predictions["image_folder"].top5,
                                folder_run.predictions["image_folder"].top5)
  # The configs cached, the weights not, and no network: one line, no traceback.
  import keras_hub  # pylint: disable=g-import-not-at-top

  def weights_offline(*args, **kwargs):
    try:
      raise ConnectionError("Max retries exceeded (NameResolutionError)")
    except ConnectionError as e:
      raise ValueError("download failed") from e

  monkeypatch.setattr(keras_hub.models.ImageClassifier, "from_preset", weights_offline)
  with pytest.raises(errors.UserError, match=r"kaggle://someone/resnet/keras/tiny/1: not in "
                                             r"keras_hub's cache .* \(ValueError\)$"):
    spec.build()
