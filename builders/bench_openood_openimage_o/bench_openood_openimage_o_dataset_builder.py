"""OpenImage-O, OpenOOD v1.5's ImageNet-1k far-OOD set, from its image list.

OpenImage-O (Wang et al., CVPR 2022, ViM): 17,632 Open Images test images
chosen to hold no ImageNet-1k object, of which OpenOOD v1.5 tests on 15,869
(the rest, val_openimage_o.txt, is its tuning split); a far-OOD set.

The 15,869 images of OpenOOD's `test_openimage_o.txt`
(`tfds_bench.openood_lists`), in list order; the images from the first of
SOURCES found in manual_dir (see README.md). Features: `image` (RGB JPEG),
`file_name` (the list's relative path), `label` (-1).
"""

from etils import epath

from tfds_bench.builders import openood_builder

# OpenOOD's zip of the set on Google Drive (download.py's download_id_dict).
OPENOOD_ZIP_URL = "https://drive.google.com/uc?id=1VUFXnB_z70uHfdgJG2E_pjYOcEgqM7tE"


class Builder(openood_builder.OpenOODListBuilder):
  """OpenImage-O (OpenOOD v1.5, ImageNet-1k, far-OOD)."""

  OOD_SET = "openimage_o"
  HOMEPAGE = "https://github.com/haoqiwang/vim"
  SOURCES = (
      openood_builder.ImageSource("openimage_o.zip", ("openimage_o", ""), complete=True,
                                  url=OPENOOD_ZIP_URL),
      openood_builder.ImageSource("images_largescale", ("openimage_o",), complete=False,
                                  folder=True),
  )
  pkg_dir_path = epath.Path(__file__).parent
  code_path = epath.Path(__file__)
