"""ImageNet-O, read from the released `imagenet-o.tar`.

2,000 natural adversarial out-of-distribution examples: images of classes
outside ImageNet-1k that ResNet-50 confidently assigns to one of 200 ImageNet-1k
classes (Hendrycks et al. 2021). The class folder is the ImageNet-1k class the
model was fooled into; for out-of-distribution detection every image is a
positive (out-of-distribution) example. The in-distribution side (ImageNet
validation images of the same 200 classes) is not in this archive: see
`in_distribution_filter` below.

Archive layout (as released): `imagenet-o/README.txt` and
`imagenet-o/<wnid>/<image file>` for the 200 wnids of
`tfds_bench.label_spaces.get("imagenet_o")`.

Features: `image` (RGB JPEG), `label` (ImageNet-1k class index, sorted-wnid
order, names are wnids), `label_200` (position of the wnid among the 200
subset wnids, names are wnids) and `file_name` (`<wnid>/<image file>`, also the
example key).
"""

from etils import epath
import numpy as np
import tensorflow as tf

from tfds_bench import label_spaces
from tfds_bench.builders import subset_builder


class Builder(subset_builder.SubsetArchiveBuilder):
  """Natural adversarial out-of-distribution examples (ImageNet-O)."""

  LABEL_SPACE = "imagenet_o"
  ARCHIVE_URL = "https://people.eecs.berkeley.edu/~hendrycks/imagenet-o.tar"
  HOMEPAGE = "https://github.com/hendrycks/natural-adv-examples"
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)


def in_distribution_indices() -> np.ndarray:
  """1000-class indices of the 200 ImageNet-O classes (sorted-wnid order)."""
  return np.asarray(label_spaces.get(Builder.LABEL_SPACE).imagenet_indices)


def in_distribution_filter(label) -> tf.Tensor:
  """Whether ImageNet-1k `label`s are in ImageNet-O's 200 classes.

  ImageNet-O's in-distribution side is the ImageNet validation images of the
  200 ImageNet-O classes; the benchmark table assembles it from TFDS's
  `imagenet2012` `validation` split, e.g.
  `ds.filter(lambda ex: in_distribution_filter(ex["label"]))`.
  This builder only holds the out-of-distribution (ImageNet-O) images.

  Args:
    label: int tensor (any shape) of 1000-class indices.

  Returns:
    A bool tensor of the same shape.
  """
  label = tf.cast(label, tf.int64)
  indices = tf.constant(in_distribution_indices(), dtype=tf.int64)
  return tf.reduce_any(tf.equal(label[..., tf.newaxis], indices), axis=-1)
