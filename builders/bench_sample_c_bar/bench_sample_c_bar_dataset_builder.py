"""bench_sample_c_bar: the sample photos under the 10 ImageNet-C-bar corruptions x 5 severities.

Made with tfds_bench's corruption engine through the ImageNet-C-bar release
pipeline, which is ImageNet-C's (`sample_corruption_builder`), so
``bench_main --benchmarks=sample_c_bar`` shows C-bar figures with no data on
the machine. The example ``file_name`` is ``<corruption>_<severity>/<photo
file name>``.
"""

from __future__ import annotations

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench.release import imagenet_c_bar
from tfds_bench.builders import sample_corruption_builder


class Builder(sample_corruption_builder.SampleCorruptionBuilder):
  """Sample photos corrupted as ImageNet-C-bar was made."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "7 photos x 10 corruptions x 5 severities."}
  CONFIGS = imagenet_c_bar.ALL_CONFIGS
  HOMEPAGE = imagenet_c_bar.HOMEPAGE
  pkg_dir_path = epath.Path(__file__).parent
  code_path = epath.Path(__file__)
