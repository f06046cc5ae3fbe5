"""iNaturalist, OpenOOD v1.5's ImageNet-1k far-OOD set, from its image list.

iNaturalist OOD subset (Huang & Li, CVPR 2021, MOS): 10,000 images of 110
plant classes absent from ImageNet-1k; OpenOOD v1.5's far-OOD set.

The 10,000 images of OpenOOD's `test_inaturalist.txt`
(`tfds_bench.openood_lists`), in list order; the images from the first of
SOURCES found in manual_dir (see README.md). Features: `image` (RGB JPEG),
`file_name` (the list's relative path), `label` (-1).
"""

from etils import epath

from tfds_bench.builders import openood_builder

MOS_URL = "http://pages.cs.wisc.edu/~huangrui/imagenet_ood_dataset/iNaturalist.tar.gz"
# OpenOOD's zip of the set on Google Drive (download.py's download_id_dict).
OPENOOD_ZIP_URL = "https://drive.google.com/uc?id=1zfLfMvoUD0CUlKNnkk7LgxZZBnTBipdj"


class Builder(openood_builder.OpenOODListBuilder):
  """iNaturalist (OpenOOD v1.5, ImageNet-1k, far-OOD)."""

  OOD_SET = "inaturalist"
  HOMEPAGE = "https://github.com/deeplearning-wisc/large_scale_ood"
  SOURCES = (
      openood_builder.ImageSource("iNaturalist.tar.gz", ("iNaturalist",), complete=False,
                                  url=MOS_URL),
      openood_builder.ImageSource("inaturalist.zip", ("inaturalist", ""), complete=True,
                                  url=OPENOOD_ZIP_URL),
      openood_builder.ImageSource("images_largescale", ("inaturalist",), complete=False,
                                  folder=True),
  )
  pkg_dir_path = epath.Path(__file__).parent
  code_path = epath.Path(__file__)
