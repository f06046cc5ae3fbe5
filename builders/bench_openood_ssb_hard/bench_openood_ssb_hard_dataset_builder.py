"""SSB-hard, OpenOOD v1.5's ImageNet-1k near-OOD set, from its image list.

SSB-hard (Vaze et al., ICLR 2022, the Semantic Shift Benchmark's hard split for
ImageNet): 49,000 ImageNet-21K images of 980 classes semantically close to
ImageNet-1k classes; OpenOOD v1.5's near-OOD set.

The 49,000 images of OpenOOD's `test_ssb_hard.txt`
(`tfds_bench.openood_lists`), in list order; the images from the first of
SOURCES found in manual_dir (see README.md). Features: `image` (RGB JPEG),
`file_name` (the list's relative path), `label` (-1).
"""

from etils import epath

from tfds_bench.builders import openood_builder

# OpenOOD's zip of the set on Google Drive (download.py's download_id_dict).
OPENOOD_ZIP_URL = "https://drive.google.com/uc?id=1PzkA-WGG8Z18h0ooL_pDdz9cO-DCIouE"


class Builder(openood_builder.OpenOODListBuilder):
  """SSB-hard (OpenOOD v1.5, ImageNet-1k, near-OOD)."""

  OOD_SET = "ssb_hard"
  HOMEPAGE = "https://github.com/sgvaze/SSB"
  SOURCES = (
      openood_builder.ImageSource("ssb_hard.zip", ("ssb_hard", ""), complete=True,
                                  url=OPENOOD_ZIP_URL),
      openood_builder.ImageSource("images_largescale", ("ssb_hard",), complete=False,
                                  folder=True),
  )
  pkg_dir_path = epath.Path(__file__).parent
  code_path = epath.Path(__file__)
