"""bench_sample_c: the sample photos under all 19 ImageNet-C corruptions x 5 severities.

Made with tfds_bench's corruption engine through exactly the ImageNet-C release
pipeline (`sample_corruption_builder`), so ``bench_main --model=efficientnet``
shows a corruption figure with no data on the machine. The example
``file_name`` is ``<corruption>_<severity>/<photo file name>``.
"""

from __future__ import annotations

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench.release import imagenet_c
from tfds_bench.builders import sample_corruption_builder


class Builder(sample_corruption_builder.SampleCorruptionBuilder):
  """Sample photos corrupted as ImageNet-C was made."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "7 photos x 19 corruptions x 5 severities."}
  CONFIGS = imagenet_c.ALL_CONFIGS
  HOMEPAGE = "https://github.com/hendrycks/robustness"
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)
