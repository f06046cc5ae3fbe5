"""Tests `bench_imagenet_o` on the shipped dummy `imagenet-o.tar`.

The dummy tar has the released layout: README.txt and wnid folders. The checks
(counts per wnid, labels, file names, image shape) are those of all three
ImageNet-A/-O/-R builders, in `subset_builder_testing`.
"""

import tensorflow_datasets as tfds

from tfds_bench.builders import subset_builder_testing
from tfds_bench.builders.bench_imagenet_o import bench_imagenet_o_dataset_builder


class BenchImagenetOTest(subset_builder_testing.SubsetBuilderTestCase):
  DATASET_CLASS = bench_imagenet_o_dataset_builder.Builder
  EXPECTED_COUNTS = {"n01443537": 1, "n01704323": 2, "n13052670": 2}


if __name__ == "__main__":
  tfds.testing.test_main()
