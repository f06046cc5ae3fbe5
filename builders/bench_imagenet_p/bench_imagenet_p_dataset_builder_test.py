"""Tests `bench_imagenet_p` on its dummy data, once per source.

`dummy_data/released/` holds `noise.tar` and `digital.tar` with tiny H.264
mp4s in the released layout (read with PyAV, which the test extra installs);
`dummy_data/generated/` holds a two-image `ILSVRC2012_img_val.tar`. Each
folder is the manual_dir of one test class. (Regenerate them with
tests/tools/make_imagenet_p_dummy_data.py.)
"""

import tensorflow_datasets as tfds

from tfds_bench.release import imagenet_p
from tfds_bench import labels
from tfds_bench.builders import subset_builder_testing
from tfds_bench.builders.bench_imagenet_p import bench_imagenet_p_dataset_builder

_BUILDER = bench_imagenet_p_dataset_builder.Builder
_DUMMY_DIR = _BUILDER.pkg_dir_path / "dummy_data"


class _FrameChecksMixin(subset_builder_testing.ConfigCountsMixin):
  """Per-config split sizes, and frame names / labels / order checks."""

  FRAMES_PER_VIDEO = 0

  def _assertAsDataset(self, builder):
    super()._assertAsDataset(builder)
    self.assertEqual(builder.info.metadata["source"], self.SOURCE)
    val_labels = labels.val_labels()
    previous = None
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
      file_name = example["file_name"].decode()
      video_id, frame = imagenet_p.parse_frame_file_name(file_name)
      self.assertEqual(video_id, example["video_id"].decode())
      self.assertEqual(frame, example["frame"])
      self.assertLess(frame, self.FRAMES_PER_VIDEO)
      self.assertEqual(example["label"],
                       val_labels[labels.val_file_number(video_id + ".JPEG") - 1])
      self.assertEqual(example["image"].shape, (224, 224, 3))
      # Written in order: a video's frames are contiguous and ascending.
      if previous is not None and previous[0] == video_id:
        self.assertEqual(frame, previous[1] + 1)
      else:
        self.assertEqual(frame, 0)
      previous = (video_id, frame)


class BenchImagenetPReleasedTest(_FrameChecksMixin,
                                 tfds.testing.DatasetBuilderTestCase):
  """Decodes the released-layout mp4s."""

  DATASET_CLASS = _BUILDER
  BUILDER_CONFIG_NAMES_TO_TEST = ["gaussian_noise", "rotate"]
  SPLITS = {"test": 8}  # Set per config from COUNTS_BY_CONFIG.
  COUNTS_BY_CONFIG = {"gaussian_noise": 8, "rotate": 12}
  FRAMES_PER_VIDEO = 4
  SOURCE = "released"
  SKIP_CHECKSUMS = True
  EXAMPLE_DIR = _DUMMY_DIR / "released"


class BenchImagenetPGeneratedTest(_FrameChecksMixin,
                                  tfds.testing.DatasetBuilderTestCase):
  """Generates from the val archive (no released archive in manual_dir)."""

  DATASET_CLASS = _BUILDER
  BUILDER_CONFIG_NAMES_TO_TEST = ["translate", "gaussian_noise"]
  SPLITS = {"test": 82}  # Set per config from COUNTS_BY_CONFIG.
  COUNTS_BY_CONFIG = {"translate": 2 * 41, "gaussian_noise": 2 * 31}
  FRAMES_PER_VIDEO = 41
  SOURCE = "generated"
  SKIP_CHECKSUMS = True
  EXAMPLE_DIR = _DUMMY_DIR / "generated"


if __name__ == "__main__":
  tfds.testing.test_main()
