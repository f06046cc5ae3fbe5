"""Bad-input corpus: each case gives a correct result or ONE clear error naming
the file and the fix, through the user-facing paths:

* ``--image_folder``: ``evaluate.evaluate(model, ["image_folder"],
  data=DataOptions(image_folder=...))``, with tiny saved ``.keras`` models
  (8x8 inputs) so the cases, not a real network, are what is exercised;
* ``--predictions``: ``predictions.load_npz`` + ``evaluate.score_predictions``;
* ``--report``: ``reports.load_results`` + ``reports.format_table``.

Inputs are generated here with PIL / numpy; no binary is committed.

Covered elsewhere (not repeated here):
* predictions file with the wrong length, duplicate names, no ``file_name``,
  1001 columns, NaN scores, bad top-5: tests/test_predictions_scoring.py
  (test_bad_predictions_files_are_clear_errors);
* damaged / truncated / CMYK / grayscale / PNG members of released archives,
  unknown wnid members, ``..`` and absolute member names, links:
  tests/test_builders_archives.py;
* unknown wnid / out-of-range integer class folder at the pipeline level,
  non-image files in a folder: tests/test_input_pipeline.py;
* a weights pickle that would run code is refused unrun:
  tests/test_efficientnet_lite.py (test_malicious_pickle_is_refused_unrun);
* a ``.keras`` file with a Lambda layer is refused by safe_mode:
  tests/test_models_registry.py;
* one-line CLI errors and exit code 2: tests/test_bench_main.py.

"""

import io
import json
import os
import pathlib
import resource
import struct
import time
import zlib

import keras
import numpy as np
import pytest
from PIL import Image

from tfds_bench import errors, evaluate, image_checks, input_pipeline, reports
from tfds_bench import predictions as predictions_lib
from tfds_bench.preprocessing import Preprocessing

# ---------------------------------------------------------------------------
# Tiny models: 8x8 input, pixels / 255, global average pool -> 3 numbers ->
# Dense. Class RED, GREEN, BLUE win on saturated colours, GRAY on gray ones,
# by margins far above JPEG noise; the rest of the 1000 scores are small
# random numbers so top-5 is not trivial.
# ---------------------------------------------------------------------------
RED, GREEN, BLUE, GRAY = 100, 200, 300, 400
SIDE = 8
PREPROCESSING = {"input_size": SIDE, "crop_fraction": 1.0, "resize_method": "bilinear",
                 "mean": [0, 0, 0], "std": [255, 255, 255]}


def _weights():
  rng = np.random.default_rng(0)
  kernel = rng.normal(0, 0.3, (3, 1000)).astype(np.float32)
  kernel[0, RED] += 8
  kernel[1, GREEN] += 8
  kernel[2, BLUE] += 8
  kernel[:, GRAY] += 4
  bias = rng.normal(0, 0.1, 1000).astype(np.float32)
  return kernel, bias


def reference_top5(colour) -> np.ndarray:
  """numpy: the 1000-class top-5 of a uniform image of ``colour``."""
  kernel, bias = _weights()
  logits = (np.asarray(colour, np.float32) / 255) @ kernel + bias
  return np.argsort(-logits, kind="stable")[:5]


def _save_model(folder: pathlib.Path, name: str, outputs_fn, **sidecar) -> str:
  inputs = keras.Input((SIDE, SIDE, 3))
  pooled = keras.layers.GlobalAveragePooling2D()(inputs)
  model = keras.Model(inputs, outputs_fn(pooled))
  path = folder / f"{name}.keras"
  model.save(str(path))
  (folder / f"{name}.keras.json").write_text(
      json.dumps({"preprocessing": PREPROCESSING, **sidecar}))
  return str(path)


def _nan_on_red(x, dense, red_gate):
  gate = dense(1, red_gate, 0.0)(x)
  kernel, bias = _weights()
  return dense(1000, kernel[:1], bias)(keras.layers.Activation("exponential")(gate))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
  folder = tmp_path_factory.mktemp("models")
  kernel, bias = _weights()

  def dense(units, w, b, activation=None):
    # Weights set after building (a Constant initializer would be saved in
    # the config and re-run on load).
    layer = keras.layers.Dense(units, activation=activation, name=f"dense_{units}")

    def apply(x):
      y = layer(x)
      layer.set_weights([np.asarray(w, np.float32), np.broadcast_to(
          np.asarray(b, np.float32), (units,))])
      return y
    return apply

  # Background class at index 0 with a logit that would win everywhere if it
  # were not dropped.
  kernel_bg = np.concatenate([np.zeros((3, 1), np.float32), kernel], axis=1)
  bias_bg = np.concatenate([[50.0], bias]).astype(np.float32)
  # Non-finite on red images only: exp(1000 * mean red) overflows to inf.
  red_gate = np.array([[1000.0], [0.0], [0.0]], np.float32)
  return {
      "logits": _save_model(folder, "logits", lambda x: dense(1000, kernel, bias)(x)),
      "background": _save_model(folder, "background",
                                lambda x: dense(1001, kernel_bg, bias_bg)(x), num_classes=1001),
      "probabilities": _save_model(folder, "probabilities",
                                   lambda x: dense(1000, kernel, bias, "softmax")(x),
                                   output="probabilities"),
      "nan_on_red": _save_model(folder, "nan_on_red", lambda x: _nan_on_red(x, dense, red_gate)),
  }


# --------------------------------------------------------------------------- inputs
def uniform(colour, size=(24, 32)) -> np.ndarray:
  return np.full((*size, 3), colour, np.uint8)


def encode(image: np.ndarray, fmt: str = "JPEG", mode: str = None, **kwargs) -> bytes:
  pil = Image.fromarray(image)
  if mode:
    pil = pil.convert(mode)
  buffer = io.BytesIO()
  pil.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}), **kwargs)
  return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
  """A PNG whose header claims width x height, with a few bytes of pixel data."""
  def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
          + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
  """A real small JPEG whose SOF header is rewritten to claim width x height."""
  data = bytearray(encode(uniform((10, 200, 10))))
  sof = data.find(b"\xff\xc0")
  struct.pack_into(">HH", data, sof + 5, height, width)
  return bytes(data)


def make_folder(root: pathlib.Path, files: dict) -> str:
  """files: "<class folder>/<name>" -> bytes."""
  for rel, data in files.items():
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
  return str(root)


def run_folder(model_path: str, root: str, batch_size: int = 4):
  return evaluate.evaluate(model_path, ["image_folder"], batch_size=batch_size,
                           data=evaluate.DataOptions(image_folder=root))


def by_metric(run) -> dict:
  return {r.metric: (r.value, r.n) for r in run.results}


def good_images() -> dict:
  return {f"{RED}/red.JPEG": encode(uniform((250, 5, 5))),
          f"{GREEN}/green.JPEG": encode(uniform((5, 250, 5)))}


# ================================================================ image folder
def test_sanity_good_folder_scores_top1_one(tiny_models, tmp_path):
  assert list(reference_top5((250, 5, 5))[:1]) == [RED]
  got = by_metric(run_folder(tiny_models["logits"], make_folder(tmp_path, good_images())))
  assert got["top1"] == (1.0, 2) and got["top5"] == (1.0, 2)


def test_truncated_jpeg_is_a_clear_error_naming_the_file(tiny_models, tmp_path):
  files = good_images()
  whole = encode(np.random.default_rng(0).integers(0, 256, (96, 128, 3), np.uint8))
  files[f"{BLUE}/cut.JPEG"] = whole[:len(whole) // 2]
  with pytest.raises(errors.DamagedInputError, match=r"(?s)cut\.JPEG.*truncated or corrupt"):
    run_folder(tiny_models["logits"], make_folder(tmp_path, files))


def test_truncated_jpeg_is_found_by_explain_decode_error(tmp_path):
  """The helper evaluate.predict_source calls on a decode failure, on the folder's own dataset."""
  files = good_images()
  whole = encode(np.random.default_rng(0).integers(0, 256, (96, 128, 3), np.uint8))
  files[f"{BLUE}/cut.JPEG"] = whole[:len(whole) // 2]
  dataset = input_pipeline.load_image_folder(make_folder(tmp_path, files))
  spec = Preprocessing(**{**PREPROCESSING, "mean": (0.0,) * 3, "std": (255.0,) * 3})
  import tensorflow as tf
  with pytest.raises(tf.errors.InvalidArgumentError) as raw:
    list(input_pipeline.batches(dataset, spec, 4))
  assert "cut.JPEG" not in str(raw.value)  # what tf.data alone would tell the user
  explained = image_checks.explain_decode_error(dataset, spec.crop_fraction, raw.value)
  assert isinstance(explained, errors.DamagedInputError)
  assert f"{BLUE}/cut.JPEG" in str(explained) and "re-copy" in str(explained)
  # Every image decodes: the original error is returned unchanged.
  assert image_checks.explain_decode_error(dataset, 1.0, raw.value, start=3) is raw.value


def test_zero_byte_file_is_a_clear_error_naming_the_file(tiny_models, tmp_path):
  files = {**good_images(), f"{BLUE}/empty.JPEG": b""}
  with pytest.raises(errors.DamagedInputError, match=r"empty\.JPEG is empty \(0 bytes\)"):
    run_folder(tiny_models["logits"], make_folder(tmp_path, files))


def test_cmyk_jpeg_is_decoded_to_the_right_colours(tiny_models, tmp_path):
  files = {f"{RED}/cmyk.JPEG": encode(uniform((250, 5, 5)), mode="CMYK"),
           f"{GREEN}/cmyk.jpg": encode(uniform((5, 250, 5)), mode="CMYK")}
  root = make_folder(tmp_path, files)
  assert Image.open(os.path.join(root, f"{RED}", "cmyk.JPEG")).mode == "CMYK"
  spec = Preprocessing(SIDE, 1.0, "bilinear")
  (batch,) = list(input_pipeline.batches(input_pipeline.load_image_folder(root), spec, 2))
  np.testing.assert_allclose(batch["image"].numpy().mean(axis=(1, 2)),
                             [[250, 5, 5], [5, 250, 5]], atol=8)
  assert by_metric(run_folder(tiny_models["logits"], root))["top1"] == (1.0, 2)


def test_grayscale_jpeg_becomes_rgb(tiny_models, tmp_path):
  assert reference_top5((200, 200, 200))[0] == GRAY
  root = make_folder(tmp_path, {f"{GRAY}/gray.JPEG": encode(uniform((200, 200, 200)),
                                                            mode="L")})
  assert Image.open(os.path.join(root, f"{GRAY}", "gray.JPEG")).mode == "L"
  assert by_metric(run_folder(tiny_models["logits"], root))["top1"] == (1.0, 1)


def test_png_named_jpeg_is_decoded_by_content(tiny_models, tmp_path):
  root = make_folder(tmp_path, {f"{RED}/really_a_png.JPEG": encode(uniform((250, 5, 5)), "PNG"),
                                f"{GREEN}/really_a_webp.jpg": encode(uniform((5, 250, 5)),
                                                                     "WEBP", lossless=True)})
  assert by_metric(run_folder(tiny_models["logits"], root))["top1"] == (1.0, 2)


def test_tiff_named_jpeg_is_refused_by_the_header_check(tmp_path):
  root = make_folder(tmp_path, {f"{RED}/scan.JPEG": encode(uniform((250, 5, 5)), "TIFF")})
  with pytest.raises(errors.DamagedInputError, match=r"scan\.JPEG is a TIFF file.*convert"):
    input_pipeline.folder_images(root)


BOMBS = {"png_100000x100000": png_header_only(100_000, 100_000),
         "png_20000x20000": png_header_only(20_000, 20_000),   # under TF's own PNG limit
         "jpeg_65000x65000": jpeg_claiming(65_000, 65_000)}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_decompression_bomb_header_is_refused_without_decoding(kind, tmp_path):
  path = tmp_path / f"{kind}.JPEG"
  path.write_bytes(BOMBS[kind])
  before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  start = time.perf_counter()
  with pytest.raises(errors.DamagedInputError,
                     match=rf"{kind}\.JPEG is too large to decode safely.*89,478,485 pixels"):
    image_checks.check_image_file(path)
  assert time.perf_counter() - start < 1.0
  assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_decompression_bomb_in_a_folder_is_a_clear_error(kind, tiny_models, tmp_path):
  files = {**good_images(), f"{BLUE}/{kind}.JPEG": BOMBS[kind]}
  with pytest.raises(errors.DamagedInputError, match=rf"{kind}\.JPEG is too large"):
    run_folder(tiny_models["logits"], make_folder(tmp_path, files))


def test_image_just_under_the_pixel_limit_passes_the_header_check(tmp_path):
  path = tmp_path / "big.png"
  path.write_bytes(png_header_only(9459, 9459))  # 89,472,681 pixels
  info = image_checks.check_image_file(path)
  assert (info.format, info.width, info.height) == ("PNG", 9459, 9459)
  with pytest.raises(errors.DamagedInputError, match="too large"):
    image_checks.check_image_file(path, max_pixels=1000)


@pytest.mark.parametrize("data,message", [
    (b"", r"is empty \(0 bytes\)"),
    (b"<html>404 Not Found</html>", r"is not an image.*b'<html>4"),
    (encode(uniform((1, 2, 3)))[:200], r"damaged .*truncated"),
])
def test_check_image_file_messages(data, message, tmp_path):
  path = tmp_path / "x.JPEG"
  path.write_bytes(data)
  with pytest.raises(errors.DamagedInputError, match=message) as info:
    image_checks.check_image_file(path, full_decode=True)
  assert str(path) in str(info.value)


def test_unknown_wnid_folder_is_a_clear_error(tiny_models, tmp_path):
  files = {**good_images(), "n99999999/a.JPEG": encode(uniform((9, 9, 9)))}
  with pytest.raises(errors.UserError, match=r"class folder 'n99999999': .*not one of the 1000"):
    run_folder(tiny_models["logits"], make_folder(tmp_path, files))


def test_nan_or_inf_logits_name_the_image(tiny_models, tmp_path):
  files = {f"{GREEN}/a_green.JPEG": encode(uniform((0, 250, 0))),
           f"{RED}/b_red.JPEG": encode(uniform((250, 0, 0))),
           f"{BLUE}/c_blue.JPEG": encode(uniform((0, 0, 250)))}
  with pytest.raises(errors.UserError,
                     match=rf"nan_on_red produced NaN or inf scores for 1 image.*'{RED}/b_red.JPEG'"):
    run_folder(tiny_models["nan_on_red"], make_folder(tmp_path, files))


def test_background_class_and_probabilities_models_score_like_the_logits_model(
    tiny_models, tmp_path):
  red, green, blue = (250, 5, 5), (5, 250, 5), (5, 5, 250)
  # Lossless PNG: the three models see exactly the same inputs, and the
  # numpy reference is exact.
  files = {f"{RED}/right.png": encode(uniform(red), "PNG"),                     # top-1
           f"{reference_top5(green)[2]}/third.png": encode(uniform(green), "PNG"),  # top-5 only
           f"{reference_top5(blue)[4]}/fifth.png": encode(uniform(blue), "PNG"),    # top-5 only
           "999/wrong.png": encode(uniform(red), "PNG")}                          # neither
  assert 999 not in reference_top5(red)
  root = make_folder(tmp_path, files)
  got = {name: by_metric(run_folder(tiny_models[name], root, batch_size=3))
         for name in ("logits", "background", "probabilities")}
  assert got["logits"]["top1"] == (0.25, 4) and got["logits"]["top5"] == (0.75, 4)
  for name in ("background", "probabilities"):
    assert got[name]["top1"] == got["logits"]["top1"], name
    assert got[name]["top5"] == got["logits"]["top5"], name
  # Softmax confidences are unchanged too, so calibration agrees.
  assert got["probabilities"]["ece"][0] == pytest.approx(got["logits"]["ece"][0], abs=1e-5)
  assert got["background"]["ece"][0] == pytest.approx(got["logits"]["ece"][0], abs=1e-6)


# ================================================================ --predictions
def _val_names(numbers):
  return np.array([f"ILSVRC2012_val_{i:08d}.JPEG" for i in numbers])


def test_predictions_with_object_arrays_are_never_unpickled(tmp_path):
  marker = tmp_path / "pwned"

  class RunsCode:
    def __reduce__(self):
      return (os.system, (f"touch {marker}",))

  path = tmp_path / "evil.npz"
  np.savez(path, file_name=np.array([RunsCode(), "b"], dtype=object),
           top5=np.zeros((2, 5), np.int64))
  # Refused on one line naming the file (our message, not numpy's ValueError)
  # and never run.
  with pytest.raises(errors.UserError,
                     match=r"evil\.npz: holds an object \(pickled\) array") as error:
    predictions_lib.load_npz(str(path))
  assert "\n" not in str(error.value)
  assert not marker.exists()


def test_predictions_with_a_str_object_array_is_a_user_error(tmp_path):
  path = tmp_path / "names_as_objects.npz"
  np.savez(path, file_name=np.array(["a", "b"], dtype=object), top5=np.zeros((2, 5), np.int64))
  with pytest.raises(errors.UserError, match=r"names_as_objects\.npz.*str array"):
    predictions_lib.load_npz(str(path))


def test_non_npz_file_is_a_clear_error_without_unsafe_advice(tmp_path):
  path = tmp_path / "notes.npz"
  path.write_text("these are not predictions")
  with pytest.raises(errors.UserError, match=r"notes\.npz: not a readable \.npz") as info:
    predictions_lib.load_npz(str(path))
  assert "allow_pickle" not in str(info.value)


def test_empty_file_name_in_predictions_is_refused(tmp_path):
  path = tmp_path / "p.npz"
  np.savez(path, file_name=np.array(["", "ILSVRC2012_val_00000001.JPEG"]),
           top5=np.zeros((2, 5), np.int64))
  with pytest.raises(errors.UserError, match=r"p\.npz: .*empty file name"):
    predictions_lib.load_npz(str(path))


def test_predictions_for_part_of_val_report_their_own_n(tmp_path):
  """A file missing most val images is scored on what it has, and says so in n."""
  from tfds_bench import labels
  numbers = np.arange(1, 11)
  top5 = np.zeros((10, 5), np.int64)
  top5[:, 0] = labels.val_labels()[:10]
  path = tmp_path / "partial.npz"
  np.savez(path, file_name=_val_names(numbers), top5=top5)
  run = evaluate.score_predictions(predictions_lib.load_npz(str(path)), ["imagenet2012"],
                                   "partial")
  assert by_metric(run)["top1"] == (1.0, 10)


def test_predictions_with_unknown_file_names_name_one(tmp_path):
  path = tmp_path / "p.npz"
  np.savez(path, file_name=np.array(["ILSVRC2012_val_00000001.JPEG", "holiday.jpg"]),
           top5=np.zeros((2, 5), np.int64))
  with pytest.raises(errors.UserError, match="holiday.jpg"):
    evaluate.score_predictions(predictions_lib.load_npz(str(path)), ["imagenet2012"], "p")


# ================================================================ --report
_RECORD = {"model": "m", "benchmark": "imagenet2012", "metric": "top1", "value": 0.5, "n": 3}


@pytest.mark.parametrize("content,message", [
    (b'[{"model": "m", "benchmark"', "is not valid JSON"),
    (b'{"results": {"a": 1}}', "expected a list of results"),
    (json.dumps([{k: v for k, v in _RECORD.items() if k != "n"}]).encode(), "result 0 lacks n"),
    (b"[1, 2]", "result 0 is not an object"),
    (json.dumps([{**_RECORD, "value": "0.5"}]).encode(), "result 0: value"),
    (json.dumps([{**_RECORD, "value": None}]).encode(), "result 0: value"),
    (b"\xff\xfe[]", "not UTF-8"),
])
def test_malformed_results_file_for_report_is_a_clear_error(content, message, tmp_path):
  path = tmp_path / "results.json"
  path.write_bytes(content)
  with pytest.raises(errors.UserError, match=message) as info:
    reports.format_table(reports.load_results(str(path)))
  assert str(path) in str(info.value)


def test_report_of_a_folder_is_a_clear_error(tmp_path):
  with pytest.raises(errors.UserError, match=str(tmp_path)):
    reports.load_results(str(tmp_path))


# ============================================== names, folders, model files
def test_unicode_file_names_work_end_to_end(tiny_models, tmp_path):
  files = {f"{RED}/my cät 猫 photo.JPEG": encode(uniform((250, 5, 5))),
           f"{GREEN}/ü.jpg": encode(uniform((5, 250, 5)))}
  run = run_folder(tiny_models["logits"], make_folder(tmp_path / "in", files))
  assert by_metric(run)["top1"] == (1.0, 2)
  written = reports.write_results(str(tmp_path / "out"), run.records(), run.provenance)
  assert len(written) == 2
  # And the names themselves survive the pipeline, as str.
  dataset = input_pipeline.load_image_folder(str(tmp_path / "in"))
  names = [ex["file_name"].numpy().decode("utf-8") for ex in dataset]
  assert names == sorted(files)


def test_unicode_names_in_a_predictions_file(tmp_path):
  names = ["猫/ILSVRC2012_val_00000001.JPEG", "ü.jpg"]
  for stored in (np.array(names), np.array([n.encode("utf-8") for n in names])):
    np.savez(tmp_path / "p.npz", file_name=stored, top5=np.zeros((2, 5), np.int64))
    assert list(predictions_lib.load_npz(str(tmp_path / "p.npz")).file_name) == names


def test_images_beside_the_class_folders_are_an_error_not_dropped(tmp_path):
  files = {**good_images(), "stray.JPEG": encode(uniform((250, 5, 5)))}
  with pytest.raises(errors.UserError, match=r"1 file\(s\) lie directly in .*stray\.JPEG"):
    input_pipeline.load_image_folder(make_folder(tmp_path, files))


def test_image_folder_leaves_no_temporary_directory(tmp_path, monkeypatch):
  import tempfile
  monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
  (tmp_path / "tmp").mkdir()
  tempfile.tempdir = None  # re-read TMPDIR
  try:
    dataset = input_pipeline.load_image_folder(make_folder(tmp_path / "in", good_images()))
    assert len(list(dataset)) == 2
    assert os.listdir(tmp_path / "tmp") == []
  finally:
    tempfile.tempdir = None


def _save_plain(path: pathlib.Path, inputs, outputs, size: int = SIDE) -> str:
  keras.Model(inputs, outputs).save(str(path))
  preprocessing = {**PREPROCESSING, "input_size": size}
  (path.parent / f"{path.name}.json").write_text(json.dumps({"preprocessing": preprocessing}))
  return str(path)


def test_keras_models_of_the_wrong_shape_are_one_line_errors(tmp_path):
  dense = keras.layers.Dense(1000)
  square = keras.Input((SIDE, SIDE, 3))
  pooled = keras.layers.GlobalAveragePooling2D()(square)
  two_outputs = _save_plain(tmp_path / "two.keras", square, [dense(pooled), pooled])
  first = keras.Input((3, SIDE, SIDE))
  channels_first = _save_plain(
      tmp_path / "cf.keras", first,
      keras.layers.Dense(1000)(keras.layers.GlobalAveragePooling2D("channels_first")(first)))
  big = keras.Input((32, 32, 3))
  wrong_size = _save_plain(tmp_path / "size.keras", big,
                           keras.layers.Dense(1000)(keras.layers.GlobalAveragePooling2D()(big)))
  garbage = tmp_path / "garbage.keras"
  garbage.write_bytes(b"not a zip at all")
  (tmp_path / "garbage.keras.json").write_text(json.dumps({"preprocessing": PREPROCESSING}))
  from tfds_bench import models
  for path, match in ((two_outputs, r"1 input\(s\) and 2 output\(s\)"),
                      (channels_first, "not channels-last"),
                      (wrong_size, "input shape .*32, 32, 3.* gives 8x8"),
                      (str(garbage), "garbage.keras: not a loadable .keras model")):
    with pytest.raises(errors.UserError, match=match):
      models.get(path).build()


@pytest.mark.parametrize("sidecar,match", [
    ({"output": "softmax"}, r"\"output\" must be"),
    ({"num_classes": "1000"}, r"\"num_classes\" must be the number"),
    ({"num_classes": 10}, r"\"num_classes\" must be the number"),
])
def test_sidecar_values_of_the_wrong_type_are_one_line_errors(tmp_path, sidecar, match):
  from tfds_bench import models
  model = tmp_path / "m.keras"
  model.write_bytes(b"")
  (tmp_path / "m.keras.json").write_text(json.dumps({"preprocessing": PREPROCESSING,
                                                     **sidecar}))
  with pytest.raises(errors.UserError, match=match):
    models.get(str(model))
  (tmp_path / "m.keras.json").write_text("[1, 2]")
  with pytest.raises(errors.UserError, match="expected a JSON object"):
    models.get(str(model))


def test_weights_of_the_wrong_kind_are_refused_before_loading(tmp_path):
  from tfds_bench import models
  weights = tmp_path / "x.keras"
  weights.write_bytes(b"zip")
  with pytest.raises(errors.UserError, match=r"efficientnet_lite0 reads its weights from a "
                                             r"\.pth / \.pt file"):
    models.get("efficientnet").build(str(weights))
  with pytest.raises(errors.UserError, match=r"only registered names .* \.keras files"):
    models.get("model.h5")
