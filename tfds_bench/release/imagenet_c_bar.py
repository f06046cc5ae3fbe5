"""ImageNet-C-bar as released: configs, released archive layout, generation.

ImageNet-C-bar (Mintun, Kirillov & Xie, NeurIPS 2021): 10 corruptions x 5
severities of the 50,000 val images, made by facebookresearch/augmentation-
corruption ``imagenet_c_bar/make_imagenet_c_bar.py``: torchvision
``Resize(256)``, ``CenterCrop(224)``, the corruption at the csv's level
(`tfds_bench.corruptions.c_bar.LEVELS`), ``PIL.Image.save(quality=85,
optimize=True)``: the same pipeline as ImageNet-C's, so generation reuses
`tfds_bench.release.imagenet_c`'s (`generate_images`, `corrupt_on_the_fly`)
with C-bar's corruption names.

The preprocessed copy the authors' README links
(``imagenet_c_bar.tar.gz``) stores ``<corruption>/<severity 1..5>/<wnid>/
ILSVRC2012_val_NNNNNNNN.JPEG``, possibly under one top folder.
"""

from __future__ import annotations

import os
from typing import Iterator, Tuple

from tfds_bench import archives
from tfds_bench import corruptions
from tfds_bench import errors
from tfds_bench.release import imagenet_c

BUILDER_NAME = "bench_imagenet_c_bar"
NAMES = corruptions.C_BAR_NAMES
SEVERITIES = corruptions.SEVERITIES
ARCHIVE_NAME = "imagenet_c_bar.tar.gz"
ARCHIVE_URL = "https://dl.fbaipublicfiles.com/inc_bar/imagenet_c_bar.tar.gz"
HOMEPAGE = "https://github.com/facebookresearch/augmentation-corruption"


# C-bar's configs are the generation pipeline's values (`release.imagenet_c.Config`).
Config = imagenet_c.Config

ALL_CONFIGS = tuple(Config(c, s) for c in NAMES for s in SEVERITIES)


def iter_released_members(archive: os.PathLike | str, corruption: str,
                          severity: int) -> Iterator[Tuple[str, str, bytes]]:
  """Images of one config in the released tar: (wnid, file name, JPEG bytes).

  Layout: ``[<top>/]<corruption>/<severity>/<wnid>/<file>``. Other configs'
  members are passed over; any other member is an error naming it.

  Raises:
    DamagedInputError: an unexpected member, or none of this config.
  """
  severities = {str(s) for s in SEVERITIES}

  def split(name: str):
    parts = name.split("/")
    if len(parts) == 5:
      parts = parts[1:]
    if len(parts) != 4 or parts[0] not in NAMES or parts[1] not in severities:
      raise errors.DamagedInputError(
          f"Unexpected member {name!r} in {archive}: expected "
          "'[<folder>/]<corruption>/<severity>/<wnid>/<file>' with corruption one of "
          f"{', '.join(NAMES)}. Is this the released {ARCHIVE_NAME} ({ARCHIVE_URL})?")
    return parts

  def is_other_config(name: str) -> bool:
    parts = split(name)
    return parts[0] != corruption or parts[1] != str(severity)

  found = 0
  for name, data in archives.iter_selected_members(archive, is_other_config):
    _, _, wnid, file_name = split(name)
    found += 1
    yield wnid, file_name, archives.ensure_rgb_jpeg(data, f"member {name!r} of {archive}")
  if not found:
    raise errors.DamagedInputError(
        f"{archive} has no images of {corruption} at severity {severity}: is it the "
        f"released {ARCHIVE_NAME} ({ARCHIVE_URL})?")
