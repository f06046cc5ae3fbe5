"""Progress display for long jobs, without a display library.

Library code (evaluation, the audit, ImageNet-P scoring) takes a
``progress_factory``: ``factory(description, total) -> (update(n), close())``,
or None for silence; the description names what is counted (images, pairs,
steps). `bench_main` passes a tqdm one under ``--progress``. `progress` turns
such a factory into a context manager.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional

ProgressFactory = Callable[..., tuple]


@contextlib.contextmanager
def progress(factory: Optional[ProgressFactory], description: str, total: Optional[int]
             ) -> Iterator[Callable[[int], None]]:
  """Yields ``update(n)`` of a display from ``factory`` (a no-op for None); closes it on exit.

  ``total`` None means unknown (the display then shows a count and a rate, no ETA).
  """
  if factory is None:
    yield lambda n: None
    return
  update, close = factory(description, total)
  try:
    yield update
  finally:
    close()
