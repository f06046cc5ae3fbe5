"""Finds released dataset archives through TFDS and reads them, unextracted.

Shared by the builders in `builders/`: ImageNetV2, -Sketch, -A, -R, -O, -C,
-P and ObjectNet (whose password-protected zip TFDS cannot decrypt:
`EncryptedZip` reads it with Python's zipfile, with the same member checks).
Archives are found through TFDS's public download manager
(`dl_manager.download` verifies a recorded checksum, `dl_manager.manual_dir`)
and read through `tfds.download.iter_archive` and `etils.epath`, so
manual_dir and data_dir may be on any filesystem tf.io.gfile supports
(`gs://...`). Nothing is written but the prepared TFDS records.

What this module adds on top of TFDS's archive iteration:

* A missing archive fails fast, before any work, with one message naming the
  file, the folder it was looked in and where to download it
  (`tfds_bench.errors.MissingArchiveError`).
* Member names are checked before use: absolute paths, `..` components,
  backslashes, links and device files are refused (`DamagedInputError` naming
  the member), duplicate names too; a member TFDS's iteration would skip
  silently (a dot-file) is an error, and so is a tar cut at a member boundary.
* Members are yielded in archive order. TFDS orders the prepared examples by
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
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from absl import logging
from etils import epath
import PIL.Image

from tfds_bench.errors import DamagedInputError
from tfds_bench.errors import MissingArchiveError

# Magic numbers of the compressions Python's tarfile reads (gzip, bzip2, xz).
_COMPRESSION_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
_OS_METADATA_FILE_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# Quality TFDS uses when it re-encodes ImageNet's CMYK and PNG images.
CONVERTED_JPEG_QUALITY = 100


def manual_dir_or_reason(dl_manager) -> Tuple[Optional[epath.Path], str]:
  """(manual_dir, "") if TFDS has a non-empty one, else (None, why not).

  Only TFDS's public `dl_manager.manual_dir` is asked; it raises an
  AssertionError naming the folder when it is missing or empty, and that
  message is what a missing-archive error passes on.
  """
  try:
    return epath.Path(dl_manager.manual_dir), ""
  except AssertionError as e:
    return None, str(e).splitlines()[0]


def find_in_manual_dir(dl_manager, url_infos: Optional[Mapping[str, Any]],
                       url: str, file_name: str) -> Optional[epath.Path]:
  """`<manual_dir>/<file_name>`, verified by TFDS if its checksum is recorded.

  An archive whose (url, size, sha256, file name) row is in the builder's
  checksums.tsv is handed to `dl_manager.download(url)`: TFDS finds it in
  manual_dir under the recorded name, computes its size and sha256 and raises
  TFDS's `NonMatchingChecksumError` for a wrong file; nothing is
  downloaded. An archive without a recorded row is read as it is, and a
  warning says how to record the row once (the builder's README).

  Args:
    dl_manager: the builder's `tfds.download.DownloadManager`.
    url_infos: the builder's recorded checksums (`Builder.url_infos`).
    url: where the archive is published (the checksums.tsv key).
    file_name: the archive's released file name.

  Returns:
    The archive's path, or None if it is not in manual_dir.
  """
  manual_dir, _ = manual_dir_or_reason(dl_manager)
  if manual_dir is None or not (manual_dir / file_name).exists():
    return None
  if url in (url_infos or {}):
    return epath.Path(dl_manager.download(url))
  logging.warning(
      "%s is read from %s without checksum verification: no checksum is "
      "published for it. To verify later runs, record its row once in the "
      "builder's checksums.tsv (see the builder's README, 'Verifying').",
      file_name, manual_dir)
  return manual_dir / file_name


def get_archive(dl_manager, url_infos: Optional[Mapping[str, Any]], url: str,
                file_name: str) -> epath.Path:
  """An archive a builder downloads like TFDS would, verified when recorded.

  With a recorded checksum (a row in the builder's checksums.tsv) this is
  `dl_manager.download(url)`: TFDS takes `<manual_dir>/<file_name>` if it is
  there, else downloads the URL, and verifies size and sha256 either way (a
  wrong file raises TFDS's `NonMatchingChecksumError`). Without one the
  archive is read from manual_dir only (`find_in_manual_dir`).

  Raises:
    MissingArchiveError: not in manual_dir, and no recorded checksum or the
      download failed (no network, say): names the file, the folder and URL.
  """
  if url in (url_infos or {}):
    try:
      return epath.Path(dl_manager.download(url))
    except OSError as e:  # requests' errors are OSErrors; a bad checksum is not.
      raise missing_archive_error(
          dl_manager, f"{file_name} not found, and downloading it from {url} failed "
          f"({type(e).__name__}: {str(e).splitlines()[0][:200]}): download it "
          "yourself.") from None
  path = find_in_manual_dir(dl_manager, url_infos, url, file_name)
  if path is None:
    raise missing_archive_error(
        dl_manager, f"{file_name} is needed: download it from {url}.")
  return path


def missing_archive_error(dl_manager, needed: str) -> MissingArchiveError:
  """The error for archives that are not in manual_dir, naming the folder.

  Args:
    dl_manager: the builder's download manager.
    needed: what is needed and where to get it, ending with a full stop.
  """
  manual_dir, reason = manual_dir_or_reason(dl_manager)
  where = f"Looked in {manual_dir}." if manual_dir is not None else reason
  return MissingArchiveError(
      f"{needed} {where} Put the archive(s) there, unextracted and "
      "unrenamed, and pass the folder as manual_dir "
      "(tfds.download.DownloadConfig(manual_dir=...) or --manual_dir).")


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


# How an archive is read: TFDS's ExtractMethod names, looked up only where
# TFDS iterates (importing TFDS here would load it, and register our builders,
# for every importer of this module, bench_main included).
_ZIP, _TAR, _TAR_STREAM = "ZIP", "TAR", "TAR_STREAM"


def _extract_method(archive: epath.Path) -> str:
  """How TFDS iterates the archive, from its content (not its name).

  Some "tar.gz" releases are plain tars, so the name is not trusted. A
  compressed tar is streamed (random access would decompress it again for
  every member).
  """
  with archive.open("rb") as f:
    if zipfile.is_zipfile(f):
      return _ZIP
    f.seek(0)
    head = f.read(8)
  if any(head.startswith(magic) for magic in _COMPRESSION_MAGIC):
    return _TAR_STREAM
  return _TAR


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


def _check_unique(names_and_members: Iterable[tuple], archive: epath.Path):
  seen = set()
  for name, *_ in names_and_members:
    if name in seen:
      raise DamagedInputError(
          f"Member {name!r} occurs twice in {archive}; refusing to guess which "
          "copy is meant.")
    seen.add(name)


def _list_members(archive: epath.Path, method: str
                  ) -> List[Tuple[str, int, int]]:
  """(checked name, data offset, size) of the regular files, headers only.

  The check before TFDS's iteration: TFDS skips unsafe names (absolute,
  escaping with `..`) and dot-files silently, and takes a tar cut at a header
  boundary for a shorter complete one; reading the member list first lets
  `iter_members` refuse the first and notice the others. A plain tar or a zip
  costs a few seeks; a compressed tar one decompression.
  """
  with archive.open("rb") as f:
    if method == _ZIP:
      with zipfile.ZipFile(f) as zf:
        entries = [(check_member_name(info.filename, archive),
                    info.header_offset, info.file_size)
                   for info in zf.infolist() if not info.is_dir()]
    else:
      plain = method == _TAR
      with tarfile.open(fileobj=f, mode="r:" if plain else "r|*") as tar:
        entries = [(check_member_name(member.name, archive),
                    member.offset_data, member.size)
                   for member in tar if _check_tar_member(member, archive)]
        if plain:
          _check_tar_end(tar, archive)
  _check_unique(entries, archive)
  return entries


def iter_members(
    archive_path: os.PathLike | str) -> Iterator[Tuple[str, bytes]]:
  """Yields `(member_name, bytes)` for every regular file of an archive.

  Supports .tar, .tar.gz/.tgz (and bz2/xz; detected from the content, not the
  name: some "tar.gz" releases are plain tars) and .zip, on any filesystem
  epath / tf.io.gfile reads. The bytes come from TFDS's own archive iteration
  (`tfds.download.iter_archive`); this adds the member checks around it.
  Folders and OS metadata are skipped; names are normalised by
  `check_member_name`.

  Args:
    archive_path: the archive.

  Yields:
    (member name, member bytes), in archive order.

  Raises:
    MissingArchiveError: the archive does not exist.
    DamagedInputError: the archive or a member is unreadable or unsafe.
  """
  # Imported here, not at the top: see _ZIP.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  archive = epath.Path(archive_path)
  if not archive.exists():
    raise MissingArchiveError(f"Archive {archive} does not exist.")
  try:
    method = _extract_method(archive)
    sizes = {name: size for name, _, size in _list_members(archive, method)}
    skipped = sum(is_os_metadata(name) for name in sizes)
    read = set()
    for path, member in tfds.download.iter_archive(
        archive, tfds.download.ExtractMethod[method]):
      name = path.replace(os.sep, "/")
      if is_os_metadata(name):
        continue
      if name not in sizes:
        raise DamagedInputError(
            f"Member {name!r} of {archive} was not in its member list: the "
            "archive changed while it was read.")
      data = member.read()
      if len(data) != sizes[name]:
        raise DamagedInputError(
            f"Member {name!r} of {archive} is truncated ({len(data)} of "
            f"{sizes[name]} bytes): the archive is damaged, download it again.")
      read.add(name)
      yield name, data
  except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error,
          OSError) as e:
    if isinstance(e, FileNotFoundError):
      raise
    raise DamagedInputError(
        f"Cannot read {archive}: {type(e).__name__}: {e}. The archive is "
        "damaged or not a tar/zip file; download it again.") from e
  unread = sorted(name for name in sizes
                  if name not in read and not is_os_metadata(name))
  if unread:
    raise DamagedInputError(
        f"{len(unread)} member(s) of {archive} were skipped by TFDS's archive "
        f"iteration, e.g. {unread[0]!r} (it skips names starting with '.' or "
        "ending with '~'). Is this the released archive?")
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
  if _extract_method(path) != _TAR:
    raise NotPlainTarError(
        f"Cannot index {path}: it is not an uncompressed tar as released.")
  try:
    entries = _list_members(path, _TAR)
  except tarfile.ReadError as e:
    raise NotPlainTarError(
        f"Cannot index {path} ({e}): it is not an uncompressed tar as "
        "released.") from e
  return [entry for entry in entries if not is_os_metadata(entry[0])]


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


# --- password-protected zips ----------------------------------------------------

# The compression-method number WinZip's AES encryption writes in a member's
# header (APPNOTE.TXT, appendix E); Python's zipfile reads only ZipCrypto.
_ZIP_AES_METHOD = 99


def _fast_zipcrypto() -> bool:
  """Installs `fast-zip-decryption`'s compiled ZipCrypto if it is installed.

  zipfile decrypts ZipCrypto in Python, byte by byte (a few MB/s); the package
  (the `objectnet` extra) swaps in a compiled decrypter on import, after
  checking it on a built-in encrypted sample, and leaves zipfile as it was
  if that check fails.
  """
  try:
    import fast_zip_decryption  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


class EncryptedZip:
  """A password-protected (ZipCrypto) zip, read member by member, unextracted.

  TFDS's archive iteration cannot decrypt, so this reads with Python's zipfile
  (`pwd=`) from an epath file object (any filesystem), with the member checks
  `iter_members` applies: unsafe names are refused, names normalised,
  duplicates refused, folders and OS metadata left out of `names`. Use as a
  context manager.

  Raises (from the constructor or `read`):
    MissingArchiveError: the archive does not exist.
    DamagedInputError: not a zip, an unsafe or duplicate member, AES
      encryption, a password that does not open a member, a CRC mismatch or a
      truncated member; the message names the archive and the member.
  """

  def __init__(self, archive_path: os.PathLike | str, password: bytes):
    self.archive = epath.Path(archive_path)
    if not self.archive.exists():
      raise MissingArchiveError(f"Archive {self.archive} does not exist.")
    if not _fast_zipcrypto():
      logging.warning(
          "Decrypting %s with Python's zipfile (a few MB/s). "
          "`pip install \"tfds_bench[objectnet]\"` (fast-zip-decryption) "
          "makes it about 20 times faster.", self.archive)
    self._password = password
    self._file = self.archive.open("rb")
    try:
      self._infos = self._checked_members()
    except BaseException:
      self._file.close()
      raise

  def _checked_members(self) -> Dict[str, zipfile.ZipInfo]:
    try:
      self._zip = zipfile.ZipFile(self._file)
      infos = [info for info in self._zip.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, EOFError, OSError) as e:
      raise DamagedInputError(
          f"Cannot read {self.archive}: {type(e).__name__}: {e}. The archive "
          "is damaged or not a zip file; download it again.") from e
    entries = [(check_member_name(info.filename, self.archive), info)
               for info in infos]
    _check_unique(entries, self.archive)
    members = {name: info for name, info in entries if not is_os_metadata(name)}
    for name, info in members.items():
      if info.compress_type == _ZIP_AES_METHOD:
        raise DamagedInputError(
            f"Member {name!r} of {self.archive} is AES-encrypted, which "
            "Python's zipfile cannot read; the released archive uses "
            "ZipCrypto. Is this the released archive?")
    return members

  @property
  def names(self) -> Tuple[str, ...]:
    """Normalised names of the regular files, in archive order."""
    return tuple(self._infos)

  def read(self, name: str) -> bytes:
    """The decrypted bytes of member `name` (a name from `names`)."""
    info = self._infos[name]
    where = f"member {name!r} of {self.archive}"
    try:
      data = self._zip.read(info, pwd=self._password)
    except RuntimeError as e:  # zipfile's "Bad password for file ..."
      raise DamagedInputError(
          f"The password does not open {where} ({e}): is this the released "
          "archive, unmodified?") from e
    except zipfile.BadZipFile as e:  # "Bad CRC-32 for file ..."
      raise DamagedInputError(
          f"Cannot read {where}: {e}. The archive is damaged (or the "
          "password is wrong: ZipCrypto's check lets 1 wrong password in 256 "
          "through); download it again.") from e
    except (EOFError, zlib.error, OSError) as e:
      raise DamagedInputError(
          f"Cannot read {where}: {type(e).__name__}: {e}. The archive is "
          "damaged or truncated; download it again.") from e
    return data

  def close(self) -> None:
    self._zip.close()
    self._file.close()

  def __enter__(self) -> "EncryptedZip":
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()
