"""Atomic file writes: a temporary file in the same folder, renamed into place.

Every file the reports package writes (JSON, CSV, Markdown, PNG) goes through
`replacing`: an interrupted or failed write leaves the previous file as it
was (or no file) and never a partial or temporary one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from typing import Iterator


@contextlib.contextmanager
def replacing(path: str) -> Iterator[str]:
  """Yields a temporary path beside ``path``; renames it onto ``path`` on success.

  Whatever the body writes to the temporary path replaces ``path`` only when
  the body returns; if the body or the rename raises (including
  KeyboardInterrupt), the temporary file is removed and the error propagates.

  Args:
    path: the file to write.

  Yields:
    The temporary path to write to (same folder, so the rename is atomic).
  """
  tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    raise


@contextlib.contextmanager
def replacing_entries(folder: str, names) -> Iterator[str]:
  """Yields a new temporary folder inside ``folder``; on success the entries
  ``names`` written there take the place of those in ``folder`` (files or
  folders), and the earlier ones are removed. Other entries of ``folder`` are
  left alone.

  Each entry moves by renames (the earlier one aside, the new one in), so an
  interrupted swap leaves every entry's earlier or new version whole on disk;
  if the body raises, the temporary folder is removed and nothing changes.
  """
  tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
  tmp = os.path.join(folder, f".tmp-{tag}")
  aside = os.path.join(folder, f".old-{tag}")
  os.makedirs(tmp)
  try:
    yield tmp
    os.makedirs(aside)
    for name in names:
      if os.path.lexists(os.path.join(folder, name)):
        os.replace(os.path.join(folder, name), os.path.join(aside, name))
      if os.path.lexists(os.path.join(tmp, name)):
        os.replace(os.path.join(tmp, name), os.path.join(folder, name))
  except BaseException:
    if os.path.isdir(aside):  # put back what was moved aside and not replaced
      for name in os.listdir(aside):
        if not os.path.lexists(os.path.join(folder, name)):
          os.replace(os.path.join(aside, name), os.path.join(folder, name))
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)
    raise
  shutil.rmtree(tmp, ignore_errors=True)
  shutil.rmtree(aside, ignore_errors=True)


def write_text(path: str, text: str) -> None:
  """Writes ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
  with replacing(path) as tmp:
    with open(tmp, "w", encoding="utf-8", newline="") as f:
      f.write(text)
