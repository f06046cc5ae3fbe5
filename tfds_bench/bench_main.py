"""bench_main: evaluate an ImageNet classifier on the tfds_bench suite.

  bench_main --model=efficientnet                  # offline sample suite
  bench_main --model=efficientnet --image_folder=DIR
  bench_main --model=resnet50 --weights=W.h5 --benchmarks=imagenet2012,imagenet2012_real \
      --manual_dir=~/imagenet --output_dir=out
  bench_main --predictions=preds.npz --benchmarks=imagenet2012,imagenet2012_real
  bench_main --list
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import List

from absl import app, flags

from tfds_bench import audit, benchmark_table, data_service, errors, predictions, reports, shards

FLAGS = flags.FLAGS

flags.DEFINE_string("model", "efficientnet",
                    "Registered model name (see --list) or path to a .keras file.")
flags.DEFINE_string("weights", None, "Local weights file for models that need one.")
flags.DEFINE_string("preprocessing", None,
                    "Preprocessing preset (torch, inception, caffe, raw) for a .keras model.")
flags.DEFINE_list("benchmarks", None,
                  "Benchmark ids (see --list). Default: sample,sample_c (offline), or "
                  "image_folder with --image_folder.")
flags.DEFINE_string("image_folder", None,
                    "Folder in ImageNet layout (DIR/<wnid or class index>/*.JPEG).")
flags.DEFINE_string("predictions", None,
                    "Score saved predictions instead of running a model: an .npz, or several "
                    "(comma-separated paths or globs) scored as one run, e.g. the files of "
                    "--shard runs: --predictions='out/predictions-shard-*.npz'.")
flags.DEFINE_string("manual_dir", None, "Folder holding the released archives.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir for prepared datasets.")
flags.DEFINE_string("output_dir", None, "Where to write results.json and results.csv.")
flags.DEFINE_integer("batch_size", 32, "Images per forward pass.")
flags.DEFINE_bool("list", False, "List models and benchmarks, then exit.")
flags.DEFINE_list("report", None, "Results files to combine into one report (no model run).")
flags.DEFINE_bool("progress", True, "Show progress bars on stderr.")
flags.DEFINE_bool("corrupt_on_the_fly", False,
                  "imagenet_c: corrupt the val images inside the input pipeline (same images "
                  "as bench_imagenet_c's generated mode) instead of reading prepared configs.")
flags.DEFINE_float("real_threshold", None,
                   "Also report ReaL top-1 with label sets at this Dawid-Skene score "
                   "threshold (real.json is 0.8).")
flags.DEFINE_string("audit", None,
                    "TEST_SOURCE,REFERENCE_SOURCE: near-duplicate audit instead of an "
                    "evaluation; a source is a benchmark id, tfds:NAME[/CONFIG]:SPLIT or a folder.")
flags.DEFINE_enum("strategy", "none", ["none", "mirrored", "multi_worker", "tpu"],
                  "Distribution: 'mirrored' runs the forward pass on all local GPUs "
                  "(tf.distribute.MirroredStrategy); 'multi_worker' on every host of the "
                  "TF_CONFIG cluster (MultiWorkerMirroredStrategy; run the same command on "
                  "each, the chief writes --output_dir); 'tpu' on the TPU named by --tpu "
                  "(TPUStrategy). Counts equal a single device's.")
flags.DEFINE_string("tpu", "", "--strategy=tpu: the TPU's name or grpc:// address ('' = local).")
flags.DEFINE_string("shard", None,
                    "I/N: evaluate the I-th of N deterministic slices of every source and "
                    "write its predictions file to --output_dir; score the N files together "
                    "with --predictions='DIR/predictions-shard-*.npz'.")
flags.DEFINE_string("data_service", None,
                    "grpc://HOST:PORT of a tf.data service dispatcher (start one with "
                    "python -m tfds_bench.data_service): decode and preprocessing run on its "
                    "workers; local:N starts a dispatcher and N workers in this process, "
                    "which --corrupt_on_the_fly needs (its PIL crop runs only here).")


class UsageError(Exception):
  pass


def _listing() -> str:
  from tfds_bench import models  # lazy: tensorflow
  lines = ["Models:"]
  for name in models.REGISTRY.names():
    lines.append(f"  {name:22s} {models.REGISTRY.get(name).description}")
  for alias, target in sorted(models.REGISTRY.aliases().items()):
    lines.append(f"  {alias:22s} alias of {target}")
  lines.append("  PATH.keras             any saved Keras model (with --preprocessing)")
  lines.append("Benchmarks:")
  for b in benchmark_table.BENCHMARKS:
    lines.append(f"  {b.id:30s} {b.title}")
    lines.append(f"  {'':30s} metrics: {', '.join(b.metrics)}")
  return "\n".join(lines)


def _tqdm_progress(description, total):
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  bar = tqdm(total=total, desc=description, unit="img", file=sys.stderr, leave=False)
  return bar.update, bar.close


def _default_benchmarks() -> List[str]:
  if FLAGS.benchmarks:
    return FLAGS.benchmarks
  if FLAGS.image_folder:
    return ["image_folder"]
  if FLAGS.predictions:
    raise UsageError("--predictions needs --benchmarks, e.g. imagenet2012,imagenet2012_real")
  return list(benchmark_table.DEFAULT_OFFLINE)


def _run() -> int:
  from tfds_bench import evaluate  # lazy: tensorflow
  if FLAGS.list:
    print(_listing())
    return 0
  command = " ".join(shlex.quote(a) for a in sys.argv)
  if FLAGS.report:
    records = [r for path in FLAGS.report for r in reports.load_results(path)]
    print(reports.format_table(records))
    if FLAGS.output_dir:
      for path in reports.write_report(records, FLAGS.output_dir):
        print(f"wrote {path}")
    return 0
  if FLAGS.audit:
    return _audit()
  writes_outputs = True
  if FLAGS.predictions:
    run = _score_saved_predictions(command)
  else:
    benchmark_ids = _default_benchmarks()
    strategy = _strategy()
    writes_outputs = _is_chief(strategy)
    # The servers of --data_service=local:N live as long as this run.
    service_address, service_servers = _data_service()  # pylint: disable=unused-variable
    data = _data_options(service_address)
    if FLAGS.shard:
      return _predict_shard(benchmark_ids, strategy, data, writes_outputs)
    run = evaluate.evaluate(
        FLAGS.model, benchmark_ids, weights=FLAGS.weights, preprocessing=FLAGS.preprocessing,
        data=data, batch_size=FLAGS.batch_size, strategy=strategy,
        progress_factory=_tqdm_progress if FLAGS.progress else None, command=command)
    for notice in run.notices:
      print(f"bench_main: {notice}", file=sys.stderr)
  records = run.records()
  print(reports.format_table(records))
  if FLAGS.output_dir and writes_outputs:
    for path in reports.write_results(FLAGS.output_dir, records, run.provenance):
      print(f"wrote {path}")
  return 0


def _data_options(service_address):
  from tfds_bench import evaluate  # lazy: tensorflow
  return evaluate.DataOptions(FLAGS.data_dir, FLAGS.manual_dir, FLAGS.image_folder,
                              FLAGS.real_threshold, FLAGS.corrupt_on_the_fly,
                              service_address)


def _data_service():
  """--data_service -> (dispatcher address or None, in-process servers to keep alive)."""
  value = FLAGS.data_service
  if not value:
    return None, []
  if value.startswith(data_service.LOCAL_PREFIX):
    count = value[len(data_service.LOCAL_PREFIX):]
    if not count.isdigit() or int(count) < 1:
      raise UsageError(f"--data_service={value}: local:N wants N >= 1 workers, e.g. local:2")
    return data_service.start_local(int(count))
  if not value.startswith("grpc://"):
    raise UsageError(f"--data_service={value}: expected grpc://HOST:PORT of a dispatcher "
                     "(python -m tfds_bench.data_service dispatcher) or local:N")
  if FLAGS.corrupt_on_the_fly:
    raise UsageError(
        "--corrupt_on_the_fly with --data_service=grpc://...: the on-the-fly crop is a "
        "Python (PIL) step that only this process can run, so workers in other processes "
        "fail on it; use --data_service=local:N, or prepare bench_imagenet_c (on Beam for "
        "scale) and serve its decode from remote workers")
  return value, []


def _strategy():
  """--strategy: None, or the tf.distribute strategy it names."""
  if FLAGS.strategy == "none":
    return None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if FLAGS.strategy == "mirrored":
    return tf.distribute.MirroredStrategy()
  if FLAGS.strategy == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise UsageError("--strategy=multi_worker reads the cluster from the TF_CONFIG "
                       "environment variable, which is not set (see README, 'Scaling out')")
    return tf.distribute.MultiWorkerMirroredStrategy()
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=FLAGS.tpu)
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def _is_chief(strategy) -> bool:
  """Whether this process writes the files: all hosts get the same results."""
  from tfds_bench import evaluate  # lazy: tensorflow
  return evaluate.host_slice(strategy)[0] == 0


def _predict_shard(benchmark_ids, strategy, data, writes_outputs: bool) -> int:
  """--shard=I/N: one slice of every source, written as a predictions file."""
  from tfds_bench import evaluate  # lazy: tensorflow
  shard = shards.parse_shard(FLAGS.shard)
  if not FLAGS.output_dir:
    raise UsageError("--shard needs --output_dir for its predictions file")
  predicted = evaluate.predict_benchmarks(
      FLAGS.model, benchmark_ids, weights=FLAGS.weights, preprocessing=FLAGS.preprocessing,
      data=data, batch_size=FLAGS.batch_size, strategy=strategy,
      progress_factory=_tqdm_progress if FLAGS.progress else None, shard=shard)
  if writes_outputs:
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    path = os.path.join(FLAGS.output_dir, shards.shard_file_name(*shard))
    shards.write_shard(path, predicted.spec.name, [b.id for b in predicted.benchmarks],
                       predicted.by_source, shard)
    print(f"wrote {path}")
  return 0


def _score_saved_predictions(command: str):
  """--predictions: one file, several plain files, or the files of a --shard run."""
  from tfds_bench import evaluate  # lazy: tensorflow
  paths = shards.expand([p for p in FLAGS.predictions.split(",") if p])
  kinds = {shards.is_shard_file(p) for p in paths if os.path.isfile(p)}
  if kinds == {True}:
    if FLAGS.benchmarks:
      raise UsageError("--benchmarks: shard files are scored on the benchmarks they were "
                       "predicted for; leave --benchmarks out")
    model_name, benchmark_ids, by_source = shards.merge_shards(paths)
    return evaluate.score_sources(model_name, benchmark_ids, by_source, command=command,
                                  manual_dir=FLAGS.manual_dir,
                                  real_threshold=FLAGS.real_threshold)
  if kinds == {True, False}:
    raise UsageError("--predictions mixes --shard files and other predictions files")
  benchmark_ids = _default_benchmarks()
  loaded = shards.concatenate_files([(p, predictions.load_npz(p)) for p in paths])
  model_name = os.path.splitext(os.path.basename(paths[0]))[0]
  return evaluate.score_predictions(loaded, benchmark_ids, model_name, command=command,
                                    manual_dir=FLAGS.manual_dir,
                                    real_threshold=FLAGS.real_threshold)


def _audit() -> int:
  """--audit: near-duplicate candidates between two image sets (ImageNetV2's check)."""
  parts = FLAGS.audit.split(",")
  if len(parts) != 2 or not all(parts):
    raise UsageError("--audit wants TEST_SOURCE,REFERENCE_SOURCE")
  if not FLAGS.output_dir:
    raise UsageError("--audit needs --output_dir for its CSV and contact sheet")
  result = audit.run_audit(parts[0], parts[1], FLAGS.output_dir, data_dir=FLAGS.data_dir,
                           manual_dir=FLAGS.manual_dir, model=FLAGS.model)
  print(f"{len(result.flagged_test_files())} of {result.num_test} test images flagged as "
        f"possible near-duplicates; see {os.path.join(FLAGS.output_dir, audit.CSV_NAME)} "
        f"and {audit.CONTACT_SHEET_NAME}")
  return 0


def _quiet_libraries() -> None:
  # TF's C++ start-up chatter (CUDA probing on a CPU machine, oneDNN notes)
  # and TFDS's INFO lines would bury the table; warnings still show.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)


def main(argv):
  _quiet_libraries()
  if len(argv) > 1:
    _fail(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    return _run()
  except (errors.UserError, UsageError) as e:
    _fail(str(e))


def _fail(message: str) -> None:
  print(f"bench_main: error: {message}", file=sys.stderr)
  sys.exit(2)


def run():
  """Console-script entry point."""
  app.run(main)


if __name__ == "__main__":
  run()
