"""Textures, OpenOOD v1.5's ImageNet-1k far-OOD set, from its image list.

Textures: the Describable Textures Dataset (Cimpoi et al., CVPR 2014), 5,160
of its 5,640 images (OpenOOD v1.5 leaves out the rest); a far-OOD set.

The 5,160 images of OpenOOD's `test_textures.txt`
(`tfds_bench.openood_lists`), in list order; the images from the first of
SOURCES found in manual_dir (see README.md). Features: `image` (RGB JPEG),
`file_name` (the list's relative path), `label` (-1).
"""

from etils import epath

from tfds_bench.builders import openood_builder

DTD_URL = "https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz"
# OpenOOD's zip of the set on Google Drive (download.py's download_id_dict).
OPENOOD_ZIP_URL = "https://drive.google.com/uc?id=1OSz1m3hHfVWbRdmMwKbUzoU8Hg9UKcam"


class Builder(openood_builder.OpenOODListBuilder):
  """Textures (OpenOOD v1.5, ImageNet-1k, far-OOD)."""

  OOD_SET = "textures"
  HOMEPAGE = "https://www.robots.ox.ac.uk/~vgg/data/dtd/"
  SOURCES = (
      openood_builder.ImageSource("dtd-r1.0.1.tar.gz", ("dtd/images",), complete=False,
                                  url=DTD_URL),
      openood_builder.ImageSource("texture.zip", ("texture", ""), complete=False,
                                  url=OPENOOD_ZIP_URL),
      openood_builder.ImageSource("images_classic", ("texture",), complete=False,
                                  folder=True),
  )
  pkg_dir_path = epath.Path(__file__).parent
  code_path = epath.Path(__file__)
