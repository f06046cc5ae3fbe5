"""A tf.data service on this machine or a cluster: `bench_main --data_service`'s workers.

Decode, preprocessing and on-the-fly ImageNet-C corruption are CPU work; one
accelerator needs more cores than its host has
(`benchmarks/data_service_throughput.py` prints how many). A tf.data service
moves that work to worker processes on any number of machines: one
dispatcher, N workers, and

  bench_main --data_service=grpc://DISPATCHER_HOST:5050 ...

Each worker makes its slice of every source (static sharding: the dispatcher
must know the workers, `input_pipeline.service_slice`), and the evaluation
puts the batches back in source order by example id.

  python -m tfds_bench.data_service dispatcher --port=5050 \\
      --workers=host1:5051,host2:5051
  python -m tfds_bench.data_service worker --port=5051 \\
      --dispatcher=DISPATCHER_HOST:5050      # on host1 and host2

The on-the-fly ImageNet-C crop (PIL, the release's exact resize) is a Python
function inside the graph: a worker can run it only in the process that built
the pipeline (TensorFlow registers it there), so the command line
`--corrupt_on_the_fly` pipeline runs on workers that `local` starts inside
bench_main's own process (`--data_service=local:N`); see README, "Scaling out".
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from typing import List, Sequence, Tuple

LOCAL_PREFIX = "local:"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as bench_main


def free_port() -> int:
  """A TCP port that was free a moment ago on localhost."""
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def start_dispatcher(port: int, worker_addresses: Sequence[str]):
  """A dispatcher serving on ``port`` for exactly ``worker_addresses`` (static sharding)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  service = tf.data.experimental.service
  return service.DispatchServer(service.DispatcherConfig(
      port=port, worker_addresses=list(worker_addresses)))


def start_worker(dispatcher_address: str, port: int, worker_address: str = ""):
  """A worker serving on ``port``, registered with the dispatcher at HOST:PORT.

  ``worker_address`` is how the dispatcher's worker list names it
  (default ``localhost:<port>``).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  service = tf.data.experimental.service
  return service.WorkerServer(service.WorkerConfig(
      dispatcher_address=dispatcher_address, port=port,
      worker_address=worker_address or f"localhost:{port}"))


def start_local(num_workers: int) -> Tuple[str, List[object]]:
  """A dispatcher and ``num_workers`` workers in this process, on free localhost ports.

  Returns ``(grpc://localhost:PORT, servers)``; keep ``servers`` referenced
  for as long as the service is used (they stop when collected).
  """
  if num_workers < 1:
    raise ValueError(f"a tf.data service needs at least one worker, got {num_workers}")
  worker_ports = [free_port() for _ in range(num_workers)]
  dispatcher_port = free_port()
  dispatcher = start_dispatcher(dispatcher_port, [f"localhost:{p}" for p in worker_ports])
  workers = [start_worker(f"localhost:{dispatcher_port}", p) for p in worker_ports]
  return f"grpc://localhost:{dispatcher_port}", [dispatcher, *workers]


def main(argv: Sequence[str]) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m tfds_bench.data_service",
      description="Run a tf.data service dispatcher or worker for bench_main --data_service.")
  roles = parser.add_subparsers(dest="role", required=True)
  dispatcher = roles.add_parser("dispatcher", help="the one dispatcher")
  dispatcher.add_argument("--port", type=int, default=5050)
  dispatcher.add_argument("--workers", required=True,
                          help="comma-separated HOST:PORT of every worker (static sharding)")
  worker = roles.add_parser("worker", help="one worker (as many as --workers lists)")
  worker.add_argument("--port", type=int, default=5051)
  worker.add_argument("--dispatcher", required=True, help="the dispatcher's HOST:PORT")
  worker.add_argument("--address", default="",
                      help="this worker's HOST:PORT as the dispatcher's --workers names it "
                           "(default localhost:PORT)")
  args = parser.parse_args(argv)
  if args.role == "dispatcher":
    server = start_dispatcher(args.port, [w for w in args.workers.split(",") if w])
    print(f"tf.data service dispatcher at grpc://{socket.gethostname()}:{args.port}; "
          f"pass --data_service=grpc://HOST:{args.port} to bench_main", flush=True)
  else:
    server = start_worker(args.dispatcher.removeprefix("grpc://"), args.port, args.address)
    print(f"tf.data service worker on port {args.port}, dispatcher {args.dispatcher}",
          flush=True)
  # The server serves from its own threads. TensorFlow's join() would hold the
  # interpreter, deaf to Ctrl-C; a sleeping loop stops on it.
  try:
    while True:
      time.sleep(0.5)
  except KeyboardInterrupt:
    server.stop()
    print("tf.data service stopped (Ctrl-C)", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
