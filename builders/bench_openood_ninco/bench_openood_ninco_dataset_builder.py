"""NINCO, OpenOOD v1.5's ImageNet-1k near-OOD set, from its image list.

NINCO (Bitterwolf et al., ICML 2023, "In or Out? Fixing ImageNet
Out-of-Distribution Detection Evaluation"): 5,879 images of 64 classes with no
ImageNet-1k object, each checked by hand; OpenOOD v1.5's near-OOD set.

The 5,879 images of OpenOOD's `test_ninco.txt`
(`tfds_bench.openood_lists`), in list order; the images from the first of
SOURCES found in manual_dir (see README.md). Features: `image` (RGB JPEG),
`file_name` (the list's relative path), `label` (-1).
"""

from etils import epath

from tfds_bench.builders import openood_builder

NINCO_URL = "https://zenodo.org/record/8013288/files/NINCO_all.tar.gz"
# OpenOOD's zip of the set on Google Drive (download.py's download_id_dict).
OPENOOD_ZIP_URL = "https://drive.google.com/uc?id=1Z82cmvIB0eghTehxOGP5VTdLt7OD3nk6"


class Builder(openood_builder.OpenOODListBuilder):
  """NINCO (OpenOOD v1.5, ImageNet-1k, near-OOD)."""

  OOD_SET = "ninco"
  HOMEPAGE = "https://github.com/j-cb/NINCO"
  SOURCES = (
      openood_builder.ImageSource("NINCO_all.tar.gz", ("NINCO/NINCO_OOD_classes",),
                                  complete=False, url=NINCO_URL),
      openood_builder.ImageSource("ninco.zip", ("ninco", ""), complete=True,
                                  url=OPENOOD_ZIP_URL),
      openood_builder.ImageSource("images_largescale", ("ninco",), complete=False,
                                  folder=True),
  )
  pkg_dir_path = epath.Path(__file__).parent
  code_path = epath.Path(__file__)
