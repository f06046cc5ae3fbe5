"""OpenOOD v1.5's ImageNet-1k image lists: which images each set holds.

OpenOOD (Jingkang50/OpenOOD, MIT) defines its ImageNet-1k OOD protocol by
image lists, ``benchmark_imglist/imagenet/test_<set>.txt`` in its
``benchmark_imglist.zip`` (Google Drive, fetched by
``scripts/download/download.py``; the lists are not in the repository). Each
line is ``<relative path> <label>``: the label is -1 for OOD images and the
sorted-wnid class index for ImageNet val images; the path is relative to the
folder ``download.py`` unpacks the images into (``images_largescale/`` or, for
Textures, ``images_classic/``).

The lists are shipped in ``tfds_bench/data/openood/`` (gzip, sha256 checked;
provenance in ``data/README.md``). A list the user puts at
``<manual_dir>/benchmark_imglist/imagenet/<file>`` (where ``download.py``
unpacks the zip) is used instead, with a warning when it differs from the
shipped copy.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.resources
import os
from typing import Dict, Optional, Tuple

from absl import logging
from etils import epath

from tfds_bench import errors, shipped_files

SHIPPED_FOLDER = "data/openood"
# Where download.py leaves the lists, relative to its save_dir (manual_dir).
MANUAL_LIST_FOLDER = "benchmark_imglist/imagenet"
ID_LIST = "test_imagenet.txt"
ID_COUNT = 45_000
ID_PREFIX = "imagenet_1k/val/"
OOD_LABEL = -1


@dataclasses.dataclass(frozen=True)
class OODSet:
  """One OOD set of the protocol.

  Attributes:
    name: OpenOOD's key (``DATA_INFO["imagenet"]["ood"]``).
    title: how papers name it.
    group: ``near`` or ``far``.
    list_file: OpenOOD's list.
    prefix: the first path component of every listed image.
    count: lines in the list (checked when the list is read).
    list_sha256: sha256 of the (uncompressed) list as shipped.
  """
  name: str
  title: str
  group: str
  list_file: str
  prefix: str
  count: int
  list_sha256: str


# Counts and digests of the lists as shipped (see data/README.md).
OOD_SETS: Dict[str, OODSet] = {s.name: s for s in (
    OODSet("ssb_hard", "SSB-hard", "near", "test_ssb_hard.txt", "ssb_hard", 49_000,
           "e2dc7ba6c1e2bd2179a06038598344d5d8716be3bbc9409c45b0c3de95431510"),
    OODSet("ninco", "NINCO", "near", "test_ninco.txt", "ninco", 5_879,
           "28450babf7d8d7389b75989a3af15346be0d514f048eac3711694045fdf40dd8"),
    OODSet("inaturalist", "iNaturalist", "far", "test_inaturalist.txt", "inaturalist",
           10_000, "86a19665f968eecf17383bafa15dea3aeb53db96c305d08f026cdb6438376ecb"),
    OODSet("textures", "Textures", "far", "test_textures.txt", "texture", 5_160,
           "9cf1ff7e97ce67ea61a8bb1ffc17bb845ae06e1d22bfebc74c3c0aa284a408c9"),
    OODSet("openimage_o", "OpenImage-O", "far", "test_openimage_o.txt", "openimage_o",
           15_869, "cbfb3ab73257f2d1523e1358e3c55d9589844194447cbad737248835cceb2ffc"),
)}
ID_LIST_SHA256 = "7e0e05f8aa8e312992bfe342d57b8513dd4e62b68fedb5a1c63b6bca662d047c"


@dataclasses.dataclass(frozen=True)
class ImageList:
  """A parsed list: relative paths and labels in list order, and where from."""
  paths: Tuple[str, ...]
  labels: Tuple[int, ...]
  source: str

  def position(self) -> Dict[str, int]:
    """path -> its line index."""
    return {path: i for i, path in enumerate(self.paths)}


def parse(text: str, where: str, prefix: Optional[str] = None,
          count: Optional[int] = None) -> ImageList:
  """Parses an OpenOOD list (``<path> <label>`` per line), checking it.

  Args:
    text: the list's content.
    where: the list's file, for messages.
    prefix: if given, every path must start with ``<prefix>/``.
    count: if given, the number of lines expected.

  Raises:
    errors.DamagedInputError: a malformed line, an unsafe or repeated path,
      a path outside ``prefix`` or a wrong number of lines; names the line.
  """
  paths, labels = [], []
  seen = set()
  for number, line in enumerate(text.splitlines(), 1):
    if not line.strip():
      continue
    parts = line.split(" ")
    if len(parts) != 2:
      raise errors.DamagedInputError(
          f"{where}, line {number}: {line!r} is not '<relative path> <label>'.")
    path, label = parts
    try:
      label = int(label)
    except ValueError:
      raise errors.DamagedInputError(
          f"{where}, line {number}: label {label!r} is not an integer.") from None
    components = path.split("/")
    if path.startswith("/") or ".." in components or "\\" in path or "" in components:
      raise errors.DamagedInputError(
          f"{where}, line {number}: {path!r} is not a safe relative path.")
    if prefix is not None and components[0] != prefix:
      raise errors.DamagedInputError(
          f"{where}, line {number}: {path!r} is not under '{prefix}/': is this "
          "the list of another set?")
    if path in seen:
      raise errors.DamagedInputError(f"{where}, line {number}: {path!r} is listed twice.")
    seen.add(path)
    paths.append(path)
    labels.append(label)
  if count is not None and len(paths) != count:
    raise errors.DamagedInputError(
        f"{where} lists {len(paths)} images, OpenOOD v1.5's lists {count}: "
        "use the list from OpenOOD's benchmark_imglist.zip.")
  return ImageList(tuple(paths), tuple(labels), where)


def _shipped_text(file_name: str) -> str:
  folder = importlib.resources.files("tfds_bench") / SHIPPED_FOLDER
  data = shipped_files.read_checked(folder, f"{file_name}.gz")
  return gzip.decompress(data).decode("utf-8")


def read(file_name: str, expected_sha256: str,
         manual_dir: Optional[os.PathLike | str] = None, *,
         prefix: Optional[str] = None, count: Optional[int] = None) -> ImageList:
  """The list ``file_name``: the user's copy in manual_dir, else the shipped one.

  The user's copy (``<manual_dir>/benchmark_imglist/imagenet/<file_name>``)
  is taken as it is (a warning says so when it differs from OpenOOD's, whose
  sha256 is ``expected_sha256``), and then ``count`` is not enforced: a user
  list defines a different, smaller or larger, test set.
  """
  if manual_dir is not None:
    user_copy = epath.Path(manual_dir) / MANUAL_LIST_FOLDER / file_name
    if user_copy.exists():
      data = user_copy.read_bytes()
      if hashlib.sha256(data).hexdigest() != expected_sha256:
        logging.warning(
            "%s differs from OpenOOD v1.5's %s (sha256 %s): the images it lists "
            "are used, and figures are not comparable with OpenOOD's.",
            user_copy, file_name, expected_sha256)
        count = None
      return parse(data.decode("utf-8"), os.fspath(user_copy), prefix, count)
  return parse(_shipped_text(file_name), f"shipped {SHIPPED_FOLDER}/{file_name}",
               prefix, count)


def ood_list(name: str, manual_dir: Optional[os.PathLike | str] = None) -> ImageList:
  """The image list of OOD set ``name`` (a key of `OOD_SETS`)."""
  if name not in OOD_SETS:
    raise errors.UserError(f"Unknown OpenOOD set {name!r}; known: {', '.join(OOD_SETS)}.")
  spec = OOD_SETS[name]
  return read(spec.list_file, spec.list_sha256, manual_dir, prefix=spec.prefix,
              count=spec.count)


def id_val_file_names(manual_dir: Optional[os.PathLike | str] = None) -> Tuple[str, ...]:
  """The ImageNet val file names (``ILSVRC2012_val_00000001.JPEG``) of
  OpenOOD's ID test split, in list order: 45,000 of the 50,000 (the other
  5,000, ``val_imagenet.txt``, are OpenOOD's tuning split)."""
  image_list = read(ID_LIST, ID_LIST_SHA256, manual_dir, prefix="imagenet_1k",
                    count=ID_COUNT)
  names = []
  for path in image_list.paths:
    if not path.startswith(ID_PREFIX) or path.count("/") != 2:
      raise errors.DamagedInputError(
          f"{image_list.source}: {path!r} is not an ImageNet val image "
          f"('{ID_PREFIX}<file>').")
    names.append(path[len(ID_PREFIX):])
  return tuple(names)
