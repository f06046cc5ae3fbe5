"""Ctrl-C and SIGTERM end a run held inside TensorFlow, in one line.

A tf.data service "dispatcher" that accepts connections and never answers
holds bench_main's main thread inside TensorFlow's dataset registration (C
code, where Python's signal handlers never run); the signal must still end
the run within the grace period, with one line and the shell's exit code.
"""

import signal
import socket
import subprocess
import sys
import threading
import time

from tfds_bench import bench_main


def _silent_server():
  """A listening socket that accepts and never answers; (port, accepted count)."""
  server = socket.socket()
  server.bind(("127.0.0.1", 0))
  server.listen(16)
  accepted = []

  def accept():
    while True:
      try:
        accepted.append(server.accept()[0])
      except OSError:
        return

  threading.Thread(target=accept, daemon=True).start()
  return server, accepted


SIGNALS = ((signal.SIGINT, 130, "bench_main: interrupted (Ctrl-C)"),
           (signal.SIGTERM, 143, "bench_main: terminated (SIGTERM)"))


def test_a_signal_ends_a_run_held_inside_tensorflow(tmp_path, quiet_tf_env):
  """Ctrl-C and SIGTERM, one run each, side by side."""
  servers = [_silent_server() for _ in SIGNALS]
  procs = [subprocess.Popen(
      [sys.executable, "-m", "tfds_bench.bench_main",
       f"--data_service=grpc://127.0.0.1:{server.getsockname()[1]}", "--connect_timeout=120",
       "--benchmarks=sample", f"--data_dir={tmp_path / f'data{index}'}", "--noprogress"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=quiet_tf_env,
      cwd=tmp_path,
      # As from a terminal: the signal's default handling, whatever the runner's.
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
           for index, (server, _) in enumerate(servers)]
  try:
    deadline = time.time() + 240
    # One connection is the reachability check; TensorFlow's own comes next.
    while (any(len(accepted) < 2 and proc.poll() is None
               for (_, accepted), proc in zip(servers, procs)) and time.time() < deadline):
      time.sleep(0.2)
    time.sleep(2)  # inside TensorFlow's call now
    for proc in procs:
      assert proc.poll() is None, proc.communicate()[1][-2000:]
    sent = time.time()
    for proc, (signum, _, _) in zip(procs, SIGNALS):
      proc.send_signal(signum)
    stderrs = [proc.communicate(timeout=60)[1] for proc in procs]
    took = time.time() - sent
  finally:
    for proc in procs:
      proc.kill()
    for server, _ in servers:
      server.close()
  for proc, stderr, (_, code, line) in zip(procs, stderrs, SIGNALS):
    assert proc.returncode == code, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in stderr
  assert took < bench_main.SIGNAL_GRACE_S + 10
