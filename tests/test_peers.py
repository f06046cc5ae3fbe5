"""`peers.wait_for`: the wait for a run's other processes, with a deadline
(no TensorFlow; loopback only, ports from a free-port helper)."""

import socket
import threading
import time

import pytest

from tfds_bench import errors, peers
from tfds_bench.data_service import free_port


def test_returns_once_a_listener_answers():
  with socket.socket() as listener:
    listener.bind(("localhost", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    start = time.monotonic()
    peers.wait_for({"the dispatcher": f"localhost:{port}"}, 5, fix="start it")
    assert time.monotonic() - start < 2


def test_deadline_names_every_silent_address_and_the_fix():
  silent = [free_port(), free_port()]
  notices = []
  start = time.monotonic()
  with pytest.raises(errors.UserError) as error:
    peers.wait_for({"worker 1": f"localhost:{silent[0]}", "worker 2": f"localhost:{silent[1]}"},
                   2.5, fix="start them", context="--strategy=multi_worker",
                   notify=notices.append)
  elapsed = time.monotonic() - start
  assert 2.5 <= elapsed < 6
  assert str(error.value) == (
      f"--strategy=multi_worker: no answer from worker 1 at localhost:{silent[0]}, worker 2 "
      f"at localhost:{silent[1]} within --connect_timeout=2.5 s; start them")
  assert notices == [f"waiting for worker 1 at localhost:{silent[0]}, worker 2 at "
                     f"localhost:{silent[1]} (up to 2.5 s; Ctrl-C stops)"]


def test_two_tasks_waiting_for_each_other_both_return():
  """Each listens on its own port while it waits, as two multi-worker tasks do."""
  ports = [free_port(), free_port()]
  outcome = {}

  def task(index):
    try:
      peers.wait_for({f"worker {1 - index}": f"localhost:{ports[1 - index]}"}, 10,
                     fix="start it", listen_port=ports[index])
      outcome[index] = "ok"
    except errors.UserError as e:
      outcome[index] = str(e)

  first = threading.Thread(target=task, args=(0,))
  first.start()
  time.sleep(0.5)  # the second task starts later
  task(1)
  first.join(15)
  assert outcome == {0: "ok", 1: "ok"}
  # The ports are free again for TensorFlow's servers.
  for port in ports:
    with socket.socket() as s:
      s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
      s.bind(("", port))


def test_own_port_taken_is_a_user_error():
  with socket.socket() as taken:
    taken.bind(("", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    with pytest.raises(errors.UserError, match=rf"TF_CONFIG's worker 0: port {port} is in use"):
      peers.wait_for({}, 1, fix="", listen_port=port, listen_what="TF_CONFIG's worker 0")


@pytest.mark.parametrize("address", ["localhost", "localhost:port", ":5050", "grpc://"])
def test_addresses_without_a_port_are_refused(address):
  with pytest.raises(errors.UserError, match="expected HOST:PORT"):
    peers.split_address(address)
  assert peers.split_address("grpc://host-1:5050") == ("host-1", 5050)


def test_watch_reports_an_address_silent_for_the_timeout_once():
  lost = []
  with socket.socket() as listener:
    listener.bind(("localhost", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    stop = peers.watch(f"localhost:{port}", 1.0, lost.append, poll_s=0.1)
    time.sleep(1.5)
    assert not lost  # answering all along
  deadline = time.monotonic() + 10
  while not lost and time.monotonic() < deadline:
    time.sleep(0.1)
  time.sleep(0.5)
  assert len(lost) == 1 and 1.0 <= lost[0] < 3
  stop.set()


def test_a_stopped_watch_reports_nothing():
  lost = []
  stop = peers.watch(f"localhost:{free_port()}", 0.5, lost.append, poll_s=0.1)
  stop.set()
  time.sleep(1.0)
  assert not lost


def test_heartbeat_reports_a_stall_only_while_armed():
  stalled = []
  heartbeat = peers.Heartbeat(0.3, stalled.append, poll_s=0.02)
  try:
    time.sleep(0.6)  # disarmed: no deadline
    assert stalled == []
    heartbeat.arm()
    for _ in range(6):  # beats more often than the deadline
      time.sleep(0.1)
      heartbeat.beat()
    assert stalled == []
    heartbeat.disarm()
    time.sleep(0.6)
    assert stalled == []
    heartbeat.arm()
    start = time.monotonic()
    while not stalled and time.monotonic() - start < 5:
      time.sleep(0.02)
    assert len(stalled) == 1 and 0.3 <= stalled[0] < 1.0
    assert 0.3 <= time.monotonic() - start < 1.0
    time.sleep(0.2)
    assert len(stalled) == 1  # once
  finally:
    heartbeat.stop()
