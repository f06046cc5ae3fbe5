"""Shared builder of OpenOOD v1.5's ImageNet-1k OOD sets: a list + its images.

Each set is defined by OpenOOD's image list (`tfds_bench.openood_lists`):
the builder emits exactly the listed images, in list order (the example key
is the line index and shuffling is off), and refuses a listed image it cannot
find or, where the images come from an archive made for the list, an image
the list does not name. The images come from the first of the subclass's
`ImageSource`s found in manual_dir: an archive (read unextracted through
`tfds_bench.archives`, verified by TFDS where the builder's checksums.tsv
records it) or the folder OpenOOD's ``download.py`` leaves
(``images_largescale/`` or ``images_classic/``), read in place.

Features: ``image`` (RGB JPEG: converted as `archives.ensure_rgb_jpeg` does,
since the sets hold PNG, GIF and CMYK files), ``file_name`` (the list's
relative path, e.g. ``ssb_hard/n11622368/n11622368_1063.JPEG``: the key
OpenOOD and ``--predictions`` use) and ``label`` (-1, OpenOOD's OOD label).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Optional, Tuple

from absl import logging
from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from tfds_bench import archives, openood_lists
from tfds_bench.errors import DamagedInputError

# OpenOOD's download script (gdown from Google Drive; lists, then one zip per set).
OPENOOD_DOWNLOAD = ("https://github.com/Jingkang50/OpenOOD/blob/main/"
                    "scripts/download/download.py")
# How many missing images an error names before counting the rest.
_NAMED = 3


@dataclasses.dataclass(frozen=True)
class ImageSource:
  """Where a set's images may be found in manual_dir.

  Attributes:
    name: the archive's file name, or the folder's name, in manual_dir.
    roots: folders inside it that stand for the list's first path component
      (``""``: its top level), tried in order for each listed image.
    complete: True if it holds exactly the listed images (an archive made for
      the list): anything else in it is an error. False for an upstream
      release that holds more (DTD's 5,640 textures for 5,160 listed): the
      rest is skipped and counted.
    folder: a folder read in place, not an archive.
    url: where the archive is published: its checksums.tsv key. An archive
      with a recorded row is verified by TFDS.
  """
  name: str
  roots: Tuple[str, ...]
  complete: bool
  folder: bool = False
  url: Optional[str] = None


class OpenOODListBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """One OpenOOD v1.5 ImageNet-1k OOD set (subclasses set OOD_SET, SOURCES).

  Subclasses also set ``pkg_dir_path`` and ``code_path`` (see
  subset_builder.SubsetArchiveBuilder) and HOMEPAGE; ARCHIVE_NAMES and
  MANUAL_DOWNLOAD_INSTRUCTIONS are derived from SOURCES.
  """

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "OpenOOD v1.5's image list, images from manual_dir."}
  OOD_SET: str
  SOURCES: Tuple[ImageSource, ...]
  HOMEPAGE: str
  ARCHIVE_NAMES: Tuple[str, ...]  # Derived: the archives among SOURCES (README tables)

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    cls.ARCHIVE_NAMES = tuple(s.name for s in cls.SOURCES if not s.folder)
    cls.MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put one of " + ", ".join(s.name + ("/" if s.folder else "") for s in cls.SOURCES)
        + " in manual_dir (see the builder's README.md).\n")

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(encoding_format="jpeg"),
            "file_name": tfds.features.Text(),
            "label": tfds.features.Scalar(dtype=np.int64),
        }),
        homepage=self.HOMEPAGE,
        # Records in list order: the key is the list's line index.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    manual_dir, _ = archives.manual_dir_or_reason(dl_manager)
    image_list = openood_lists.ood_list(self.OOD_SET, manual_dir)
    source, path = self._find_source(dl_manager, manual_dir)
    return {"test": self._generate_examples(path, source, image_list)}

  def _generate_examples(self, path: epath.Path, source: ImageSource,
                         image_list: openood_lists.ImageList):
    if source.folder:
      return self._from_folder(path, source, image_list)
    return self._from_archive(path, source, image_list)

  def _find_source(self, dl_manager, manual_dir) -> Tuple[ImageSource, epath.Path]:
    for source in self.SOURCES:
      if manual_dir is None:
        break
      if source.folder:
        if (manual_dir / source.name).is_dir():
          return source, manual_dir / source.name
        continue
      path = archives.find_in_manual_dir(dl_manager, self.url_infos,
                                         source.url or source.name, source.name)
      if path is not None:
        return source, path
    names = ", ".join(f"{s.name}{'/' if s.folder else ''}" for s in self.SOURCES)
    raise archives.missing_archive_error(
        dl_manager, f"The images of {openood_lists.OOD_SETS[self.OOD_SET].title} are "
        f"needed: one of {names} (see the builder's README).")

  def _example(self, list_path: str, image: bytes) -> dict:
    return {"image": image, "file_name": list_path, "label": openood_lists.OOD_LABEL}

  def _from_archive(self, archive: epath.Path, source: ImageSource,
                    image_list: openood_lists.ImageList) -> Iterator:
    position = image_list.position()
    prefix = openood_lists.OOD_SETS[self.OOD_SET].prefix
    found, skipped = set(), 0
    for name, data in archives.iter_members(archive):
      list_path = _listed_path(name, source.roots, prefix, position)
      if list_path is None:
        if source.complete:
          raise DamagedInputError(
              f"Member {name!r} of {archive} is not in {image_list.source}: the "
              "archive holds an image the list does not name. Is this "
              f"OpenOOD's {source.name}?")
        skipped += 1
        continue
      if list_path in found:
        raise DamagedInputError(
            f"Members of {archive} under two of its roots {source.roots} are both "
            f"{list_path!r}; refusing to guess which is meant.")
      found.add(list_path)
      image = archives.ensure_rgb_jpeg(data, f"member {name!r} of {archive}")
      yield position[list_path], self._example(list_path, image)
    if skipped:
      logging.info("Skipped %d members of %s that %s does not list.", skipped,
                   archive, image_list.source)
    _check_all_found(image_list, found, archive)

  def _from_folder(self, folder: epath.Path, source: ImageSource,
                   image_list: openood_lists.ImageList) -> Iterator:
    # Every listed file is looked up first, so a missing one fails before any
    # image is read; unlisted files in the folder are never read.
    prefix = openood_lists.OOD_SETS[self.OOD_SET].prefix
    files, missing = [], []
    for list_path in image_list.paths:
      rest = list_path[len(prefix) + 1:]
      candidates = [folder / root / rest if root else folder / rest
                    for root in source.roots]
      file = next((c for c in candidates if c.is_file()), None)
      if file is None:
        missing.append(list_path)
      files.append(file)
    if missing:
      raise _missing_error(image_list, missing, folder)
    for index, (list_path, file) in enumerate(zip(image_list.paths, files)):
      image = archives.ensure_rgb_jpeg(file.read_bytes(), f"{file}")
      yield index, self._example(list_path, image)


def _listed_path(member: str, roots: Tuple[str, ...], prefix: str,
                 position: dict) -> Optional[str]:
  """The list path a member stands for, or None if the list does not name it."""
  for root in roots:
    head = f"{root}/" if root else ""
    if member.startswith(head):
      candidate = f"{prefix}/{member[len(head):]}"
      if candidate in position:
        return candidate
  return None


def _check_all_found(image_list: openood_lists.ImageList, found: set, where) -> None:
  missing = [p for p in image_list.paths if p not in found]
  if missing:
    raise _missing_error(image_list, missing, where)


def _missing_error(image_list: openood_lists.ImageList, missing: list,
                   where) -> DamagedInputError:
  named = ", ".join(repr(p) for p in missing[:_NAMED])
  more = f" and {len(missing) - _NAMED} more" if len(missing) > _NAMED else ""
  return DamagedInputError(
      f"{len(missing)} of the {len(image_list.paths)} images {image_list.source} "
      f"lists are not in {where}: {named}{more}. Use the complete release (see the "
      "builder's README).")
