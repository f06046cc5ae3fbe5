"""ImageNet-C-bar: configs, released layout, on the fly == generated, the rows and their scorers."""

import io
import json
import tarfile

import numpy as np
import PIL.Image
import pytest
import tensorflow_datasets as tfds

from tfds_bench import benchmark_table, errors
from tfds_bench.benchmark_types import ScoringContext, ScoringOptions
from tfds_bench.builders.bench_imagenet_c_bar import bench_imagenet_c_bar_dataset_builder
from tfds_bench.labels import data_path
from tests.conftest import C_BAR_BASELINE, top1_wrong_predictions
from tfds_bench.release import common, imagenet_c, imagenet_c_bar
from tfds_bench.scoring import imagenet_c as imagenet_c_scoring
from tfds_bench.sources import ImageNetCSource

GENERATED_DIR = (bench_imagenet_c_bar_dataset_builder.Builder.pkg_dir_path / "dummy_data"
                 / "generated")


def test_configs():
  assert len(imagenet_c_bar.ALL_CONFIGS) == 50
  assert imagenet_c_bar.Config.parse("caustic_refraction_5") == imagenet_c_bar.Config(
      "caustic_refraction", 5)
  assert {c.corruption for c in imagenet_c_bar.ALL_CONFIGS} == set(imagenet_c_bar.NAMES)
  # One config type for the pipeline both sets are made with.
  assert imagenet_c_bar.Config is imagenet_c.Config
  with pytest.raises(ValueError, match="not an ImageNet-C config"):
    imagenet_c_bar.Config("rain", 1)
  with pytest.raises(ValueError, match="not an ImageNet-C config"):
    imagenet_c_bar.Config.parse("sparkles_6")


def _tar(path, names):
  with tarfile.open(path, "w:gz") as tar:
    for name in names:
      buf = io.BytesIO()
      PIL.Image.new("RGB", (8, 8)).save(buf, "JPEG")
      info = tarfile.TarInfo(name)
      info.size = len(buf.getvalue())
      tar.addfile(info, io.BytesIO(buf.getvalue()))
  return path


def test_released_members_with_or_without_a_top_folder(tmp_path):
  flat = _tar(tmp_path / "a.tar.gz", ["sparkles/2/n01440764/ILSVRC2012_val_00000001.JPEG",
                                      "sparkles/3/n01440764/ILSVRC2012_val_00000002.JPEG"])
  assert [m[:2] for m in imagenet_c_bar.iter_released_members(flat, "sparkles", 2)] == [
      ("n01440764", "ILSVRC2012_val_00000001.JPEG")]
  nested = _tar(tmp_path / "b.tar.gz", ["top/sparkles/2/n01440764/ILSVRC2012_val_00000001.JPEG"])
  assert len(list(imagenet_c_bar.iter_released_members(nested, "sparkles", 2))) == 1
  with pytest.raises(errors.DamagedInputError, match="no images of sparkles at severity 4"):
    list(imagenet_c_bar.iter_released_members(flat, "sparkles", 4))
  odd = _tar(tmp_path / "c.tar.gz", ["fog/2/n01440764/ILSVRC2012_val_00000001.JPEG"])
  with pytest.raises(errors.DamagedInputError, match="Unexpected member 'fog/2/"):
    list(imagenet_c_bar.iter_released_members(odd, "sparkles", 2))


@pytest.mark.parametrize("config", ["perlin_noise_2", "caustic_refraction_5"])
def test_on_the_fly_images_equal_the_builders_generated_images(config, tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tfds_bench import labels  # pylint: disable=g-import-not-at-top
  builder = tfds.builder(f"bench_imagenet_c_bar/{config}", data_dir=str(tmp_path))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(GENERATED_DIR)))
  stored = {ex["file_name"].decode(): ex["image"] for ex in tfds.as_numpy(
      builder.as_dataset(split="test", decoders={"image": tfds.decode.SkipDecoding()}))}
  with tarfile.open(GENERATED_DIR / common.VAL_ARCHIVE_NAME) as tar:
    members = sorted((m.name, tar.extractfile(m).read()) for m in tar if m.isfile())
  names = [n for n, _ in members]
  val = tf.data.Dataset.from_tensor_slices({
      "image": [d for _, d in members], "file_name": names,
      "label": [labels.val_labels()[labels.val_file_number(n) - 1] for n in names]})
  source = [s for s in benchmark_table.get("imagenet_c_bar").sources[1:]
            if s.config.name == config][0]
  assert source.builder == f"bench_imagenet_c_bar/{config}"
  on_the_fly = {ex["file_name"].decode(): ex["image"] for ex in tfds.as_numpy(
      imagenet_c.corrupt_on_the_fly(val, source.config))}
  assert sorted(on_the_fly) == sorted(stored) and len(stored) >= 3

  def decode(jpeg):
    with PIL.Image.open(io.BytesIO(jpeg)) as image:
      return np.asarray(image.convert("RGB"))

  for name, jpeg in on_the_fly.items():
    np.testing.assert_array_equal(decode(jpeg), decode(stored[name]), err_msg=name)


def _c_bar_row_predictions():
  """Predictions for the imagenet_c_bar row: 4 images, 1 clean one wrong, and
  config k (in the row's order) with k % 5 wrong (the same 4 images everywhere)."""
  files = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 5)]
  label = [3, 1, 4, 1]
  return [top1_wrong_predictions(files, label, 1)] + [
      top1_wrong_predictions(files, label, min(k % 5, 4)) for k in range(50)]


def test_the_row_scores_mean_error_without_a_normaliser():
  row = benchmark_table.get("imagenet_c_bar")
  assert len(row.sources) == 51 and all(isinstance(s, ImageNetCSource) for s in row.sources[1:])
  results = imagenet_c_scoring.score_imagenet_c_row(_c_bar_row_predictions(),
                                                    ScoringContext(row))
  values = {r.metric: r.value for r in results}
  assert "mce" not in values and "relative_mce" not in values
  expected_per_corruption = np.mean([min(w, 4) / 4 for w in range(5)])
  for name in imagenet_c_bar.NAMES:
    assert values[f"error/{name}"] == pytest.approx(expected_per_corruption)
  assert values["mean_error"] == pytest.approx(expected_per_corruption)
  assert values["clean_error"] == 0.25
  assert set(values) <= {f"error/{c.name}" for c in imagenet_c_bar.ALL_CONFIGS} | {
      f"error/{n}" for n in imagenet_c_bar.NAMES} | set(imagenet_c_scoring.UNNORMALISED_METRICS)
  assert all(r.benchmark == "imagenet_c_bar" for r in results)


def _score_with_manual_dir(manual_dir):
  row = benchmark_table.get("imagenet_c_bar")
  context = ScoringContext(row, ScoringOptions(manual_dir=str(manual_dir)))
  return {r.metric: r for r in imagenet_c_scoring.score_imagenet_c_row(
      _c_bar_row_predictions(), context)}


def test_a_baseline_in_manual_dir_gives_c_bar_mce_and_relative_mce(tmp_path):
  assert "mce" not in _score_with_manual_dir(tmp_path)  # no file: no normaliser invented
  rng = np.random.default_rng(0)
  baseline = {name: float(rng.uniform(0.6, 0.9)) for name in imagenet_c_bar.NAMES}
  # A list is the 5 severities' errors, averaged.
  baseline["sparkles"] = [0.5, 0.6, 0.7, 0.8, 0.9]
  (tmp_path / benchmark_table.C_BAR_BASELINE_FILE).write_text(json.dumps(
      {"model": "my baseline", "errors": baseline, "clean_error": 0.4}))
  results = _score_with_manual_dir(tmp_path)
  errors_c = {name: results[f"error/{name}"].value for name in imagenet_c_bar.NAMES}
  means = {name: float(np.mean(v)) for name, v in baseline.items()}
  clean = results["clean_error"].value
  assert results["mce"].value == pytest.approx(
      np.mean([errors_c[c] / means[c] for c in imagenet_c_bar.NAMES]), rel=1e-12)
  assert results["relative_mce"].value == pytest.approx(
      np.mean([(errors_c[c] - clean) / (means[c] - 0.4) for c in imagenet_c_bar.NAMES]),
      rel=1e-12)
  assert results["mce"].n == results["mean_error"].n == 4 * 50
  # Without a clean error: mCE only.
  del baseline["sparkles"]
  baseline["sparkles"] = 0.7
  (tmp_path / benchmark_table.C_BAR_BASELINE_FILE).write_text(json.dumps({"errors": baseline}))
  results = _score_with_manual_dir(tmp_path)
  assert "mce" in results and "relative_mce" not in results


@pytest.mark.parametrize("payload,message", [
    ("not json", "cannot read baseline errors from"),
    (json.dumps({"errors": {"sparkles": 0.5}}), "no baseline error 'blue_noise_sample'"),
    (json.dumps({"errors": {n: 50.0 for n in imagenet_c_bar.NAMES}}), "fractions in"),
    (json.dumps({"errors": {n: [0.5] * 3 for n in imagenet_c_bar.NAMES}}), "need 1 or 5"),
    (json.dumps({"errors": {n: 0.0 for n in imagenet_c_bar.NAMES}}), "error of 0"),
    (json.dumps({"errors": {n: 0.4 for n in imagenet_c_bar.NAMES}, "clean_error": 0.4}),
     "equal to the clean error"),
])
def test_a_bad_baseline_file_is_named_with_its_fix(tmp_path, payload, message):
  path = tmp_path / benchmark_table.C_BAR_BASELINE_FILE
  path.write_text(payload)
  with pytest.raises(errors.UserError) as raised:
    _score_with_manual_dir(tmp_path)
  assert message in str(raised.value) and str(path) in str(raised.value)
  assert '"clean_error"' in str(raised.value)  # the fix: what the file should hold


def test_the_release_baseline_file_is_alexnets_imagenet_c_errors():
  with data_path("augmentation_corruption_mce_baseline_imagenet.json").open("r") as f:
    release = json.load(f)
  with data_path("imagenet_c_alexnet.json").open("r") as f:
    alexnet = json.load(f)
  for name, error in alexnet["alexnet_error"].items():
    assert release["errors"][name] == pytest.approx(100 * error, abs=1e-9), name
  assert not set(release["errors"]) & set(imagenet_c_bar.NAMES)


@pytest.mark.reads_default_command_runs
def test_sample_c_bar_runs_offline_from_the_command_line(default_command_runs):
  """`bench_main --benchmarks=sample_c_bar` with no data but a baseline file in
  --manual_dir (run in the background from the session's start, conftest):
  the builder makes the 350 images, the row reports per-corruption errors,
  their mean, and mCE / relative mCE against the file."""
  proc = default_command_runs.sample_c_bar()
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = default_command_runs.tmp_path / "sample_c_bar_run"
  baseline = C_BAR_BASELINE["errors"]
  assert set(baseline) == set(imagenet_c_bar.NAMES)
  records = [r for r in json.loads((out / "results.json").read_text())["results"]
             if r["benchmark"] == "sample_c_bar"]
  n = {r["metric"]: r["n"] for r in records}
  value = {r["metric"]: r["value"] for r in records}
  assert n["mean_error"] == 7 * 50 and n["clean_error"] == n["clean_top1"] == 7
  assert all(n[f"error/{name}"] == 35 for name in imagenet_c_bar.NAMES)
  assert all(n[f"error/{config.name}"] == 7 for config in imagenet_c_bar.ALL_CONFIGS)
  assert value["mean_error"] == pytest.approx(
      np.mean([value[f"error/{name}"] for name in imagenet_c_bar.NAMES]))
  assert n["mce"] == n["relative_mce"] == 7 * 50
  assert value["mce"] == pytest.approx(
      np.mean([value[f"error/{name}"] / baseline[name] for name in imagenet_c_bar.NAMES]))
  assert value["relative_mce"] == pytest.approx(np.mean(
      [(value[f"error/{name}"] - value["clean_error"]) / (baseline[name] - 0.25)
       for name in imagenet_c_bar.NAMES]))
  # --list promises exactly the metric families the row reports.
  listed = {m.split("/<")[0] for m in benchmark_table.get("sample_c_bar").metrics}
  assert {m.split("/")[0] for m in n} == listed
  assert "efficientnet_lite0  sample_c_bar  mean_error" in proc.stdout


def test_the_rows_check_their_baseline_file_before_any_forward_pass(tmp_path):
  """`benchmark_table.check_row_inputs`: what bench_main (before TensorFlow
  loads) and evaluate (before the forward passes) call on the chosen rows."""
  rows = [benchmark_table.get("imagenet_c_bar"), benchmark_table.get("sample_c_bar")]
  benchmark_table.check_row_inputs(rows, None)
  benchmark_table.check_row_inputs(rows, str(tmp_path))  # no file: nothing to check
  (tmp_path / benchmark_table.C_BAR_BASELINE_FILE).write_text('{"errors": []}')
  for row in rows:
    with pytest.raises(errors.UserError, match="imagenet_c_bar_baseline.json"):
      benchmark_table.check_row_inputs([row], str(tmp_path))
