"""ImageNet-A, read from the released `imagenet-a.tar`.

7,500 natural adversarial examples: real-world photos of 200 ImageNet classes
that ResNet-50 models misclassify (Hendrycks et al. 2021).

Archive layout (as released): `imagenet-a/README.txt` and
`imagenet-a/<wnid>/<image file>` for the 200 wnids of
`tfds_bench.label_spaces.get("imagenet_a")`.

Features: `image` (RGB JPEG), `label` (ImageNet-1k class index, sorted-wnid
order, names are wnids), `label_200` (position of the wnid among the 200
subset wnids, names are wnids) and `file_name` (`<wnid>/<image file>`, also the
example key).
"""

from etils import epath

from tfds_bench.builders import subset_builder


class Builder(subset_builder.SubsetArchiveBuilder):
  """Natural adversarial examples (ImageNet-A) with ImageNet-1k labels."""

  LABEL_SPACE = "imagenet_a"
  ARCHIVE_URL = "https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar"
  HOMEPAGE = "https://github.com/hendrycks/natural-adv-examples"
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)
