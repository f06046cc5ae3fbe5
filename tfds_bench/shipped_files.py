"""Data files shipped inside the package, read with their checksums checked.

A folder of shipped files (the frost textures, the sample photos) holds a
``SHA256SUMS`` file in ``sha256sum``'s format. `read_checked` returns a file's
bytes only if they match, so a damaged or replaced copy fails with the file's
name and the fix instead of silently changing results.
"""

from __future__ import annotations

import hashlib
from importlib.resources.abc import Traversable
from typing import Dict

from tfds_bench import errors

CHECKSUMS_FILE = "SHA256SUMS"


def checksums(folder: Traversable) -> Dict[str, str]:
  """``{file name: sha256 hex digest}`` from the folder's ``SHA256SUMS``."""
  sums = {}
  for line in (folder / CHECKSUMS_FILE).read_text(encoding="utf-8").splitlines():
    if line.strip():
      digest, name = line.split(maxsplit=1)
      sums[name.lstrip("*")] = digest
  return sums


def read_checked(folder: Traversable, name: str) -> bytes:
  """The bytes of ``folder/name``, checked against ``folder/SHA256SUMS``.

  Raises:
    errors.DamagedInputError: the file is missing from the checksum list or
      its bytes do not match.
  """
  expected = checksums(folder).get(name)
  if expected is None:
    raise errors.DamagedInputError(
        f"{folder / name} is not listed in {folder / CHECKSUMS_FILE}; "
        "reinstall tfds_bench (pip install --force-reinstall tfds_bench)")
  data = (folder / name).read_bytes()
  actual = hashlib.sha256(data).hexdigest()
  if actual != expected:
    raise errors.DamagedInputError(
        f"{folder / name} has sha256 {actual}, expected {expected} "
        f"({folder / CHECKSUMS_FILE}): the shipped copy is damaged; reinstall "
        "tfds_bench (pip install --force-reinstall tfds_bench)")
  return data
