"""bench_main: evaluate an ImageNet classifier on the tfds_bench suite.

  bench_main --model=efficientnet                  # offline sample suite
  bench_main --model=efficientnet --image_folder=DIR
  bench_main --model=resnet50 --weights=W.h5 --manual_dir=~/imagenet --output_dir=out
      --benchmarks=imagenet2012,imagenet2012_real
  bench_main --predictions=preds.npz --benchmarks=imagenet2012,imagenet2012_real
  bench_main --model=efficientnet --shard=0/4 --output_dir=out ...   # one of 4 slices
  bench_main --predictions='out/predictions-shard-*.npz' --output_dir=merged
  bench_main --compare=out_a,out_b                 # paired test, same images
  bench_main --list

Exit codes: 0 success; 1 a flag that cannot be parsed, or --help (absl's
convention); 2 a user mistake (a path, a flag combination, a bad input file),
reported on one line `bench_main: error: ...`; 130 interrupted (Ctrl-C).

Logging: WARNING and above unless --verbosity / --logtostderr say otherwise
(--verbosity=0 shows INFO).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import sys
import tempfile
from typing import List, Optional, Tuple

from absl import app, flags, logging

from tfds_bench import (audit, benchmark_table, compare, data_service, errors, models, peers,
                        predictions, reports, shards)

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
flags.DEFINE_list("compare", None,
                  "RUN_A,RUN_B: paired comparison of two --output_dir folders on the same "
                  "images (exact McNemar for proportions, paired bootstrap otherwise).")
flags.DEFINE_enum("strategy", "none", ["none", "mirrored", "multi_worker", "tpu"],
                  "Distribution: 'mirrored' runs the forward pass on all local GPUs "
                  "(tf.distribute.MirroredStrategy); 'multi_worker' on every host of the "
                  "TF_CONFIG cluster (MultiWorkerMirroredStrategy; run the same command on "
                  "each, the chief writes --output_dir); 'tpu' on the TPU named by --tpu "
                  "(TPUStrategy). Counts equal a single device's.")
flags.DEFINE_string("tpu", None, "--strategy=tpu: the TPU's name or grpc:// address "
                    "(default: the local TPU).")
flags.DEFINE_string("shard", None,
                    "I/N: evaluate the I-th of N deterministic slices of every source and "
                    "write its predictions file to --output_dir; score the N files together "
                    "with --predictions='DIR/predictions-shard-*.npz'.")
flags.DEFINE_string("data_service", None,
                    "grpc://HOST:PORT of a tf.data service dispatcher (start one with "
                    "python -m tfds_bench.data_service): decode and preprocessing run on its "
                    "workers; local:N starts a dispatcher and N workers in this process, "
                    "which --corrupt_on_the_fly needs (its PIL crop runs only here).")
flags.DEFINE_integer("connect_timeout", 300,
                     "Seconds to wait for the other processes a run needs: the tasks of "
                     "the TF_CONFIG cluster (--strategy=multi_worker), the tf.data service "
                     "dispatcher (--data_service=grpc://...), a --tpu=grpc:// worker. "
                     "Past it, an error names the addresses that did not answer.",
                     lower_bound=1)


EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C

# Flags naming a file or folder: `~` and $VARS are expanded in each (a shell
# leaves `--data_dir=~/x` unexpanded, so without this a literal ./~ appears).
# (--predictions is a comma-separated list: each item is expanded, see
# `_prediction_files`.)
_PATH_FLAGS = ("weights", "image_folder", "manual_dir", "data_dir", "output_dir")

# What each mode reads: a flag given on the command line that its mode would
# ignore is an error naming both, never silently dropped.
# --data_dir says where prepared data lives, like $TFDS_DATA_DIR, and changes
# no result, so it may stay in a user's usual command line.
_SCALING_FLAGS = ("strategy", "tpu", "shard", "data_service")
_MODEL_RUN_FLAGS = ("model", "weights", "preprocessing", "image_folder", "batch_size",
                    "corrupt_on_the_fly") + _SCALING_FLAGS
_IGNORED_BY_MODE = {
    "list": _MODEL_RUN_FLAGS + ("benchmarks", "predictions", "manual_dir", "output_dir",
                                "report", "compare", "audit", "real_threshold"),
    "report": _MODEL_RUN_FLAGS + ("benchmarks", "predictions", "manual_dir", "audit",
                                  "real_threshold", "compare"),
    "compare": _MODEL_RUN_FLAGS + ("benchmarks", "predictions", "output_dir", "audit",
                                   "real_threshold"),
    "audit": ("weights", "preprocessing", "image_folder", "batch_size",
              "corrupt_on_the_fly", "benchmarks", "predictions", "real_threshold")
             + _SCALING_FLAGS,
    "predictions": _MODEL_RUN_FLAGS,
}


@dataclasses.dataclass(frozen=True)
class CheckedFlags:
  """The flags after every check that needs no TensorFlow: paths expanded and
  validated, benchmark ids chosen. Built by `check_flags` before anything slow."""
  model: str
  weights: Optional[str]
  image_folder: Optional[str]
  predictions: Optional[str]  # the flag, each item expanded
  manual_dir: Optional[str]
  data_dir: Optional[str]
  output_dir: Optional[str]
  report: List[str]
  compare: List[str]
  benchmark_ids: List[str]  # empty for --shard files: they name their own
  # --predictions: the files (globs matched); whether they are --shard files.
  prediction_files: List[str] = dataclasses.field(default_factory=list)
  shard_files: bool = False
  # --shard=I/N as (I, N); None without it.
  shard: Optional[Tuple[int, int]] = None


def expand_path(path: Optional[str]) -> Optional[str]:
  """``~`` and environment variables expanded, as a shell would have."""
  if path is None:
    return None
  return os.path.expandvars(os.path.expanduser(path))


def _mode() -> Optional[str]:
  for mode in ("list", "report", "compare", "audit", "predictions"):
    if FLAGS[mode].value:
      return mode
  return None


def _check_combinations() -> None:
  mode = _mode()
  for name in _IGNORED_BY_MODE.get(mode, ()):
    if FLAGS[name].present:
      raise app.UsageError(f"--{name} has no effect with --{mode}; drop one of them")
  if FLAGS["benchmarks"].present and not FLAGS.benchmarks:
    raise app.UsageError("--benchmarks is empty; name at least one id (see --list) or "
                         "leave the flag out for the defaults")
  ids = FLAGS.benchmarks or []
  repeated = sorted({b for b in ids if ids.count(b) > 1})
  if repeated:
    raise app.UsageError(f"--benchmarks names {', '.join(repeated)} more than once")
  if FLAGS.image_folder and ids and "image_folder" not in ids:
    raise app.UsageError("--image_folder is only read by the image_folder benchmark, which "
                         "--benchmarks leaves out; add image_folder to --benchmarks or drop "
                         "--image_folder")
  if FLAGS.real_threshold is not None and not 0.0 <= FLAGS.real_threshold <= 1.0:
    raise app.UsageError(f"--real_threshold={FLAGS.real_threshold}: a Dawid-Skene score "
                         "threshold is a probability in [0, 1] (real.json is 0.8)")
  if FLAGS.batch_size <= 0:
    raise app.UsageError(f"--batch_size={FLAGS.batch_size}: must be positive")
  _check_scaling_flags()


def _check_scaling_flags() -> None:
  """--strategy, --tpu, --shard and --data_service, alone and together."""
  if FLAGS["tpu"].present and FLAGS.strategy != "tpu":
    raise app.UsageError(f"--tpu has no effect with --strategy={FLAGS.strategy}; add "
                         "--strategy=tpu or drop --tpu")
  if FLAGS.strategy == "multi_worker" and not os.environ.get("TF_CONFIG"):
    raise app.UsageError("--strategy=multi_worker reads the cluster from the TF_CONFIG "
                         "environment variable, which is not set (see README, 'Scaling out')")
  if FLAGS.shard is not None:
    try:
      shards.parse_shard(FLAGS.shard)
    except errors.UserError as e:
      raise app.UsageError(str(e)) from None
    if not FLAGS.output_dir:
      raise app.UsageError("--shard needs --output_dir for its predictions file")
  value = FLAGS.data_service
  if value is None:
    return
  if value.startswith(data_service.LOCAL_PREFIX):
    count = value[len(data_service.LOCAL_PREFIX):]
    if not count.isdigit() or int(count) < 1:
      raise app.UsageError(f"--data_service={value}: local:N wants N >= 1 workers, "
                           "e.g. local:2")
    return
  if not value.startswith("grpc://") or not value[len("grpc://"):]:
    raise app.UsageError(f"--data_service={value}: expected grpc://HOST:PORT of a dispatcher "
                         "(python -m tfds_bench.data_service dispatcher) or local:N")
  if FLAGS.corrupt_on_the_fly:
    raise app.UsageError(
        "--corrupt_on_the_fly with --data_service=grpc://...: the on-the-fly crop is a "
        "Python (PIL) step that only this process can run, so workers in other processes "
        "fail on it; use --data_service=local:N, or prepare bench_imagenet_c (on Beam for "
        "scale) and serve its decode from remote workers")


def _prediction_items() -> List[str]:
  """--predictions split at commas, each item with ``~`` and $VARS expanded."""
  return [expand_path(p.strip()) for p in (FLAGS.predictions or "").split(",") if p.strip()]


def _prediction_files() -> Tuple[List[str], bool]:
  """--predictions -> (its files, whether they are --shard files), globs matched.
  A glob matching nothing and shard files mixed with others are errors; a
  plain path that does not exist is kept (`_check_input_paths` names it)."""
  items = _prediction_items()
  if FLAGS.predictions is not None and not items:
    raise app.UsageError("--predictions is empty; give an .npz (or several, comma-separated)")
  try:
    paths = shards.expand(items)
  except errors.UserError as e:
    raise app.UsageError(str(e)) from None
  kinds = {shards.is_shard_file(p) for p in paths if os.path.isfile(p)}
  if kinds == {True, False}:
    raise app.UsageError("--predictions mixes --shard files and other predictions files; "
                         "score each kind on its own")
  if kinds == {True} and FLAGS["benchmarks"].present:
    raise app.UsageError("--benchmarks has no effect with --predictions of --shard files "
                         "(they are scored on the benchmarks they were predicted for); "
                         "drop --benchmarks")
  return paths, kinds == {True}


def _check_output_dir(path: str) -> None:
  """An output folder made (if new) and written to now, not after an hour of
  evaluation: a probe file is created and removed (permission bits alone do
  not tell, e.g. for root or on a read-only mount)."""
  if os.path.exists(path) and not os.path.isdir(path):
    raise app.UsageError(f"--output_dir={path} is a file, not a folder; give a folder")
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as e:
    raise app.UsageError(f"--output_dir={path} cannot be written ({e.strerror}); give a "
                         "folder you can write to") from None


def _check_input_paths(checked: CheckedFlags) -> None:
  if checked.image_folder and not os.path.isdir(checked.image_folder):
    raise app.UsageError(f"image folder not found: {checked.image_folder} (--image_folder "
                         "wants a folder DIR/<wnid or class index>/*.JPEG)")
  for path in checked.prediction_files:
    if not os.path.isfile(path):
      raise app.UsageError(f"predictions file not found: {path}")
  for path in checked.report:
    if not os.path.exists(path):
      raise app.UsageError(f"results file not found: {path}")
  # A mistyped --manual_dir would otherwise send the builders that download
  # (V2, A, R, Sketch) to the network, minutes of retries on a machine without it.
  if checked.manual_dir and not os.path.isdir(checked.manual_dir):
    raise app.UsageError(f"--manual_dir={checked.manual_dir}: folder not found (it should "
                         "hold the released archives, unextracted; see the README's table)")
  if checked.data_dir and os.path.exists(checked.data_dir) and not os.path.isdir(
      checked.data_dir):
    raise app.UsageError(f"--data_dir={checked.data_dir} is a file; give a folder")
  if checked.output_dir:
    _check_output_dir(checked.output_dir)
  if checked.predictions or checked.report or checked.compare or FLAGS.list:
    return
  # The model's own checks (name, .keras path, weights file) need no
  # TensorFlow: `models` loads it only to build.
  spec = models.get(checked.model, preprocessing=FLAGS.preprocessing)
  if checked.weights:
    spec.check_weights(checked.weights)
  elif spec.weights_help:  # a model whose weights do not ship with the package
    raise errors.UserError(spec.weights_help)


def check_flags() -> CheckedFlags:
  """Every check of the flags that needs no TensorFlow, so that a mistake is
  reported in about a second rather than after the model has loaded."""
  _check_combinations()
  paths = {name: expand_path(FLAGS[name].value) for name in _PATH_FLAGS}
  model = FLAGS.model
  if model.endswith((".keras", ".h5")) or os.sep in model:
    model = expand_path(model)
  predictions_flag = ",".join(_prediction_items()) or None
  prediction_files, shard_files = _prediction_files()
  benchmark_ids = ([] if shard_files else
                   _default_benchmarks(paths["image_folder"], predictions_flag))
  checked = CheckedFlags(
      model=model, report=[expand_path(p) for p in FLAGS.report or []],
      compare=[expand_path(p) for p in FLAGS.compare or []], benchmark_ids=benchmark_ids,
      predictions=predictions_flag, prediction_files=prediction_files,
      shard_files=shard_files,
      shard=shards.parse_shard(FLAGS.shard) if FLAGS.shard is not None else None, **paths)
  if not (FLAGS.list or FLAGS.report or FLAGS.compare or FLAGS.audit):
    for benchmark_id in checked.benchmark_ids:
      benchmark_table.get(benchmark_id)  # an unknown id fails here, before TensorFlow
  _check_input_paths(checked)
  return checked


def _listing() -> str:
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
  """A `tfds_bench.progress` factory: a tqdm bar on stderr, ETA when the total
  is known; large counts scaled (k, M: the audit counts billions of pairs)."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  bar = tqdm(total=total, desc=description, unit="", unit_scale=bool(total and total >= 10**5),
             file=sys.stderr, leave=False)
  return bar.update, bar.close


def _default_benchmarks(image_folder: Optional[str], predictions_file: Optional[str]
                        ) -> List[str]:
  if FLAGS.benchmarks:
    return list(FLAGS.benchmarks)
  if image_folder:
    return ["image_folder"]
  if predictions_file:
    raise app.UsageError("--predictions needs --benchmarks, e.g. "
                         "imagenet2012,imagenet2012_real")
  return list(benchmark_table.DEFAULT_OFFLINE)


def _run() -> int:
  if FLAGS.list:
    _check_combinations()
    print(_listing())
    return 0
  checked = check_flags()
  command = " ".join(shlex.quote(a) for a in sys.argv)
  logging.info("bench_main: model %s, benchmarks %s, data_dir %s, output_dir %s",
               checked.model, ",".join(checked.benchmark_ids), checked.data_dir,
               checked.output_dir)
  progress_factory = _tqdm_progress if FLAGS.progress else None
  if checked.report:
    records = [r for path in checked.report for r in reports.load_results(path)]
    print(reports.format_table(records, results_written=bool(checked.output_dir)))
    if checked.output_dir:
      for path in reports.write_report(records, checked.output_dir):
        print(f"wrote {path}")
    return 0
  if FLAGS.audit:
    return _audit(checked, progress_factory)
  if checked.compare:
    if len(checked.compare) != 2:
      raise app.UsageError("--compare wants RUN_A,RUN_B (two --output_dir folders)")
    print(compare.format_comparison(*compare.compare_runs(*checked.compare,
                                                          manual_dir=checked.manual_dir)))
    return 0
  if not checked.predictions:
    _start_tensorflow_quietly()
  from tfds_bench import evaluate  # lazy: tensorflow
  writes_outputs = True
  if checked.predictions:
    run = _score_saved_predictions(checked, command)
  else:
    strategy = _strategy(FLAGS.connect_timeout)
    writes_outputs = evaluate.host_slice(strategy)[0] == 0  # all hosts get the same results
    # The servers of --data_service=local:N live as long as this run.
    service_address, service_servers = _data_service(  # pylint: disable=unused-variable
        FLAGS.connect_timeout)
    data = evaluate.DataOptions(checked.data_dir, checked.manual_dir, checked.image_folder,
                                FLAGS.real_threshold, FLAGS.corrupt_on_the_fly,
                                service_address)
    if checked.shard:
      return _predict_shard(checked, strategy, data, writes_outputs, progress_factory)
    run = evaluate.evaluate(
        checked.model, checked.benchmark_ids, weights=checked.weights,
        preprocessing=FLAGS.preprocessing, data=data,
        batch_size=FLAGS.batch_size, strategy=strategy,
        progress_factory=progress_factory, command=command)
  for notice in run.notices:
    print(f"bench_main: {notice}", file=sys.stderr)
  records = run.records()
  writes_outputs = writes_outputs and bool(checked.output_dir)
  print(reports.format_table(records, results_written=writes_outputs))
  if writes_outputs:
    for path in reports.write_results(checked.output_dir, records, run.provenance):
      print(f"wrote {os.path.abspath(path)}")
    *_, index = reports.write_predictions(checked.output_dir, run.predictions)
    print(f"wrote {len(run.predictions)} per-image predictions file(s) listed in {index}")
  return 0


def _data_service(connect_timeout: int):
  """--data_service (checked by `check_flags`) -> (dispatcher address or None,
  in-process servers to keep alive). A remote dispatcher must answer within
  ``connect_timeout`` seconds (`peers.wait_for`): TensorFlow's client would
  wait for it forever."""
  value = FLAGS.data_service
  if not value:
    return None, []
  if value.startswith(data_service.LOCAL_PREFIX):
    return data_service.start_local(int(value[len(data_service.LOCAL_PREFIX):]))
  address = value[len("grpc://"):]
  peers.wait_for(
      {"the tf.data service dispatcher": address}, connect_timeout,
      context=f"--data_service={value}",
      fix=(f"start it there (python -m tfds_bench.data_service dispatcher --port="
           f"{peers.split_address(address)[1]} --workers=...), check --data_service, or raise "
           "--connect_timeout"),
      notify=_notice)
  return value, []


def _notice(message: str) -> None:
  print(f"bench_main: {message}", file=sys.stderr, flush=True)


def _cluster_tasks(resolver):
  """{"worker 1": "host:port", ...} of every task of a cluster resolver's spec."""
  cluster = resolver.cluster_spec()
  return {f"{job} {task}": cluster.task_address(job, task)
          for job in sorted(cluster.jobs) for task in cluster.task_indices(job)}


def _strategy(connect_timeout: int):
  """--strategy (checked by `check_flags`): None, or the tf.distribute strategy it names.

  multi_worker: the cluster and this task come from TensorFlow's
  TFConfigClusterResolver; every other task must answer within
  ``connect_timeout`` seconds (`peers.wait_for`, before TensorFlow's own
  wait, which has no deadline and ignores Ctrl-C). tpu: a missing TPU is a
  `UserError` naming the fix.
  """
  if FLAGS.strategy == "none":
    return None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if FLAGS.strategy == "mirrored":
    return tf.distribute.MirroredStrategy()
  if FLAGS.strategy == "multi_worker":
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    tasks = _cluster_tasks(resolver)
    me = f"{resolver.task_type} {resolver.task_id}"
    if me not in tasks:
      raise errors.UserError(f"TF_CONFIG's task ({me}) is not in its cluster "
                             f"({', '.join(tasks)}); fix TF_CONFIG")
    peers.wait_for(
        {what: address for what, address in tasks.items() if what != me}, connect_timeout,
        context="--strategy=multi_worker",
        fix=("start the same bench_main command there with its TF_CONFIG task (README, "
             "'Scaling out'), check TF_CONFIG's addresses, or raise --connect_timeout"),
        listen_port=peers.split_address(tasks[me])[1],
        listen_what=f"TF_CONFIG's {me} ({tasks[me]})", notify=_notice)
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
  return _tpu_strategy(tf, connect_timeout)


def _tpu_strategy(tf, connect_timeout: int):
  """TPUStrategy on --tpu (default: this machine's TPU), or a one-line `UserError`."""
  name = FLAGS.tpu or ""
  fix = ("run on a TPU VM (or name a reachable TPU with --tpu=NAME or grpc://HOST:8470), "
         "or use --strategy=mirrored / none")
  if name.startswith("grpc://"):
    peers.wait_for({"the TPU worker": name[len("grpc://"):]}, connect_timeout,
                   context="--strategy=tpu",
                   fix=fix + ", or raise --connect_timeout", notify=_notice)
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, OSError, RuntimeError, tf.errors.OpError) as e:
    found = f"the TPU {name!r}" if name else "a TPU on this machine"
    raise errors.UserError(f"--strategy=tpu: cannot reach {found} ({_first_line(e)}); "
                           f"{fix}") from None
  return tf.distribute.TPUStrategy(resolver)


def _predict_shard(checked: CheckedFlags, strategy, data, writes_outputs: bool,
                   progress_factory) -> int:
  """--shard=I/N: one slice of every source, written as a predictions file
  (`shards.write_shard`); --predictions on the N files scores them as one run."""
  from tfds_bench import evaluate  # lazy: tensorflow
  predicted = evaluate.predict_benchmarks(
      checked.model, checked.benchmark_ids, weights=checked.weights,
      preprocessing=FLAGS.preprocessing, data=data, batch_size=FLAGS.batch_size,
      strategy=strategy, progress_factory=progress_factory, shard=checked.shard)
  for notice in predicted.notices:
    print(f"bench_main: {notice}", file=sys.stderr)
  if writes_outputs:
    path = os.path.join(checked.output_dir, shards.shard_file_name(*checked.shard))
    shards.write_shard(path, predicted.spec.name, [b.id for b in predicted.benchmarks],
                       predicted.by_source, checked.shard)
    print(f"wrote {os.path.abspath(path)}")
  return 0


def _score_saved_predictions(checked: CheckedFlags, command: str):
  """--predictions: one file, several plain files, or the files of a --shard run."""
  from tfds_bench import evaluate  # lazy: tensorflow
  if checked.shard_files:
    model_name, benchmark_ids, by_source = shards.merge_shards(checked.prediction_files)
    return evaluate.score_sources(model_name, benchmark_ids, by_source, command=command,
                                  manual_dir=checked.manual_dir,
                                  real_threshold=FLAGS.real_threshold)
  paths = checked.prediction_files
  loaded = shards.concatenate_files([(p, predictions.load_npz(p)) for p in paths])
  model_name = os.path.splitext(os.path.basename(paths[0]))[0]
  return evaluate.score_predictions(loaded, checked.benchmark_ids, model_name,
                                    command=command, manual_dir=checked.manual_dir,
                                    real_threshold=FLAGS.real_threshold)


def _audit(checked: CheckedFlags, progress_factory) -> int:
  """--audit: near-duplicate candidates between two image sets (ImageNetV2's check)."""
  parts = [expand_path(p) for p in FLAGS.audit.split(",")]
  if len(parts) != 2 or not all(parts):
    raise app.UsageError("--audit wants TEST_SOURCE,REFERENCE_SOURCE")
  if not checked.output_dir:
    raise app.UsageError("--audit needs --output_dir for its CSV and contact sheet")
  result = audit.run_audit(parts[0], parts[1], checked.output_dir, data_dir=checked.data_dir,
                           manual_dir=checked.manual_dir, model=checked.model,
                           progress_factory=progress_factory)
  print(f"{len(result.flagged_test_files())} of {result.num_test} test images flagged as "
        f"possible near-duplicates; see {os.path.join(checked.output_dir, audit.CSV_NAME)} "
        f"and {audit.CONTACT_SHEET_NAME}")
  return 0


def _quiet_libraries() -> None:
  # TF's C++ start-up chatter (CUDA probing on a CPU machine, oneDNN notes)
  # would bury the table; it must be set before TensorFlow loads. absl's own
  # logging follows --verbosity / --logtostderr as in every absl program, and
  # only when neither is given does the suite pick WARNING (TFDS's INFO lines
  # would otherwise bury the table).
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if not (FLAGS["verbosity"].present or FLAGS["logtostderr"].present):
    logging.set_verbosity(logging.WARNING)


# TensorFlow's start-up notes on a CPU machine, logged by its C++ side to
# stderr before absl's C++ logging is initialised, so TF_CPP_MIN_LOG_LEVEL
# does not reach them: the oneDNN note, the CUDA probes and cuInit's failure.
_TF_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} [\d:.]+ +\d+ (port|cudart_stub|cuda_platform|cuda_dnn|cuda_fft|cuda_blas|"
    r"cpu_feature_guard|cuda_executor|cuda_diagnostics)\.cc:\d+\])")


def _start_tensorflow_quietly() -> None:
  """Imports TensorFlow and initialises its devices with stderr caught at the
  file-descriptor level, then passes on every line but the start-up notes.

  Unless --verbosity / --logtostderr are given: then every line shows.
  """
  if FLAGS["verbosity"].present or FLAGS["logtostderr"].present:
    return
  sys.stderr.flush()
  saved_stderr = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as caught:
    os.dup2(caught.fileno(), 2)
    try:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      # MultiWorkerMirroredStrategy configures collective ops, which TensorFlow
      # accepts only before its devices are initialised.
      if FLAGS.strategy != "multi_worker":
        tf.config.list_logical_devices()
    finally:
      os.dup2(saved_stderr, 2)
      os.close(saved_stderr)
      caught.seek(0)
      for line in caught.read().decode("utf-8", "replace").splitlines():
        if not _TF_STARTUP_NOISE.match(line):
          print(line, file=sys.stderr)


def main(argv):
  _quiet_libraries()
  try:
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    return _run()
  except (errors.UserError, app.UsageError) as e:
    _fail(str(e))
  except KeyboardInterrupt:
    print("bench_main: interrupted (Ctrl-C)", file=sys.stderr)
    sys.exit(EXIT_INTERRUPTED)
  except Exception as e:  # pylint: disable=broad-except
    message = _tensorflow_error_message(e)
    if message is None:
      raise
    _fail(message)


def _first_line(error: BaseException) -> str:
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  return lines[0] if lines else type(error).__name__


# A task named in TensorFlow's error text: /job:worker/replica:0/task:1.
_TASK_IN_ERROR = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


def _tensorflow_error_message(error: Exception) -> Optional[str]:
  """The one line for a TensorFlow error that a user can fix, else None:
  memory exhausted by --batch_size; under --strategy=multi_worker, a task of
  the cluster that stopped answering (the tasks named by address)."""
  tf = sys.modules.get("tensorflow")
  if tf is None or not isinstance(error, tf.errors.OpError):
    return None
  if isinstance(error, tf.errors.ResourceExhaustedError):
    smaller = max(1, FLAGS.batch_size // 2)
    return (f"--batch_size={FLAGS.batch_size} does not fit in the device's memory "
            f"({_first_line(error)[:200]}); lower it, e.g. --batch_size={smaller}")
  if FLAGS.strategy != "multi_worker" or not isinstance(
      error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
              tf.errors.AbortedError, tf.errors.CancelledError, tf.errors.InternalError)):
    return None
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  tasks = _cluster_tasks(resolver)
  me = f"{resolver.task_type} {resolver.task_id}"
  named = [f"{job} {task}" for job, task in _TASK_IN_ERROR.findall(str(error))]
  lost = [t for t in dict.fromkeys(named) if t in tasks and t != me] or [
      t for t in tasks if t != me]
  where = ", ".join(f"{t} at {tasks[t]}" for t in lost)
  return (f"--strategy=multi_worker: lost {where} ({type(error).__name__}: "
          f"{_first_line(error)[:200]}); restart the command on every task of TF_CONFIG")


def _fail(message: str) -> None:
  print(f"bench_main: error: {message}", file=sys.stderr)
  sys.exit(EXIT_USER_ERROR)


def _show_flags_under_the_console_script() -> None:
  """absl's --help lists the flags of the module named by sys.argv[0] and shows
  __main__'s docstring; under the console script those are the pip-made
  wrapper, so ours are registered under its name too."""
  main_module = sys.modules["__main__"]
  if main_module.__doc__ is None:
    main_module.__doc__ = __doc__
  for flag in FLAGS.get_flags_for_module(__name__):
    FLAGS.register_flag_by_module(sys.argv[0], flag)


def run():
  """Console-script entry point."""
  _show_flags_under_the_console_script()
  app.run(main)


if __name__ == "__main__":
  run()
