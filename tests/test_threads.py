"""tfds_bench.threads: ordered, streaming, errors in their place."""

import threading
import time

import pytest

from tfds_bench import threads


def test_map_in_order_keeps_the_input_order():
  # Later items finish first; the results still come in input order.
  def slow_first(i):
    time.sleep(0.01 * (5 - i % 5))
    return i * i

  assert list(threads.map_in_order(slow_first, range(23), workers=4)) == [
      i * i for i in range(23)]


def test_map_in_order_reads_a_bounded_window_ahead():
  read = []

  def items():
    for i in range(100):
      read.append(i)
      yield i

  results = threads.map_in_order(lambda i: i, items(), workers=3)
  assert next(results) == 0
  assert len(read) <= 2 * 3
  results.close()


def test_map_in_order_raises_a_work_error_in_its_turn():
  def fail_at_3(i):
    if i == 3:
      raise KeyError(i)
    return i

  results = threads.map_in_order(fail_at_3, range(10), workers=2)
  assert [next(results) for _ in range(3)] == [0, 1, 2]
  with pytest.raises(KeyError):
    next(results)


def test_map_in_order_raises_a_source_error_after_the_items_before_it():
  def items():
    yield from range(5)
    raise OSError("damaged archive")

  results = threads.map_in_order(lambda i: -i, items(), workers=4)
  assert [next(results) for _ in range(5)] == [0, -1, -2, -3, -4]
  with pytest.raises(OSError, match="^damaged archive$"):
    next(results)


def test_map_in_order_closed_early_starts_no_more_work():
  started = []
  gate = threading.Event()

  def work(i):
    started.append(i)
    gate.wait(5)
    return i

  results = threads.map_in_order(work, range(1000), workers=2)
  gate.set()
  next(results)
  results.close()
  # At most the window (2 * workers) was ever submitted, and nothing runs after close.
  count = len(started)
  time.sleep(0.05)
  assert len(started) == count <= 4


def test_map_in_order_rejects_no_workers():
  with pytest.raises(ValueError, match="workers must be >= 1"):
    list(threads.map_in_order(lambda i: i, range(3), workers=0))


def test_chunks_streams_and_keeps_the_partial_last_chunk():
  assert list(threads.chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
  assert list(threads.chunks([], 3)) == []


def test_chunks_raises_a_source_error_after_the_partial_chunk():
  def items():
    yield from range(4)
    raise OSError("damaged archive")

  chunked = threads.chunks(items(), 3)
  assert next(chunked) == [0, 1, 2]
  assert next(chunked) == [3]
  with pytest.raises(OSError, match="^damaged archive$"):
    next(chunked)


def test_chunks_rejects_an_empty_size():
  with pytest.raises(ValueError, match="size must be >= 1"):
    list(threads.chunks(range(3), 0))
