"""Atomic file writes: a temporary file in the same folder, renamed into place.

Every file the reports package writes (JSON, CSV, Markdown, PNG) goes through
`replacing`: an interrupted or failed write leaves the previous file as it
was (or no file) and never a partial or temporary one.
"""

from __future__ import annotations

import contextlib
import os
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


def write_text(path: str, text: str) -> None:
  """Writes ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
  with replacing(path) as tmp:
    with open(tmp, "w", encoding="utf-8", newline="") as f:
      f.write(text)
