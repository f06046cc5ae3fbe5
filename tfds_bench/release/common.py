"""What ImageNet-C and -P generation share: the val archive, decode, resize, crop, seeds.

Both releases (hendrycks/robustness `make_imagenet_c.py`, `make_imagenet_p.py`)
start from an ImageNet val image decoded by PIL and resized by torchvision's
`Resize(256)`; ImageNet-C then takes `CenterCrop(224)`. These functions use
PIL itself (the reference's resize), so there is no TF re-implementation to
drift from it.

Seeds: the releases drew from numpy's global stream, which cannot be
reproduced; here each image gets its own seed, `image_seed(base_seed,
file_name)`, so a generated set is reproducible and any subset of images can
be generated independently (in parallel, on Beam). The corruption engine
mixes the corruption's name into the seed (`tfds_bench.corruptions`).
"""

from __future__ import annotations

import io
import os
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from etils import epath
import numpy as np
import PIL.Image

from tfds_bench import archives
from tfds_bench import errors
from tfds_bench import labels

VAL_ARCHIVE_NAME = "ILSVRC2012_img_val.tar"
VAL_ARCHIVE_URL = "https://image-net.org/challenges/LSVRC/2012/2012-downloads.php"
# The key of the val tar's row in TFDS's imagenet2012 checksums.tsv (the file
# itself needs an ImageNet account, so it is never downloaded).
VAL_ARCHIVE_RECORDED_URL = (
    "http://www.image-net.org/challenges/LSVRC/2012/nnoupb/" + VAL_ARCHIVE_NAME)
SOURCE_RELEASED = "released"
SOURCE_GENERATED = "generated"
NUM_VAL_IMAGES = 50_000

# torchvision Resize(256) then CenterCrop(224), as both releases.
RESIZE_SHORTER_SIDE = 256
CROP_SIZE = 224

# Seeds: image_seed = base_seed * _SEEDS_PER_BASE + file number. The
# corruption engine keeps 31 bits of the seed, so the result must stay below
# 2**31 for distinct images to get distinct draws.
DEFAULT_BASE_SEED = 0
_SEEDS_PER_BASE = 100_000
MAX_BASE_SEED = (2**31 - 1 - NUM_VAL_IMAGES) // _SEEDS_PER_BASE


def image_seed(base_seed: int, file_name: str) -> int:
  """The generation seed of one val image: `base_seed * 100000 + number`.

  Deterministic in (base seed, file number) only, so generation is
  reproducible and parallelisable, and distinct images get distinct seeds.

  Args:
    base_seed: 0..MAX_BASE_SEED (21474); 0 is what the builders use.
    file_name: an ImageNet val file name (`ILSVRC2012_val_00000001.JPEG`,
      optionally with folders in front).

  Returns:
    A seed in [0, 2**31).
  """
  if not 0 <= base_seed <= MAX_BASE_SEED:
    raise ValueError(f"base_seed must be in 0..{MAX_BASE_SEED}, got {base_seed}")
  return base_seed * _SEEDS_PER_BASE + labels.val_file_number(file_name)


def decode_rgb(image_bytes: bytes, where: str = "image") -> PIL.Image.Image:
  """PIL decode and ``convert("RGB")`` (CMYK and grayscale images too).

  Raises:
    DamagedInputError: the bytes are not a readable image; names ``where``.
  """
  try:
    with PIL.Image.open(io.BytesIO(image_bytes)) as image:
      return image.convert("RGB")
  except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError,
          EOFError) as e:
    raise errors.DamagedInputError(
        f"{where} is not a readable image ({type(e).__name__}: {e}); the "
        "archive is damaged, download it again.") from e


def resize_shorter_side(image: PIL.Image.Image,
                        size: int = RESIZE_SHORTER_SIDE) -> PIL.Image.Image:
  """torchvision `Resize(size)` on a PIL image: shorter side to `size`.

  torchvision computes the longer side as `int(size * long / short)`
  (truncation) and calls PIL's `resize` with bilinear interpolation.
  """
  width, height = image.size
  if width <= height:
    new_width, new_height = size, int(size * height / width)
  else:
    new_width, new_height = int(size * width / height), size
  if (new_width, new_height) == (width, height):
    return image
  return image.resize((new_width, new_height), PIL.Image.Resampling.BILINEAR)


def resize_array(image: PIL.Image.Image | np.ndarray) -> np.ndarray:
  """`resize_shorter_side` to 256 of a PIL image or uint8 array, as uint8 `[H, W, 3]`."""
  if isinstance(image, np.ndarray):
    image = PIL.Image.fromarray(np.asarray(image, dtype=np.uint8))
  return np.asarray(resize_shorter_side(image), dtype=np.uint8)


def center_crop(image: PIL.Image.Image, size: int = CROP_SIZE) -> PIL.Image.Image:
  """torchvision `CenterCrop(size)`: offsets `int(round((dim - size) / 2))`.

  Python 3's round() rounds halves to even, as torchvision's does.
  """
  width, height = image.size
  top = int(round((height - size) / 2.0))
  left = int(round((width - size) / 2.0))
  return image.crop((left, top, left + size, top + size))


def encode_png(image: np.ndarray) -> bytes:
  """Lossless PNG of a uint8 [H, W, 3] image."""
  buffer = io.BytesIO()
  PIL.Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
  return buffer.getvalue()


def beam_requested(download_config) -> bool:
  """Whether a TFDS DownloadConfig asks for Beam (a ``beam_runner`` or ``beam_options``).

  TFDS's own Beam datasets are asked this way; the download manager does not
  carry these settings, so the generated ImageNet-C / -P builders read them here.
  """
  return download_config.beam_runner is not None or download_config.beam_options is not None


def check_val_member(name: str, archive: os.PathLike | str) -> Tuple[str, int]:
  """(file name, label) of a flat `ILSVRC2012_img_val.tar` member; or raises."""
  try:
    number = labels.val_file_number(name)
  except ValueError:
    number = 0
  if "/" in name or not 1 <= number <= NUM_VAL_IMAGES:
    raise errors.DamagedInputError(
        f"Unexpected member {name!r} in {archive}: expected only "
        "ILSVRC2012_val_00000001.JPEG .. ILSVRC2012_val_00050000.JPEG. Is this "
        f"the released {VAL_ARCHIVE_NAME}?")
  return name, int(labels.val_labels()[number - 1])


def iter_val_images(archive: os.PathLike | str
                    ) -> Iterator[Tuple[str, int, bytes]]:
  """(file name, label, encoded bytes) of every member of the val archive."""
  for name, data in archives.iter_members(archive):
    file_name, label = check_val_member(name, archive)
    yield file_name, label, data


def release_archive_url(zenodo_record: str, archive_name: str) -> str:
  """Where a released ImageNet-C / -P archive is published on Zenodo."""
  return f"{zenodo_record}/files/{archive_name}"


def find_sources(dl_manager, url_infos: Optional[Mapping[str, Any]],
                 released_urls: Mapping[str, str]
                 ) -> Optional[Tuple[str, List[epath.Path]]]:
  """Where ImageNet-C / -P comes from: released archives, else the val tar.

  Both are read from manual_dir through `archives.find_in_manual_dir`
  (verified by TFDS where the builder's checksums.tsv records a row).

  Args:
    dl_manager: the builder's download manager.
    url_infos: the builder's recorded checksums (`Builder.url_infos`).
    released_urls: released archive name -> URL, in preference order.

  Returns:
    (SOURCE_RELEASED, the released archives present) or (SOURCE_GENERATED,
    [the val tar]); None if neither is in manual_dir.
  """
  released = [
      path for name, url in released_urls.items()
      if (path := archives.find_in_manual_dir(dl_manager, url_infos, url, name))
  ]
  if released:
    return SOURCE_RELEASED, released
  val = archives.find_in_manual_dir(dl_manager, url_infos,
                                    VAL_ARCHIVE_RECORDED_URL, VAL_ARCHIVE_NAME)
  return (SOURCE_GENERATED, [val]) if val is not None else None


def missing_sources_error(dl_manager, config: str, released: str
                          ) -> errors.MissingArchiveError:
  """The error of `find_sources` finding nothing: names both options.

  Args:
    dl_manager: the builder's download manager (its manual_dir is named).
    config: `<builder>/<config>`.
    released: which released archive(s) hold the config and where they are.
  """
  return archives.missing_archive_error(
      dl_manager,
      f"{config} needs one of two sources, and neither is in manual_dir: (1) "
      f"{released}; or (2) to generate the images, {VAL_ARCHIVE_NAME} from "
      f"{VAL_ARCHIVE_URL} (needs an ImageNet account).")
