"""ImageNet-C on the fly: inside tf.data, the same images bench_imagenet_c generates."""

import io
import tarfile

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_bench import labels
from tfds_bench.release import common, imagenet_c
from tfds_bench.builders.bench_imagenet_c import bench_imagenet_c_dataset_builder

GENERATED_DIR = bench_imagenet_c_dataset_builder.Builder.pkg_dir_path / "dummy_data" / "generated"


def _val_dataset() -> tf.data.Dataset:
  """The dummy val tar's members as ImageNet val examples (bytes, label, name)."""
  with tarfile.open(GENERATED_DIR / common.VAL_ARCHIVE_NAME) as tar:
    members = sorted((m.name, tar.extractfile(m).read()) for m in tar if m.isfile())
  names = [n for n, _ in members]
  return tf.data.Dataset.from_tensor_slices({
      "image": [data for _, data in members], "file_name": names,
      "label": [labels.val_labels()[labels.val_file_number(n) - 1] for n in names]})


def _decode(jpeg: bytes) -> np.ndarray:
  with PIL.Image.open(io.BytesIO(jpeg)) as image:
    return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("config", ["gaussian_noise_3", "glass_blur_2", "snow_4", "frost_1",
                                    "jpeg_compression_5"])
def test_on_the_fly_images_equal_the_builders_generated_images(config, tmp_path):
  builder = tfds.builder(f"bench_imagenet_c/{config}", data_dir=str(tmp_path))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(GENERATED_DIR)))
  stored = {ex["file_name"].decode(): (ex["image"], int(ex["label"])) for ex in tfds.as_numpy(
      builder.as_dataset(split="test", decoders={"image": tfds.decode.SkipDecoding()}))}
  on_the_fly = {ex["file_name"].decode(): (ex["image"], int(ex["label"])) for ex in tfds.as_numpy(
      imagenet_c.corrupt_on_the_fly(_val_dataset(), imagenet_c.Config.parse(config)))}
  assert sorted(on_the_fly) == sorted(stored) and len(stored) >= 3
  for name, (jpeg, label) in on_the_fly.items():
    assert label == stored[name][1]
    np.testing.assert_array_equal(_decode(jpeg), _decode(stored[name][0]), err_msg=name)


def test_unknown_corruption_or_severity_is_refused_where_the_config_is_made():
  with pytest.raises(ValueError, match="not an ImageNet-C config"):
    imagenet_c.Config("rain", 3)
  with pytest.raises(ValueError, match="not an ImageNet-C config"):
    imagenet_c.Config("snow", 6)
  with pytest.raises(ValueError, match="not an ImageNet-C config"):
    imagenet_c.Config.parse("snow_6")
  assert imagenet_c.Config.parse("snow_2") == imagenet_c.Config("snow", 2)
  assert sorted([imagenet_c.Config("snow", 2), imagenet_c.Config("gaussian_noise", 5)])[0] == \
      imagenet_c.Config("gaussian_noise", 5)
