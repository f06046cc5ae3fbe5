"""ImageNet-R, read from the released `imagenet-r.tar`.

30,000 renditions (art, cartoons, graffiti, embroidery, origami, sculptures,
toys, ...) of 200 ImageNet classes (Hendrycks et al. 2021).

Archive layout (as released): `imagenet-r/README.txt` and
`imagenet-r/<wnid>/<image file>` for the 200 wnids of
`tfds_bench.label_spaces.get("imagenet_r")`.

Features: `image` (RGB JPEG), `label` (ImageNet-1k class index, sorted-wnid
order, names are wnids), `label_200` (position of the wnid among the 200
subset wnids, names are wnids) and `file_name` (`<wnid>/<image file>`, also the
example key).
"""

from etils import epath

from tfds_bench.builders import subset_builder


class Builder(subset_builder.SubsetArchiveBuilder):
  """ImageNet renditions (ImageNet-R) with ImageNet-1k labels."""

  LABEL_SPACE = "imagenet_r"
  ARCHIVE_URL = "https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar"
  HOMEPAGE = "https://github.com/hendrycks/imagenet-r"
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)
