"""Writes the dummy data of the `bench_imagenet_p` builder.

Usage (from the repository root; needs PyAV, `pip install "tfds_bench[video]"`):

  .venv/bin/python tests/tools/make_imagenet_p_dummy_data.py

Two manual_dir folders, one per source the builder reads:

* `builders/bench_imagenet_p/dummy_data/released/`: `noise.tar` and
  `digital.tar` in the released layout (`<perturbation>/<wnid>/<val stem>.mp4`,
  folder entries as `tar cf` writes them): tiny H.264 mp4s (224x224,
  `FRAMES` frames each, libx264 -crf 20 at 1 frame per second like the
  release's ffmpeg call) of a smooth synthetic picture.
* `builders/bench_imagenet_p/dummy_data/generated/`: `ILSVRC2012_img_val.tar`,
  flat like the real one, with two small JPEGs (val files 1 and 2).

File numbers and wnids are the real ones (`tfds_bench.labels.val_labels()`).
The tars are reproducible given the same mp4 bytes; libx264 output may vary
between PyAV builds, which only changes decoded pixels, not counts or shapes.
"""

from __future__ import annotations

import io
import pathlib
import sys
from typing import Dict, Tuple

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_builder_dummy_data as common  # pylint: disable=g-import-not-at-top,wrong-import-position

DUMMY_DIR = common.BUILDERS / "bench_imagenet_p" / "dummy_data"
FRAMES = 4
SIZE = 224
# (archive, perturbation) -> val file numbers with a video.
RELEASED_VIDEOS: Dict[Tuple[str, str], Tuple[int, ...]] = {
    ("noise.tar", "gaussian_noise"): (1, 2),
    ("noise.tar", "shot_noise"): (3,),
    ("digital.tar", "rotate"): (1, 2, 3),
}
# Generated dummy: val file number -> (width, height).
VAL_IMAGES: Dict[int, Tuple[int, int]] = {1: (40, 30), 2: (33, 47)}


def val_stem(number: int) -> str:
  return f"ILSVRC2012_val_{number:08d}"


def mp4(seed: int, frames: int = FRAMES) -> bytes:
  """A tiny H.264 mp4: a smooth picture drifting by a pixel per frame."""
  import av  # pylint: disable=g-import-not-at-top
  yy, xx = np.mgrid[0:SIZE, 0:SIZE]
  buffer = io.BytesIO()
  with av.open(buffer, mode="w", format="mp4") as container:
    stream = container.add_stream("libx264", rate=1)
    stream.width = stream.height = SIZE
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": "20"}
    for i in range(frames):
      picture = np.stack([(xx + i + seed * 10) % 256, (yy * 2 + seed) % 256,
                          np.full_like(xx, 40 * seed % 256)], -1).astype(np.uint8)
      for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return buffer.getvalue()


def released_members() -> Dict[str, Dict[str, bytes]]:
  from tfds_bench import labels  # pylint: disable=g-import-not-at-top
  val_labels, wnids = labels.val_labels(), labels.wnids()
  out: Dict[str, Dict[str, bytes]] = {}
  for seed, ((archive, perturbation), numbers) in enumerate(RELEASED_VIDEOS.items()):
    members = out.setdefault(archive, {})
    for number in numbers:
      wnid = wnids[val_labels[number - 1]]
      members[f"{perturbation}/{wnid}/{val_stem(number)}.mp4"] = mp4(seed + number)
  return out


def val_members() -> Dict[str, bytes]:
  members = {}
  for number, (width, height) in VAL_IMAGES.items():
    rgb = common.image_array(300 + number, size=max(width, height))[:height, :width]
    members[f"{val_stem(number)}.JPEG"] = common.encode(rgb, "JPEG", None)
  return members


def write_all(dummy_dir: pathlib.Path = DUMMY_DIR) -> Tuple[pathlib.Path, ...]:
  written = []
  for archive, members in released_members().items():
    path = dummy_dir / "released" / archive
    common.write_tar(path, members)
    written.append(path)
  path = dummy_dir / "generated" / "ILSVRC2012_img_val.tar"
  common.write_tar(path, val_members(), with_folders=False)
  written.append(path)
  return tuple(written)


if __name__ == "__main__":
  for written_path in write_all():
    print(f"{written_path.stat().st_size:8d}  "
          f"{written_path.relative_to(common.REPO_ROOT)}")
