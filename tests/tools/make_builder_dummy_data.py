"""Writes the dummy archives of the ImageNetV2/-Sketch/-A/-R/-O/ObjectNet builders.

Usage (from the repository root):

  .venv/bin/python tests/tools/make_builder_dummy_data.py

Each archive has the released file name and the released layout (top folder,
class folders, README.txt where the release has one), holding a few tiny
deterministic JPEGs (PNGs for ObjectNet), so the builder tests read them
exactly like the real archives. Archives are byte-reproducible (fixed seeds,
mtimes and owners), except ObjectNet's encrypted zip: Info-ZIP's `zip -P`
(Python cannot write encrypted zips) salts each member's encryption header
at random, so its bytes change on every run while its content does not.

The functions are also used by tests/test_builders_archives.py to build
archives on the fly.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pathlib
import subprocess
import tarfile
import tempfile
import zipfile
from typing import Dict, Iterable, Optional, Tuple

import numpy as np
import PIL.Image

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILDERS = REPO_ROOT / "builders"
_FIXED_MTIME = 1_600_000_000  # Any fixed time: makes the archives reproducible.
_ZIP_DATE = (2020, 9, 13, 12, 26, 40)

# Tiny README like the ones in the hendrycks archives (they start like this).
_README = "The {name} dataset contains {n} images.\n"


def image_array(seed: int, size: int = 32) -> np.ndarray:
  """A smooth random RGB image (compresses small, looks like a photo crop)."""
  rng = np.random.default_rng(seed)
  coarse = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
  image = PIL.Image.fromarray(coarse).resize((size, size),
                                             PIL.Image.Resampling.BILINEAR)
  return np.asarray(image)


def encode(array: np.ndarray, image_format: str = "JPEG",
           mode: Optional[str] = None) -> bytes:
  """Encodes an RGB array, optionally converted to `mode` (CMYK, L, ...)."""
  image = PIL.Image.fromarray(array)
  if mode is not None:
    image = image.convert(mode)
  buffer = io.BytesIO()
  if image_format == "JPEG":
    image.save(buffer, "JPEG", quality=90)
  else:
    image.save(buffer, image_format)
  return buffer.getvalue()


def jpeg(seed: int, size: int = 32, mode: Optional[str] = None) -> bytes:
  return encode(image_array(seed, size), "JPEG", mode)


def _folders_of(names: Iterable[str]) -> list:
  folders = set()
  for name in names:
    parts = name.split("/")[:-1]
    for i in range(1, len(parts) + 1):
      folders.add("/".join(parts[:i]))
  return sorted(folders)


def write_tar(path: pathlib.Path, members: Dict[str, bytes],
              compress: bool = False, with_folders: bool = True) -> None:
  """Writes a reproducible tar (gzip-compressed if `compress`) of `members`.

  Args:
    path: output file.
    members: member name -> bytes, written in this order (folders first).
    compress: gzip the tar (mtime 0 in the gzip header, for reproducibility).
    with_folders: add folder entries, as `tar cf` of a directory does.
  """
  raw = io.BytesIO()
  with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
    if with_folders:
      for folder in _folders_of(members):
        info = tarfile.TarInfo(folder)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = _FIXED_MTIME
        tar.addfile(info)
    for name, data in members.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      info.mode = 0o644
      info.mtime = _FIXED_MTIME
      tar.addfile(info, io.BytesIO(data))
  data = raw.getvalue()
  if compress:
    data = gzip.compress(data, mtime=0)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(data)


def write_zip(path: pathlib.Path, members: Dict[str, bytes],
              with_folders: bool = True) -> None:
  """Writes a reproducible zip of `members` (deflated)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
    if with_folders:
      for folder in _folders_of(members):
        zf.writestr(zipfile.ZipInfo(folder + "/", date_time=_ZIP_DATE), b"")
    for name, data in members.items():
      info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
      info.compress_type = zipfile.ZIP_DEFLATED
      zf.writestr(info, data)


def write_encrypted_zip(path: pathlib.Path, members: Dict[str, bytes],
                        password: str, with_folders: bool = True) -> None:
  """Writes a ZipCrypto-encrypted zip of `members` with Info-ZIP's `zip -P`.

  Python's zipfile reads such zips but cannot write them. Members are stored
  in the given order (folders first), deflated, without extra fields (-X),
  with a fixed mtime.
  """
  path = pathlib.Path(path).resolve()
  path.parent.mkdir(parents=True, exist_ok=True)
  path.unlink(missing_ok=True)
  with tempfile.TemporaryDirectory() as staging:
    root = pathlib.Path(staging)
    names = _folders_of(members) if with_folders else []
    for folder in names:
      (root / folder).mkdir(parents=True, exist_ok=True)
    for name, data in members.items():
      (root / name).parent.mkdir(parents=True, exist_ok=True)
      (root / name).write_bytes(data)
    for entry in list(names) + list(members):
      os.utime(root / entry, (_FIXED_MTIME, _FIXED_MTIME))
    names = list(names) + list(members)
    subprocess.run(["zip", "-q", "-X", "-P", password, str(path), "-@"],
                   input="\n".join(names).encode("utf-8"), cwd=root,
                   check=True)


# ---------------------------------------------------------------------------
# The dummy data of each builder. Counts here are asserted by the builder tests.

# ImageNetV2: folder "10" sorts before "2" as a string; reading it as class 10
# is what the builder test checks.
V2_CLASS_FOLDERS = ("0", "2", "10", "999")
V2_ARCHIVES = {
    # (archive name, top folder, gzip?): the released "tar.gz" files appear to
    # be plain tars (their sizes are multiples of 512); one dummy of each kind.
    "matched-frequency": ("imagenetv2-matched-frequency.tar.gz",
                          "imagenetv2-matched-frequency-format-val", False),
    "threshold-0.7": ("imagenetv2-threshold0.7.tar.gz",
                      "imagenetv2-threshold0.7-format-val", True),
    "top-images": ("imagenetv2-top-images.tar.gz",
                   "imagenetv2-top-images-format-val", True),
}

# Per 200-class set: {wnid: number of images}; wnids from each subset.
A_CLASSES = {"n01498041": 2, "n01531178": 1, "n12267677": 2}
R_CLASSES = {"n01443537": 2, "n01484850": 1, "n12267677": 2}
O_CLASSES = {"n01443537": 1, "n01704323": 2, "n13052670": 2}
SKETCH_CLASSES = {"n01440764": 2, "n02085620": 1, "n15075141": 2}


def v2_members(top_folder: str, seed: int) -> Dict[str, bytes]:
  members = {}
  for k, folder in enumerate(V2_CLASS_FOLDERS):
    for j in range(2):
      # Released names are 40-hex-digit hashes.
      fake_hash = f"{seed:08x}{k:016x}{j:016x}"
      members[f"{top_folder}/{folder}/{fake_hash}.jpeg"] = jpeg(
          seed * 1000 + 10 * k + j)
  return members


def hendrycks_members(top_folder: str, classes: Dict[str, int], seed: int,
                      name: str) -> Dict[str, bytes]:
  """Members of imagenet-{a,r,o}.tar: README.txt + <wnid>/<file>.jpg."""
  n = sum(classes.values())
  members = {f"{top_folder}/README.txt":
                 _README.format(name=name, n=n).encode("utf-8")}
  for k, (wnid, count) in enumerate(classes.items()):
    for j in range(count):
      # ImageNet-A file names look like this (score_class _ class_score.jpg).
      file_name = f"0.{seed:02d}{k:02d}{j:02d}_dummy _ dummy_0.{j + 1}.jpg"
      members[f"{top_folder}/{wnid}/{file_name}"] = jpeg(
          seed * 1000 + 10 * k + j)
  return members


def sketch_members() -> Dict[str, bytes]:
  members = {}
  for k, (wnid, count) in enumerate(SKETCH_CLASSES.items()):
    for j in range(count):
      # Sketches are black and white: store the first as a grayscale JPEG, as
      # some released files are, to exercise the conversion.
      mode = "L" if (k, j) == (0, 0) else None
      members[f"sketch/{wnid}/sketch_{j}.JPEG"] = jpeg(500 + 10 * k + j,
                                                        mode=mode)
  return members


# ObjectNet: folder -> (ObjectNet class name, [(width, height, mode)] of its
# images). Three folders of label-space classes (first, middle, last of the
# 113, so labels 0, 18 and 112) and one class outside ImageNet-1k (label -1).
# Folder names and class names are the release's.
OBJECTNET_PASSWORD = "objectnetisatestset"
OBJECTNET_IMAGES = {
    "alarm_clock": ("Alarm clock", [(12, 10, "RGBA"), (9, 14, "RGBA")]),
    "chair": ("Chair", [(10, 10, "RGB")]),
    "wok": ("Wok", [(11, 13, "RGBA")]),
    "squeegee": ("Squeegee", [(8, 9, "RGBA")]),
}
# ObjectNet's border colour; the image inside it never has this value (its
# blue channel is at least 100).
OBJECTNET_BORDER_RGB = (255, 0, 0)
OBJECTNET_BORDER = 2


def objectnet_interior(seed: int, width: int, height: int) -> np.ndarray:
  """The pixels inside the border: R = 10 x, G = 10 y, B = 100 + seed."""
  y, x = np.mgrid[0:height, 0:width]
  return np.stack([10 * x, 10 * y, np.full_like(x, 100 + seed)],
                  axis=-1).astype(np.uint8)


def objectnet_png(seed: int, width: int, height: int, mode: str) -> bytes:
  """A width x height PNG: the interior framed by a 2-pixel red border."""
  b = OBJECTNET_BORDER
  full = np.empty((height, width, 3), np.uint8)
  full[...] = OBJECTNET_BORDER_RGB
  full[b:height - b, b:width - b] = objectnet_interior(seed, width - 2 * b,
                                                       height - 2 * b)
  return encode(full, "PNG", mode=mode)


def objectnet_file_name(seed: int) -> str:
  """Released image names are 15 hex digits + `.png`."""
  return f"{seed:015x}.png"


def objectnet_members(label_space: Iterable[dict],
                      images: Optional[Dict[str, tuple]] = None
                      ) -> Dict[str, bytes]:
  """Members of objectnet-1.0.zip in the released layout.

  Args:
    label_space: the classes of the objectnet label space
      (`{"name": ..., "imagenet_indices": [...]}`, as in its JSON file). Each
      is in the folder mapping (the folders of those not in `images` are
      made up from the names: they hold no image) and is a key of
      `objectnet_to_imagenet_1k.json`, whose values name its ImageNet classes
      ("; "-joined, as released; here our class table's names).
    images: folder -> (class name, [(width, height, mode)]); default
      OBJECTNET_IMAGES.
  """
  images = OBJECTNET_IMAGES if images is None else images
  label_space = list(label_space)
  mapping = {c["name"].lower().replace(" ", "_"): c["name"] for c in label_space}
  for folder, (class_name, _) in images.items():
    mapping = {f: n for f, n in mapping.items() if n != class_name}
    mapping[folder] = class_name
  imagenet_names = _imagenet_class_names()
  overlap = {c["name"]: "; ".join(imagenet_names[i] for i in c["imagenet_indices"])
             for c in label_space}
  top = "objectnet-1.0"
  members = {
      f"{top}/README": b"Dummy ObjectNet 1.0 for tests (synthetic images).\n",
      f"{top}/LICENSE": b"Synthetic test data; see builders/bench_objectnet.\n",
      f"{top}/mappings/folder_to_objectnet_label.json":
          json.dumps(dict(sorted(mapping.items()))).encode("utf-8"),
      f"{top}/mappings/objectnet_to_imagenet_1k.json":
          json.dumps(overlap, indent=2).encode("utf-8"),
      # Present in the release, not read by the builder.
      f"{top}/mappings/pytorch_to_imagenet_2012_id.json": b"{}",
      f"{top}/mappings/imagenet_to_label_2012_v2": b"",
  }
  seed = 0
  for folder, (_, sizes) in images.items():
    for width, height, mode in sizes:
      seed += 1
      members[f"{top}/images/{folder}/{objectnet_file_name(seed)}"] = (
          objectnet_png(seed, width, height, mode))
  return members


def _imagenet_class_names() -> Tuple[str, ...]:
  rows = (REPO_ROOT / "tfds_bench" / "data" / "imagenet1k_classes.tsv"
          ).read_text(encoding="utf-8").splitlines()[1:]
  return tuple(row.split("\t")[2] for row in rows)


def objectnet_label_space() -> list:
  """The classes of tfds_bench/data/label_spaces/objectnet.json."""
  path = REPO_ROOT / "tfds_bench" / "data" / "label_spaces" / "objectnet.json"
  return json.loads(path.read_text(encoding="utf-8"))["classes"]


def write_all(
    builders_dir: pathlib.Path = BUILDERS) -> Tuple[pathlib.Path, ...]:
  """Writes every dummy archive; returns their paths."""
  written = []
  for seed, (archive_name, top_folder, compress) in enumerate(
      V2_ARCHIVES.values(), start=1):
    path = builders_dir / "bench_imagenet_v2" / "dummy_data" / archive_name
    write_tar(path, v2_members(top_folder, seed), compress=compress)
    written.append(path)
  for seed, (short, classes) in enumerate(
      (("a", A_CLASSES), ("r", R_CLASSES), ("o", O_CLASSES)), start=10):
    path = (builders_dir / f"bench_imagenet_{short}" / "dummy_data" /
            f"imagenet-{short}.tar")
    write_tar(path, hendrycks_members(f"imagenet-{short}", classes, seed,
                                      f"ImageNet-{short.upper()}"))
    written.append(path)
  path = (builders_dir / "bench_imagenet_sketch" / "dummy_data" /
          "ImageNet-Sketch.zip")
  write_zip(path, sketch_members())
  written.append(path)
  path = builders_dir / "bench_objectnet" / "dummy_data" / "objectnet-1.0.zip"
  write_encrypted_zip(path, objectnet_members(objectnet_label_space()),
                      OBJECTNET_PASSWORD)
  written.append(path)
  return tuple(written)


if __name__ == "__main__":
  for written_path in write_all():
    print(f"{written_path.stat().st_size:8d}  "
          f"{written_path.relative_to(REPO_ROOT)}")
