"""Ordered parallel map on threads, streaming its input.

`concurrent.futures.Executor.map` submits its whole input at once (Python <
3.14), which would read a 6.4 GB archive ahead of the work; `map_in_order`
keeps a bounded window in flight. Threads, not processes: the work it serves
(TensorFlow's compiled programs, Pillow's decode and encode) releases the GIL.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
from typing import Callable, Iterable, Iterator, List, Optional, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def default_workers() -> int:
  """One thread per core."""
  return os.cpu_count() or 1


def map_in_order(fn: Callable[[Item], Result], items: Iterable[Item],
                 workers: Optional[int] = None) -> Iterator[Result]:
  """``fn(item)`` for each item on ``workers`` threads, yielded in input order.

  At most ``2 * workers`` items are read ahead of the one yielded. An
  exception from ``fn`` is raised when its result's turn comes; one from
  iterating ``items`` (e.g. a damaged archive) after the results of the items
  before it, as itself. Closing the iterator early cancels the work not
  started.
  """
  workers = default_workers() if workers is None else workers
  if workers < 1:
    raise ValueError(f"workers must be >= 1, got {workers}")
  pending = collections.deque()
  source_failure = None
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    try:
      iterator = iter(items)
      while True:
        try:
          item = next(iterator)
        except StopIteration:
          break
        except Exception as e:  # pylint: disable=broad-except
          source_failure = e
          break
        pending.append(pool.submit(fn, item))
        if len(pending) >= 2 * workers:
          yield pending.popleft().result()
      while pending:
        yield pending.popleft().result()
    finally:
      for future in pending:
        future.cancel()
  if source_failure is not None:
    raise source_failure


def chunks(items: Iterable[Item], size: int) -> Iterator[List[Item]]:
  """``items`` in lists of ``size`` (the last may be shorter), read lazily.

  An exception from iterating ``items`` is raised after the chunk of the
  items before it.
  """
  if size < 1:
    raise ValueError(f"size must be >= 1, got {size}")
  chunk, failure = [], None
  try:
    for item in items:
      chunk.append(item)
      if len(chunk) == size:
        yield chunk
        chunk = []
  except Exception as e:  # pylint: disable=broad-except
    failure = e
  if chunk:
    yield chunk
  if failure is not None:
    raise failure
