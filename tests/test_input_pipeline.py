"""The input pipeline: padding and masking, determinism, label lists, folders,
preparation shared between runs."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfds_bench import errors, input_pipeline
from tfds_bench.preprocessing import Preprocessing, preprocess_array
from tests.conftest import write_jpeg

SPEC = Preprocessing(input_size=16, crop_fraction=0.875, resize_method="bilinear")


def _encoded_examples(n: int) -> tf.data.Dataset:
  rng = np.random.default_rng(0)
  images = [tf.io.encode_png(rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8)).numpy()
            for i in range(n)]
  return tf.data.Dataset.from_tensor_slices({
      "image": images,
      "label": np.arange(n, dtype=np.int64),
      "file_name": [f"img_{i:03d}.png" for i in range(n)],
      "real_label": tf.ragged.constant([[i] * (i % 3) for i in range(n)], dtype=tf.int64),
  })


@pytest.mark.parametrize("n,batch_size", [(10, 4), (8, 4), (3, 8), (1, 1)])
def test_last_batch_is_padded_and_masked_never_dropped(n, batch_size):
  batches = list(input_pipeline.batches(_encoded_examples(n), SPEC, batch_size,
                                        label_lists={"real_label": 4}))
  assert len(batches) == -(-n // batch_size)
  for b in batches:
    assert b["image"].shape == (batch_size, 16, 16, 3)
    assert b["mask"].shape == (batch_size,)
  mask = np.concatenate([b["mask"].numpy() for b in batches])
  names = np.concatenate([b["file_name"].numpy() for b in batches])
  labels = np.concatenate([b["label"].numpy() for b in batches])
  assert mask.sum() == n
  assert list(names[mask > 0].astype(str)) == [f"img_{i:03d}.png" for i in range(n)]
  assert (labels[mask == 0] == -1).all()
  assert (names[mask == 0] == b"").all()


def test_label_lists_travel_as_minus_one_padded_fixed_width():
  (batch,) = list(input_pipeline.batches(_encoded_examples(5), SPEC, 5,
                                         label_lists={"real_label": 4}))
  np.testing.assert_array_equal(batch["real_label"].numpy(), [
      [-1, -1, -1, -1], [1, -1, -1, -1], [2, 2, -1, -1], [-1, -1, -1, -1], [4, -1, -1, -1]])


def test_label_list_wider_than_padding_is_an_error():
  with pytest.raises(tf.errors.InvalidArgumentError, match="padding width"):
    list(input_pipeline.batches(_encoded_examples(5), SPEC, 5, label_lists={"real_label": 1}))


def test_order_and_values_are_deterministic():
  run = lambda: np.concatenate([b["image"].numpy() for b in
                                input_pipeline.batches(_encoded_examples(9), SPEC, 4)])
  np.testing.assert_array_equal(run(), run())


def test_decoded_bytes_match_preprocessing_of_the_array():
  image = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
  ds = tf.data.Dataset.from_tensors({"image": tf.io.encode_png(image), "file_name": "a"})
  (batch,) = list(input_pipeline.batches(ds, SPEC, 1))
  np.testing.assert_allclose(batch["image"].numpy()[0], preprocess_array(image, SPEC).numpy(),
                             atol=1e-5)


def test_grayscale_and_rgba_become_rgb():
  gray = tf.io.encode_png(np.full((10, 10, 1), 7, np.uint8))
  rgba = tf.io.encode_png(np.full((10, 10, 4), 9, np.uint8))
  ds = tf.data.Dataset.from_tensor_slices({"image": [gray, rgba], "file_name": ["g", "r"]})
  (batch,) = list(input_pipeline.batches(ds, SPEC, 2))
  np.testing.assert_allclose(batch["image"].numpy()[0], 7.0, atol=1e-4)
  np.testing.assert_allclose(batch["image"].numpy()[1], 9.0, atol=1e-4)


def test_non_positive_batch_size_is_a_user_error():
  with pytest.raises(errors.UserError, match="batch size"):
    input_pipeline.batches(_encoded_examples(2), SPEC, 0)


def _folder_labels(root) -> dict:
  ds = input_pipeline.load_image_folder(str(root))
  return {ex["file_name"].numpy().decode(): int(ex["label"]) for ex in ds}


def test_image_folder_integer_folders_map_by_value_not_string_order(tmp_path):
  image = np.zeros((8, 8, 3), np.uint8)
  classes = [0, 1, 2, 10, 100, 999, 11]
  for c in classes:
    write_jpeg(tmp_path / str(c) / "x.jpeg", image)
  found = _folder_labels(tmp_path)
  assert found == {f"{c}/x.jpeg": c for c in classes}


def test_image_folder_wnid_folders(tmp_path):
  image = np.zeros((8, 8, 3), np.uint8)
  write_jpeg(tmp_path / "n01440764" / "a.JPEG", image)   # class 0, tench
  write_jpeg(tmp_path / "n15075141" / "b.JPEG", image)   # class 999, toilet tissue
  assert _folder_labels(tmp_path) == {"n01440764/a.JPEG": 0, "n15075141/b.JPEG": 999}


@pytest.mark.parametrize("folder,match", [("n99999999", "not one of the 1000"),
                                          ("1000", "class index 0..999"),
                                          ("cats", "not one of the 1000")])
def test_image_folder_unknown_class_folder_is_named(tmp_path, folder, match):
  write_jpeg(tmp_path / folder / "a.jpg", np.zeros((8, 8, 3), np.uint8))
  with pytest.raises(errors.UserError, match=match) as info:
    input_pipeline.load_image_folder(str(tmp_path))
  assert folder in str(info.value)


def test_image_folder_refuses_files_it_would_skip(tmp_path):
  write_jpeg(tmp_path / "n01440764" / "a.jpg", np.zeros((8, 8, 3), np.uint8))
  (tmp_path / "n01440764" / "b.webp").write_bytes(b"RIFF")
  with pytest.raises(errors.UserError, match="b.webp"):
    input_pipeline.load_image_folder(str(tmp_path))


def test_image_folder_missing_dir(tmp_path):
  with pytest.raises(errors.UserError, match="no such directory"):
    input_pipeline.load_image_folder(str(tmp_path / "nope"))


PREPARE_SCRIPT = """
import sys
from tfds_bench import input_pipeline
dataset = input_pipeline.load_split("bench_sample", "test", data_dir=sys.argv[1])
print(len(list(dataset)))
"""


def test_two_runs_sharing_a_data_dir_prepare_once_and_both_succeed(tmp_path):
  # Without the lock both prepare, and the second rename fails in TFDS with
  # FileExistsError; with it the second waits and reuses the first's work.
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  runs = [subprocess.Popen([sys.executable, "-c", PREPARE_SCRIPT, str(tmp_path)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
          for _ in range(2)]
  outputs = [run.communicate(timeout=600) for run in runs]
  for run, (stdout, stderr) in zip(runs, outputs):
    assert run.returncode == 0, stderr[-3000:]
    assert stdout.strip() == "7"
    # TFDS's "Downloading and preparing dataset ..." is not printed: nothing downloads.
    assert "Downloading" not in stdout + stderr
  assert not list((tmp_path / "bench_sample").glob("incomplete.*"))


def test_sample_c_progress_has_a_total_before_preparation(tmp_path):
  import tensorflow_datasets as tfds
  from tfds_bench.builders.bench_sample_c import bench_sample_c_dataset_builder as sample_c
  builder = tfds.builder("bench_sample_c", data_dir=str(tmp_path))
  assert not builder.is_prepared()
  # TFDS's "Generating test examples" bar takes its total from here.
  assert builder.info.splits["test"].num_examples == sample_c.Builder.num_examples() == 7 * 19 * 5
