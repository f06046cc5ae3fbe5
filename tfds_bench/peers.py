"""Reaching the other processes of a run before TensorFlow waits on them.

A multi-worker strategy waits for every task of its cluster, and a tf.data
service client for its dispatcher, inside TensorFlow's C++ calls: without a
deadline, and (the strategy's start holds the interpreter) deaf to Ctrl-C.
`wait_for` waits for them first, in Python: each address is tried with a plain
TCP connection until all answer, the deadline passes (a `UserError` naming the
addresses that never answered and the fix) or the user presses Ctrl-C
(`KeyboardInterrupt`, raised within one poll interval). An answer means a
process listens there; what speaks on the port is TensorFlow's business.

A multi-worker task also listens on its own cluster port while it waits
(`listen_port`), so that its peers see it before its TensorFlow server
starts, and it goes on only once every peer has answered AND connected to it
(each peer connects once, when it first sees the port): a task that leaves
the wait closes its port until TensorFlow's server opens it again, so a task
that returned on answers alone could leave a slower peer knocking on a
closed port. `watch` keeps checking an address for the rest of the run;
`Heartbeat` puts a deadline on the batches a tf.data service owes the run.
No TensorFlow here.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Dict, Optional

from tfds_bench import errors

# Seconds between rounds of connection attempts (and the latency of Ctrl-C).
POLL_SECONDS = 0.2
# Seconds of waiting before `notify` says what is being waited for.
NOTIFY_AFTER_SECONDS = 2.0


def split_address(address: str):
  """``[grpc://]HOST:PORT`` -> (HOST, PORT); a `UserError` for anything else."""
  rest = address.split("://", 1)[-1]
  host, sep, port = rest.rpartition(":")
  if not sep or not host or not port.isdigit():
    raise errors.UserError(f"{address}: expected HOST:PORT")
  return host.strip("[]"), int(port)


def answers(address: str, timeout: float = 1.0) -> bool:
  """Whether a TCP connection to HOST:PORT is accepted within ``timeout`` s."""
  host, port = split_address(address)
  try:
    with socket.create_connection((host, port), timeout=timeout):
      return True
  except OSError:
    return False


def _listen(port: int, what: str) -> socket.socket:
  listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    listener.bind(("", port))
  except OSError as e:
    listener.close()
    raise errors.UserError(f"{what}: port {port} is in use by another program ({e.strerror}); "
                           "stop it or give this task another port") from None
  listener.listen(16)
  listener.setblocking(False)
  return listener


def _drain(listener: socket.socket) -> int:
  """Accepts and closes the peers' probes; returns how many there were."""
  count = 0
  while True:
    try:
      connection, _ = listener.accept()
    except (BlockingIOError, InterruptedError):
      return count
    connection.close()
    count += 1


def wait_for(addresses: Dict[str, str], timeout_s: float, fix: str, context: str = "",
             listen_port: Optional[int] = None, listen_what: str = "this task",
             notify: Optional[Callable[[str], None]] = None) -> None:
  """Returns once every address answers; raises `UserError` after ``timeout_s``.

  Args:
    addresses: a description (e.g. "worker 1") -> its HOST:PORT.
    timeout_s: the deadline, in seconds (`bench_main --connect_timeout`).
    fix: what the user should do, ending the error's line.
    context: what the wait is for (e.g. "--strategy=multi_worker"), starting it.
    listen_port: a port to accept connections on while waiting (this task's
      own cluster port), closed before returning.
    listen_what: names the port's owner in the error if it is taken.
    notify: called once with a line saying what is awaited, when the wait
      lasts longer than `NOTIFY_AFTER_SECONDS`.
  """
  for address in addresses.values():
    split_address(address)
  listener = _listen(listen_port, listen_what) if listen_port is not None else None
  try:
    start = time.monotonic()
    waiting = dict(addresses)
    reached_us = 0
    notified = False
    prefix = f"{context}: " if context else ""
    while True:
      if listener is not None:
        reached_us += _drain(listener)
      waiting = {what: a for what, a in waiting.items()
                 if not answers(a, timeout=min(1.0, max(0.05, timeout_s)))}
      if not waiting and (listener is None or reached_us >= len(addresses)):
        return
      elapsed = time.monotonic() - start
      if elapsed >= timeout_s and waiting:
        missing = ", ".join(f"{what} at {a}" for what, a in waiting.items())
        raise errors.UserError(f"{prefix}no answer from {missing} "
                               f"within --connect_timeout={timeout_s:g} s; {fix}")
      if elapsed >= timeout_s:
        everyone = ", ".join(f"{what} at {a}" for what, a in addresses.items())
        raise errors.UserError(
            f"{prefix}{everyone} answered, but only {reached_us} of them reached port "
            f"{listen_port} of {listen_what} within --connect_timeout={timeout_s:g} s; give "
            "every task the same cluster (and reachable addresses)")
      if notify is not None and not notified and elapsed >= NOTIFY_AFTER_SECONDS:
        missing = ", ".join(f"{what} at {a}" for what, a in waiting.items())
        notify(f"waiting for {missing} (up to {timeout_s:g} s; Ctrl-C stops)")
        notified = True
      time.sleep(POLL_SECONDS)
  finally:
    if listener is not None:
      listener.close()


def watch(address: str, timeout_s: float, on_lost: Callable[[float], None],
          poll_s: float = 1.0) -> threading.Event:
  """Watches an address that must stay up for the whole run (a tf.data
  service dispatcher, whose loss leaves TensorFlow's client waiting forever,
  out of Ctrl-C's reach). A daemon thread tries it every ``poll_s`` seconds
  and calls ``on_lost(seconds silent)`` once, when it has not answered for
  ``timeout_s`` seconds in a row. Setting the returned event stops it."""
  split_address(address)
  stop = threading.Event()

  def run():
    silent_since = None
    while not stop.wait(poll_s):
      if answers(address, timeout=min(1.0, poll_s)):
        silent_since = None
        continue
      now = time.monotonic()
      silent_since = now if silent_since is None else silent_since
      if now - silent_since >= timeout_s:
        on_lost(now - silent_since)
        return

  threading.Thread(target=run, name=f"watch {address}", daemon=True).start()
  return stop


class Heartbeat:
  """A deadline on progress that TensorFlow itself would wait for without one.

  A tf.data service client waits, without a deadline and out of Ctrl-C's
  reach, for data the dispatcher's workers never send: workers that never
  registered (a static-sharding dispatcher waits for every worker it lists)
  or that died midway, while the dispatcher itself answers. Armed while a
  source is streamed (`arm`, `disarm`), a daemon thread calls
  ``on_stalled(seconds without a beat)`` once when ``timeout_s`` seconds pass
  without a `beat` (one per batch received). `stop` ends the thread.
  """

  def __init__(self, timeout_s: float, on_stalled: Callable[[float], None],
               poll_s: float = 1.0):
    self._timeout_s = timeout_s
    self._on_stalled = on_stalled
    self._lock = threading.Lock()
    self._last_beat: Optional[float] = None  # None: disarmed.
    self._stop = threading.Event()
    threading.Thread(target=self._run, args=(poll_s,), name="heartbeat", daemon=True).start()

  def arm(self) -> None:
    with self._lock:
      self._last_beat = time.monotonic()

  def beat(self) -> None:
    self.arm()

  def disarm(self) -> None:
    with self._lock:
      self._last_beat = None

  def stop(self) -> None:
    self._stop.set()

  def _run(self, poll_s: float) -> None:
    while not self._stop.wait(poll_s):
      with self._lock:
        silent = None if self._last_beat is None else time.monotonic() - self._last_beat
      if silent is not None and silent >= self._timeout_s:
        self._on_stalled(silent)
        return
