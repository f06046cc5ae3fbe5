"""Writes the dummy data of the `bench_imagenet_c` builder.

Usage (from the repository root):

  .venv/bin/python tests/tools/make_imagenet_c_dummy_data.py

Two manual_dir folders, one per source the builder reads:

* `builders/bench_imagenet_c/dummy_data/released/`: `noise.tar` and
  `weather.tar` in the released layout (no top folder,
  `<corruption>/<severity>/<wnid>/ILSVRC2012_val_NNNNNNNN.JPEG`, folder
  entries as `tar cf` writes them), a few 32x32 JPEGs per config.
* `builders/bench_imagenet_c/dummy_data/generated/`: `ILSVRC2012_img_val.tar`,
  flat like the real one, with small non-square JPEGs of val files 1..4 (one
  CMYK and one grayscale, as a handful of real val images are).

File numbers and wnids are the real ones (`tfds_bench.labels.val_labels()`),
so the labels of both sources agree. Archives are byte-reproducible.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Dict, Tuple

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_builder_dummy_data as common  # pylint: disable=g-import-not-at-top,wrong-import-position

DUMMY_DIR = common.BUILDERS / "bench_imagenet_c" / "dummy_data"
RELEASED_DIR = DUMMY_DIR / "released"
GENERATED_DIR = DUMMY_DIR / "generated"

# Released dummy configs: (archive, corruption, severity) -> val file numbers.
RELEASED_CONFIGS: Dict[Tuple[str, str, int], Tuple[int, ...]] = {
    ("noise.tar", "gaussian_noise", 3): (1, 2, 3),
    ("noise.tar", "gaussian_noise", 1): (1, 2),
    ("noise.tar", "shot_noise", 5): (4,),
    ("weather.tar", "brightness", 1): (1, 2, 3, 4),
}
# Generated dummy: val file number -> (width, height, PIL mode). 37x50 puts
# the center crop on a half pixel ((345 - 224) / 2 = 60.5), where
# torchvision's round-half-to-even matters.
VAL_IMAGES: Dict[int, Tuple[int, int, str]] = {
    1: (37, 50, "RGB"),
    2: (60, 40, "RGB"),
    3: (48, 48, "L"),
    4: (50, 36, "CMYK"),
}


def val_file_name(number: int) -> str:
  return f"ILSVRC2012_val_{number:08d}.JPEG"


def released_members() -> Dict[str, Dict[str, bytes]]:
  """archive name -> {member name: bytes}."""
  from tfds_bench import labels  # pylint: disable=g-import-not-at-top
  val_labels, wnids = labels.val_labels(), labels.wnids()
  out: Dict[str, Dict[str, bytes]] = {}
  for seed, ((archive, corruption, severity), numbers) in enumerate(
      RELEASED_CONFIGS.items(), start=100):
    members = out.setdefault(archive, {})
    for number in numbers:
      wnid = wnids[val_labels[number - 1]]
      members[f"{corruption}/{severity}/{wnid}/{val_file_name(number)}"] = (
          common.jpeg(seed * 10 + number))
  return out


def val_members() -> Dict[str, bytes]:
  members = {}
  for number, (width, height, mode) in VAL_IMAGES.items():
    rgb = common.image_array(200 + number, size=max(width, height))
    rgb = rgb[:height, :width]
    members[val_file_name(number)] = common.encode(
        rgb, "JPEG", None if mode == "RGB" else mode)
  return members


def write_all(dummy_dir: pathlib.Path = DUMMY_DIR) -> Tuple[pathlib.Path, ...]:
  written = []
  for archive, members in released_members().items():
    path = dummy_dir / "released" / archive
    common.write_tar(path, members)
    written.append(path)
  path = dummy_dir / "generated" / "ILSVRC2012_img_val.tar"
  # The real val tar is flat: no folder entries.
  common.write_tar(path, val_members(), with_folders=False)
  written.append(path)
  return tuple(written)


if __name__ == "__main__":
  for written_path in write_all():
    print(f"{written_path.stat().st_size:8d}  "
          f"{written_path.relative_to(common.REPO_ROOT)}")
