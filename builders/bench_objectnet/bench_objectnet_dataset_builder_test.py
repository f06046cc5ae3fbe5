"""Tests `bench_objectnet` on the shipped dummy, encrypted `objectnet-1.0.zip`.

The dummy zip (tests/tools/make_builder_dummy_data.py) has the released layout
and password; its PNGs (RGBA and RGB) are framed by a 2-pixel red border
around an interior whose pixels are R = 10 x, G = 10 y, B = 100 + k for the
k-th image: the stored image must be exactly that interior.
"""

import numpy as np
import tensorflow_datasets as tfds

from tfds_bench.builders.bench_objectnet import bench_objectnet_dataset_builder

# file name -> (label, ObjectNet class, width and height of the zip's PNG).
EXPECTED = {
    "alarm_clock/000000000000001.png": (0, "Alarm clock", 12, 10),
    "alarm_clock/000000000000002.png": (0, "Alarm clock", 9, 14),
    "chair/000000000000003.png": (18, "Chair", 10, 10),
    "wok/000000000000004.png": (112, "Wok", 11, 13),
    "squeegee/000000000000005.png": (-1, "Squeegee", 8, 9),
}


def _interior(k: int, width: int, height: int) -> np.ndarray:
  y, x = np.mgrid[0:height, 0:width]
  return np.stack([10 * x, 10 * y, np.full_like(x, 100 + k)],
                  axis=-1).astype(np.uint8)


class BenchObjectnetTest(tfds.testing.DatasetBuilderTestCase):
  """Prepares the dummy zip; labels, classes and the cropped border."""

  DATASET_CLASS = bench_objectnet_dataset_builder.Builder
  SPLITS = {"test": 5}
  # TFDS looks for dummy_data/ next to the module path, which the package_dir
  # mapping breaks in editable installs; point at the real folder.
  EXAMPLE_DIR = DATASET_CLASS.pkg_dir_path / "dummy_data"

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    names = bench_objectnet_dataset_builder.label_space_class_names()
    seen = set()
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      file_name = example["file_name"].decode()
      label, objectnet_class, width, height = EXPECTED[file_name]
      self.assertEqual(example["label"], label)
      self.assertEqual(example["objectnet_class"].decode(), objectnet_class)
      if label >= 0:
        self.assertEqual(names[label], objectnet_class)
      k = int(file_name.split("/")[1].split(".")[0], 16)
      np.testing.assert_array_equal(example["image"],
                                    _interior(k, width - 4, height - 4))
      seen.add(file_name)
    self.assertEqual(seen, set(EXPECTED))


if __name__ == "__main__":
  tfds.testing.test_main()
