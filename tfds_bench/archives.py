"""Reads released dataset archives (tar, tar.gz, zip) safely, unextracted.

Shared by the builders in `builders/`: ImageNetV2, -Sketch, -A, -R, -O (and,
later, -C). The builders read the archives exactly as released from TFDS's
`manual_dir`; nothing is written to disk but the prepared TFDS records.

What this module guarantees:

* A missing archive fails fast, before any work, with one message naming the
  file, the folder it was looked in and where to download it
  (`tfds_bench.errors.MissingArchiveError`).
* Member names are checked before use: absolute paths, `..` components,
  backslashes, links and device files are refused (`DamagedInputError` naming
  the member), duplicate names too.
* Members are yielded in a deterministic order: sorted by member name for zip
  files and uncompressed tar files (random access is cheap there); in archive
  order for compressed tar files, where random access would decompress the
  stream from its start for every member. TFDS orders the prepared examples by
  key anyway, so the prepared dataset does not depend on this order.
* Image bytes are validated by a full decode; a valid RGB JPEG is kept byte for
  byte as released, any other readable image (CMYK or grayscale JPEG, PNG or
  GIF named .jpg, ...) is re-encoded as an RGB JPEG the way TFDS's
  `imagenet2012` fixes its CMYK and PNG images
  (`tfds.core.utils.jpeg_cmyk_to_rgb` / `png_to_jpeg`): decoded by TensorFlow,
  encoded by `tf.io.encode_jpeg` at quality 100. A corrupt, truncated or empty
  member raises `DamagedInputError` naming the archive and the member.
* Operating-system metadata that is never data (`__MACOSX/`, `._*` AppleDouble
  files, `.DS_Store`, `Thumbs.db`) is skipped, and the count is logged; every
  other member is either used or refused by the caller.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import zipfile
import zlib
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

from absl import logging
from etils import epath
import PIL.Image

from tfds_bench.errors import DamagedInputError
from tfds_bench.errors import MissingArchiveError

# Magic numbers of the compressions Python's tarfile reads (gzip, bzip2, xz).
_COMPRESSION_MAGIC = (
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
)
_OS_METADATA_FILE_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# Quality TFDS uses when it re-encodes ImageNet's CMYK and PNG images.
CONVERTED_JPEG_QUALITY = 100


def manual_dir_of(dl_manager) -> Optional[epath.Path]:
  """The manual_dir of a TFDS download manager, even when it is empty.

  `dl_manager.manual_dir` raises a bare AssertionError when the folder does not
  exist or is empty; the builders want to raise `MissingArchiveError` naming the
  archive instead, so this returns the configured path in that case.

  Args:
    dl_manager: a `tfds.download.DownloadManager`.

  Returns:
    The manual directory, or None if the download manager has none configured.
  """
  try:
    return epath.Path(dl_manager.manual_dir)
  except AssertionError:
    # The property refuses missing/empty folders; its backing field still holds
    # the configured path, which is what the error message must name.
    configured = getattr(dl_manager, "_manual_dir", None)
    return epath.Path(configured) if configured else None


def find_archive(manual_dir: Optional[os.PathLike | str], file_name: str,
                 url_hint: str) -> epath.Path:
  """Returns `<manual_dir>/<file_name>`, or raises if it is not a file.

  Only the file system is consulted (no network), so this is instant.

  Args:
    manual_dir: the folder the archive should be in (TFDS's manual_dir).
    file_name: the archive's released file name, e.g. `imagenet-a.tar`.
    url_hint: where the user downloads the archive (URL or instructions).

  Returns:
    The path of the archive.

  Raises:
    MissingArchiveError: the archive is not there.
  """
  if manual_dir is None:
    raise MissingArchiveError(
        f"{file_name} not found: no manual_dir is configured. Download it from "
        f"{url_hint} and pass the folder holding it as manual_dir "
        "(tfds.download.DownloadConfig(manual_dir=...) or --manual_dir).")
  folder = epath.Path(manual_dir)
  path = folder / file_name
  if not path.is_file():
    raise MissingArchiveError(
        f"{file_name} not found in {folder}. Download it from {url_hint} and "
        f"put it, unextracted and unrenamed, at {path}.")
  return path


def is_os_metadata(member_name: str) -> bool:
  """Whether a member is file-system metadata that never holds data."""
  parts = member_name.split("/")
  return (parts[0] == "__MACOSX" or parts[-1].startswith("._")
          or parts[-1] in _OS_METADATA_FILE_NAMES)


def check_member_name(member_name: str, archive: os.PathLike | str) -> str:
  """Returns the normalised member name, refusing unsafe names.

  Args:
    member_name: a member's name as stored in the archive.
    archive: the archive, for the error message.

  Returns:
    The name with empty and `.` components removed (`./a//b` -> `a/b`).

  Raises:
    DamagedInputError: the name is absolute, has a `..` component, a
      backslash or a drive letter, or is empty.
  """
  where = f"member {member_name!r} of {archive}"
  if "\\" in member_name or _WINDOWS_DRIVE.match(member_name):
    raise DamagedInputError(
        f"Refusing {where}: backslashes and drive letters are not allowed in "
        "archive member names.")
  if member_name.startswith("/"):
    raise DamagedInputError(f"Refusing {where}: absolute path.")
  parts = member_name.split("/")
  if ".." in parts:
    raise DamagedInputError(f"Refusing {where}: '..' path component.")
  normalized = "/".join(p for p in parts if p not in ("", "."))
  if not normalized:
    raise DamagedInputError(f"Refusing {where}: empty name.")
  return normalized


def _tar_compression(path: epath.Path) -> str:
  """'' for an uncompressed tar, else the tarfile compression name."""
  with path.open("rb") as f:
    head = f.read(8)
  for magic, compression in _COMPRESSION_MAGIC:
    if head.startswith(magic):
      return compression
  return ""


def _check_tar_member(member: tarfile.TarInfo, archive: epath.Path) -> bool:
  """True for a regular file, False for a folder; raises for anything else."""
  if member.isdir():
    return False
  if member.isfile():
    return True
  kind = "link" if (member.issym() or member.islnk()) else "special file"
  raise DamagedInputError(
      f"Refusing member {member.name!r} of {archive}: it is a {kind}, and only "
      "regular files and folders are expected in this archive.")


def _read_tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo,
                     archive: epath.Path) -> bytes:
  f = tar.extractfile(member)
  if f is None:  # Cannot happen for a regular file; guard anyway.
    raise DamagedInputError(f"Cannot read member {member.name!r} of {archive}.")
  data = f.read()
  if len(data) != member.size:
    raise DamagedInputError(
        f"Member {member.name!r} of {archive} is truncated ({len(data)} of "
        f"{member.size} bytes): the archive is damaged, download it again.")
  return data


def _check_tar_end(tar: tarfile.TarFile, archive: epath.Path) -> None:
  """Raises unless the member list ends with tar's end-of-archive marker.

  tarfile takes a file cut at a header boundary for a complete, shorter
  archive; a complete tar has (at least) one all-zero block after the last
  member, which a truncated download lacks.
  """
  tar.fileobj.seek(tar.offset)
  end_block = tar.fileobj.read(tarfile.BLOCKSIZE)
  if end_block != tarfile.NUL * tarfile.BLOCKSIZE:
    raise DamagedInputError(
        f"{archive} is truncated (no end-of-archive marker after "
        f"{len(tar.members)} members): download it again.")


def _iter_tar(archive: epath.Path) -> Iterator[Tuple[str, bytes]]:
  compression = _tar_compression(archive)
  if not compression:
    with tarfile.open(archive, mode="r:") as tar:
      # Reads the headers only; an uncompressed tar seeks past member data.
      names_and_members = []
      for member in tar.getmembers():
        if _check_tar_member(member, archive):
          names_and_members.append(
              (check_member_name(member.name, archive), member))
      _check_unique((name for name, _ in names_and_members), archive)
      _check_tar_end(tar, archive)
      names_and_members.sort(key=lambda pair: pair[0])
      for name, member in names_and_members:
        yield name, _read_tar_member(tar, member, archive)
  else:
    seen = set()
    with tarfile.open(archive, mode="r|" + compression) as tar:
      for member in tar:
        if not _check_tar_member(member, archive):
          continue
        name = check_member_name(member.name, archive)
        if name in seen:
          raise DamagedInputError(
              f"Member {name!r} occurs twice in {archive}; refusing to guess "
              "which copy is meant.")
        seen.add(name)
        yield name, _read_tar_member(tar, member, archive)


def _iter_zip(archive: epath.Path) -> Iterator[Tuple[str, bytes]]:
  with zipfile.ZipFile(archive) as zf:
    names_and_infos = [(check_member_name(info.filename, archive), info)
                       for info in zf.infolist() if not info.is_dir()]
    _check_unique((name for name, _ in names_and_infos), archive)
    names_and_infos.sort(key=lambda pair: pair[0])
    for name, info in names_and_infos:
      try:
        data = zf.read(info)
      except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError) as e:
        raise DamagedInputError(
            f"Cannot read member {info.filename!r} of {archive}: {e}. The "
            "archive is damaged; download it again.") from e
      yield name, data


def _check_unique(names: Iterable[str], archive: epath.Path):
  seen = set()
  for name in names:
    if name in seen:
      raise DamagedInputError(
          f"Member {name!r} occurs twice in {archive}; refusing to guess which "
          "copy is meant.")
    seen.add(name)


def iter_members(
    archive_path: os.PathLike | str) -> Iterator[Tuple[str, bytes]]:
  """Yields `(member_name, bytes)` for every regular file of an archive.

  Supports .tar, .tar.gz/.tgz (and bz2/xz; detected from the content, not the
  name: some "tar.gz" releases are plain tars) and .zip. Folders and OS
  metadata are skipped; names are normalised by `check_member_name`.

  Args:
    archive_path: the archive.

  Yields:
    (member name, member bytes), in the order described in the module doc.

  Raises:
    MissingArchiveError: the archive does not exist.
    DamagedInputError: the archive or a member is unreadable or unsafe.
  """
  archive = epath.Path(archive_path)
  if not archive.is_file():
    raise MissingArchiveError(f"Archive {archive} does not exist.")
  is_zip = zipfile.is_zipfile(archive)
  members = _iter_zip(archive) if is_zip else _iter_tar(archive)
  skipped = 0
  try:
    for name, data in members:
      if is_os_metadata(name):
        skipped += 1
        continue
      yield name, data
  except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error,
          OSError) as e:
    if isinstance(e, FileNotFoundError):
      raise
    raise DamagedInputError(
        f"Cannot read {archive}: {type(e).__name__}: {e}. The archive is "
        "damaged or not a tar/zip file; download it again.") from e
  if skipped:
    logging.info("Skipped %d OS metadata files (__MACOSX, ._*, .DS_Store) "
                 "in %s", skipped, archive)


def ensure_rgb_jpeg(image_bytes: bytes, where: str) -> bytes:
  """Returns the bytes of an RGB JPEG showing the same image.

  A readable RGB JPEG is returned unchanged (byte for byte as released). Any
  other readable image (CMYK/YCCK or grayscale JPEG, PNG, GIF, BMP, ...) is
  decoded to 3 channels by TensorFlow and re-encoded at quality 100, exactly
  as TFDS's `imagenet2012` fixes its CMYK and PNG images.

  Args:
    image_bytes: the encoded image.
    where: what the bytes are, for error messages (archive and member).

  Returns:
    Encoded RGB JPEG bytes.

  Raises:
    DamagedInputError: the bytes are empty, truncated or not an image.
  """
  if not image_bytes:
    raise DamagedInputError(f"{where} is empty (0 bytes), not an image.")
  try:
    with PIL.Image.open(io.BytesIO(image_bytes)) as image:
      image_format, mode = image.format, image.mode
      # A full decode: PIL raises on truncated data (LOAD_TRUNCATED_IMAGES is
      # off by default), which `open` alone would not notice.
      image.load()
  except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError,
          EOFError) as e:
    raise DamagedInputError(
        f"{where} is not a readable image ({type(e).__name__}: {e}); the "
        "archive is damaged, download it again.") from e
  if image_format == "JPEG" and mode == "RGB":
    return image_bytes
  return _to_rgb_jpeg(image_bytes, where)


def _to_rgb_jpeg(image_bytes: bytes, where: str) -> bytes:
  # Imported here: TensorFlow is heavy and only needed for the rare conversion.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    pixels = tf.io.decode_image(image_bytes, channels=3,
                                expand_animations=False)
    return tf.io.encode_jpeg(pixels, format="rgb",
                             quality=CONVERTED_JPEG_QUALITY).numpy()
  except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
    raise DamagedInputError(
        f"{where} cannot be converted to an RGB JPEG: {e.message}") from e


def iter_images(
    archive_path: os.PathLike | str,
    skip: Optional[Callable[[str], bool]] = None,
) -> Iterator[Tuple[str, bytes]]:
  """Yields `(member_name, rgb_jpeg_bytes)` for the images of an archive.

  Args:
    archive_path: the archive.
    skip: members (by normalised name) for which this returns True are not
      images and are passed over (e.g. a README); every other member must be a
      readable image.

  Yields:
    (member name, RGB JPEG bytes).

  Raises:
    DamagedInputError: an archive member is unsafe or not a readable image.
  """
  archive = epath.Path(archive_path)
  for name, data in iter_members(archive):
    if skip is not None and skip(name):
      continue
    yield name, ensure_rgb_jpeg(data, f"member {name!r} of {archive}")


def iter_class_folder_images(
    archive_path: os.PathLike | str,
    top_folder: str,
    top_level_files: Tuple[str, ...] = (),
) -> Iterator[Tuple[str, str, bytes]]:
  """Images of an archive laid out as `<top_folder>/<class>/<file>`.

  This is the layout of ImageNetV2, -Sketch, -A, -R and -O.

  Args:
    archive_path: the archive.
    top_folder: the single folder that holds the class folders.
    top_level_files: files allowed directly in `top_folder` that are not
      images (e.g. `README.txt`); they are skipped.

  Yields:
    (class folder name, path relative to `top_folder` i.e. `<class>/<file>`,
    RGB JPEG bytes).

  Raises:
    DamagedInputError: a member is outside `<top_folder>/<class>/`, or is not
      a readable image.
  """
  archive = epath.Path(archive_path)
  allowed = frozenset(f"{top_folder}/{f}" for f in top_level_files)

  def skip(name: str) -> bool:
    if name in allowed:
      return True
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != top_folder:
      raise DamagedInputError(
          f"Unexpected member {name!r} in {archive}: expected "
          f"'{top_folder}/<class folder>/<image file>'"
          + (f" or {sorted(allowed)}" if allowed else "")
          + ". Is this the released archive?")
    return False

  for name, data in iter_images(archive, skip=skip):
    _, class_folder, _ = name.split("/")
    yield class_folder, name[len(top_folder) + 1:], data


# --- random access to plain tars ------------------------------------------------

class NotPlainTarError(DamagedInputError):
  """The archive is not an uncompressed tar, so it cannot be indexed."""


def index_uncompressed_tar(archive: os.PathLike | str
                           ) -> List[Tuple[str, int, int]]:
  """(member name, data offset, size) of the regular files of a plain tar.

  Lets a reader (or a Beam worker) read single members by seeking
  (`read_member_at`) instead of streaming the whole archive. Only headers are
  read. Member names are checked and normalised as `iter_members` does, and
  OS metadata is left out.

  Raises:
    NotPlainTarError: not an uncompressed tar.
    DamagedInputError: an unsafe or duplicate member, or a truncated tar.
  """
  path = epath.Path(archive)
  entries = []
  try:
    with path.open("rb") as f, tarfile.open(fileobj=f, mode="r:") as tar:
      for member in tar:
        if not _check_tar_member(member, path):
          continue
        name = check_member_name(member.name, path)
        if not is_os_metadata(name):
          entries.append((name, member.offset_data, member.size))
      _check_tar_end(tar, path)
  except tarfile.ReadError as e:
    raise NotPlainTarError(
        f"Cannot index {path} ({e}): it is not an uncompressed tar as "
        "released.") from e
  _check_unique((name for name, _, _ in entries), path)
  return entries


def read_member_at(archive: os.PathLike | str, offset: int, size: int,
                   name: str) -> bytes:
  """The `size` bytes at `offset` of an archive (one indexed tar member)."""
  with epath.Path(archive).open("rb") as f:
    f.seek(offset)
    data = f.read(size)
  if len(data) != size:
    raise DamagedInputError(
        f"Member {name!r} of {archive} is truncated ({len(data)} of {size} "
        "bytes): the archive is damaged, download it again.")
  return data


def iter_selected_members(archive: os.PathLike | str,
                          skip: Callable[[str], bool]
                          ) -> Iterator[Tuple[str, bytes]]:
  """`(name, bytes)` of the members for which `skip(name)` is False.

  An uncompressed tar is indexed and only the selected members' data is read
  (a released ImageNet-C archive holds 15 or 20 configs; one costs 1/15 of
  it); any other archive is streamed with `iter_members`. Sorted by name like
  `iter_members` sorts plain tars.
  """
  try:
    entries = index_uncompressed_tar(archive)
  except NotPlainTarError:
    for name, data in iter_members(archive):
      if not skip(name):
        yield name, data
    return
  for name, offset, size in sorted(entries):
    if not skip(name):
      yield name, read_member_at(archive, offset, size, name)
