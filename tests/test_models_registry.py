"""The model registry: names, aliases, errors, keras.applications with local
weights, .keras files with safe_mode, declared preprocessing and outputs."""

import dataclasses
import json
import warnings

import keras
import numpy as np
import pytest

from tfds_bench import errors, models
from tfds_bench.preprocessing import PRESETS, Preprocessing


def _spec(name="toy", **kwargs):
  return models.ModelSpec(name=name, build=lambda w=None: None,
                          preprocessing=Preprocessing(8), **kwargs)


def test_registry_refuses_duplicates_and_lists_known_names_for_unknown():
  registry = models.Registry()
  registry.register(_spec("a"))
  with pytest.raises(ValueError, match="already registered"):
    registry.register(_spec("a"))
  registry.alias("b", "a")
  with pytest.raises(ValueError, match="already registered"):
    registry.register(_spec("b"))
  with pytest.raises(errors.UserError, match="unknown model 'c'; known models: a, b"):
    registry.get("c")
  assert registry.get("b").name == "a"


def test_default_registry_has_the_lite_family_and_the_alias():
  assert models.get("efficientnet").name == "efficientnet_lite0"
  sizes = {n: models.get(n).preprocessing.input_size
           for n in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")}
  assert sizes == {"efficientnet_lite0": 224, "efficientnet_lite1": 240,
                   "efficientnet_lite2": 260}
  lite = models.get("efficientnet_lite0").preprocessing
  assert (lite.mean, lite.std, lite.crop_fraction, lite.resize_method, lite.antialias) == (
      (127.0,) * 3, (128.0,) * 3, 0.875, "bicubic", False)
  # TF reference: crop size/(size + 32) of the shorter side.
  assert models.get("efficientnet_lite2").preprocessing.crop_fraction == 260 / 292


def test_spec_validates_output_kind_and_class_count():
  with pytest.raises(ValueError, match="output"):
    _spec(output="softmax")
  with pytest.raises(ValueError, match="1000 or 1001"):
    _spec(num_classes=10)


def test_keras_application_needs_local_weights_and_says_how_to_get_them():
  with pytest.raises(errors.UserError, match="mobilenet_v2_weights_tf_dim_ordering"):
    models.load_model("mobilenet_v2")


def test_keras_application_loads_a_local_weights_file(tmp_path):
  reference = keras.applications.MobileNetV2(weights=None, alpha=0.35,
                                             classifier_activation=None)
  # The registry builds alpha=1.0; a weights file for another width must fail
  # loudly rather than load partially.
  path = tmp_path / "mobilenet_v2.weights.h5"
  reference.save_weights(str(path))
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # one error, not Keras's 103 warnings
    with pytest.raises(errors.UserError,
                       match=r"does not fit mobilenet_v2 \(A total of \d+ objects could not"):
      models.load_model("mobilenet_v2", weights=str(path))
  full = keras.applications.MobileNetV2(weights=None, classifier_activation=None)
  full.save_weights(str(path))
  loaded = models.load_model("mobilenet_v2", weights=str(path))
  x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
  np.testing.assert_allclose(loaded(x).numpy(), full(x).numpy(), atol=1e-5)


def _tiny_keras_file(tmp_path, num_classes=1000, activation=None):
  inputs = keras.Input((8, 8, 3))
  x = keras.layers.GlobalAveragePooling2D()(inputs)
  outputs = keras.layers.Dense(num_classes, activation=activation)(x)
  path = tmp_path / "tiny.keras"
  keras.Model(inputs, outputs).save(str(path))
  return path


def test_keras_file_needs_declared_preprocessing(tmp_path):
  path = _tiny_keras_file(tmp_path)
  with pytest.raises(errors.UserError, match="does not say how to preprocess"):
    models.get(str(path))
  assert models.get(str(path), preprocessing="torch").preprocessing == PRESETS["torch"]
  (tmp_path / "tiny.keras.json").write_text(json.dumps({
      "preprocessing": {"input_size": 8, "mean": [0, 0, 0], "std": [255, 255, 255]},
      "output": "probabilities", "num_classes": 1000}))
  spec = models.get(str(path))
  assert spec.preprocessing.input_size == 8 and spec.output == models.PROBABILITIES
  assert spec.name == "tiny"
  assert spec.build(None)(np.zeros((1, 8, 8, 3), np.float32)).shape == (1, 1000)


def test_unknown_preprocessing_preset_is_named_for_names_and_files(tmp_path):
  known = ", ".join(sorted(PRESETS))
  with pytest.raises(errors.UserError, match=f"unknown preprocessing 'nope'; known: {known}$"):
    models.get("efficientnet", preprocessing="nope")
  (tmp_path / "unread.keras").write_bytes(b"")  # refused before it is read
  with pytest.raises(errors.UserError, match=f"unknown preprocessing 'nope'; known: {known}$"):
    models.get(str(tmp_path / "unread.keras"), preprocessing="nope")
  spec = models.get("efficientnet", preprocessing="torch")
  assert spec.preprocessing == dataclasses.replace(
      PRESETS["torch"], input_size=models.get("efficientnet").preprocessing.input_size)


def test_keras_file_with_a_lambda_layer_is_refused_by_safe_mode(tmp_path):
  inputs = keras.Input((4,))
  outputs = keras.layers.Lambda(lambda t: t * 2)(inputs)
  path = tmp_path / "lambda.keras"
  keras.Model(inputs, outputs).save(str(path))
  with pytest.raises(errors.UserError, match="cannot tell from .*lambda.keras's last layer"):
    models.get(str(path), preprocessing="raw")
  (tmp_path / "lambda.keras.json").write_text('{"output": "logits"}')
  spec = models.get(str(path), preprocessing="raw")
  with pytest.raises(ValueError, match="(?i)lambda|unsafe|safe_mode"):
    spec.build(None)


@pytest.mark.parametrize("last", ["dense_softmax", "softmax_layer", "dense_linear"])
def test_a_keras_files_output_kind_is_read_from_its_graph(tmp_path, last):
  inputs = keras.Input((4,))
  if last == "dense_softmax":
    outputs = keras.layers.Dense(3, activation="softmax")(inputs)
  elif last == "softmax_layer":
    outputs = keras.layers.Softmax()(keras.layers.Dense(3)(inputs))
  else:
    outputs = keras.layers.Dense(3)(inputs)
  path = tmp_path / "m.keras"
  keras.Model(inputs, outputs).save(str(path))
  expected = models.LOGITS if last == "dense_linear" else models.PROBABILITIES
  assert models.get(str(path), preprocessing="raw").output == expected
  (tmp_path / "m.keras.json").write_text('{"output": "logits"}')  # a sidecar wins
  assert models.get(str(path), preprocessing="raw").output == models.LOGITS


def test_a_sidecar_takes_preset_names_and_names_a_wrong_type(tmp_path):
  path = tmp_path / "m.keras"
  inputs = keras.Input((4,))
  keras.Model(inputs, keras.layers.Dense(3)(inputs)).save(str(path))
  sidecar = tmp_path / "m.keras.json"
  sidecar.write_text('{"preprocessing": "raw"}')
  assert models.get(str(path)).preprocessing == PRESETS["raw"]
  sidecar.write_text('{"preprocessing": {"input_size": "224"}}')
  with pytest.raises(errors.UserError, match="input_size must be a number .*, got '224'"):
    models.get(str(path))


def test_probabilities_and_background_class_are_normalised_to_1000_scores():
  logits = np.random.default_rng(0).normal(size=(4, 1000)).astype(np.float32)
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  as_probs = _spec(output=models.PROBABILITIES).scores(probs).numpy()
  np.testing.assert_allclose(as_probs - as_probs.max(1, keepdims=True),
                             logits - logits.max(1, keepdims=True), atol=1e-4)
  with_background = np.concatenate([np.full((4, 1), 50.0, np.float32), logits], axis=1)
  scores = _spec(num_classes=1001).scores(with_background).numpy()
  np.testing.assert_array_equal(scores, logits)
  with pytest.raises(errors.UserError, match="outputs 1001 classes"):
    _spec().scores(with_background)
