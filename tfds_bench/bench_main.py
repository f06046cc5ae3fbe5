"""bench_main: evaluate an ImageNet classifier on the tfds_bench suite.

  bench_main --model=efficientnet                  # offline sample suite
  bench_main --model=efficientnet --image_folder=DIR
  bench_main --model=resnet50 --weights=W.h5 --manual_dir=~/imagenet --output_dir=out
      --benchmarks=imagenet2012,imagenet2012_real
  bench_main --predictions=preds.npz --benchmarks=imagenet2012,imagenet2012_real
  bench_main --model=efficientnet --shard=0/4 --output_dir=out ...   # one of 4 slices
  bench_main --predictions='out/predictions-shard-*.npz' --output_dir=merged
  bench_main --predictions=out --benchmarks=openood_near,openood_far   # a run folder
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
import signal
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

from absl import app, flags, logging

from tfds_bench import (audit, benchmark_table, compare, data_service, errors, models, peers,
                        predictions, reports, run_config, shards)
from tfds_bench.benchmark_types import ScoringOptions
from tfds_bench.reports import openood as openood_report
from tfds_bench.scoring import rows as scoring_rows

FLAGS = flags.FLAGS

flags.DEFINE_string("model", "efficientnet",
                    "Registered model name (see --list), path to a .keras file, a model "
                    "folder keras_hub loads (keras_hub preset, timm or Transformers), a "
                    "keras_hub preset name or a kaggle:// / hf:// handle (the [hub] extra).")
flags.DEFINE_string("weights", None, "Local weights file for models that need one.")
flags.DEFINE_string("preprocessing", None,
                    "Preprocessing preset (torch, inception, caffe, raw) for a .keras model; "
                    "keras_hub for a keras_hub-loaded model: keras_hub's own image converter "
                    "(for timm: without crop_pct / crop_mode).")
flags.DEFINE_list("benchmarks", None,
                  "Benchmark ids (see --list). Default: sample,sample_c (offline), or "
                  "image_folder with --image_folder.")
flags.DEFINE_string("image_folder", None,
                    "Folder in ImageNet layout (DIR/<wnid or class index>/*.JPEG).")
flags.DEFINE_string("predictions", None,
                    "Score saved predictions instead of running a model: an .npz, or several "
                    "(comma-separated paths or globs) scored as one run, e.g. the files of "
                    "--shard runs: --predictions='out/predictions-shard-*.npz'; or a run "
                    "folder written by --output_dir (or its predictions/*.npz), scored per "
                    "image set: what rows over several sets (imagenet_o, openood_*) need.")
flags.DEFINE_string("manual_dir", None, "Folder holding the released archives.")
flags.DEFINE_string("human_data", None,
                    "model-vs-human's raw-data/ folder of human observers' CSVs (not shipped: "
                    "licence unstated); the model_vs_human/* rows then compare with them.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir for prepared datasets.")
flags.DEFINE_string("output_dir", None, "Where to write results.json and results.csv.")
flags.DEFINE_bool("overwrite", False,
                  "Replace the run an --output_dir already holds (refused without it); the "
                  "new run is written beside it and swapped in, so nothing of the earlier "
                  "run remains and an interrupted run loses neither.")
flags.DEFINE_integer("batch_size", 32, "Images per forward pass.")
flags.DEFINE_bool("list", False, "List models and benchmarks, then exit.")
flags.DEFINE_list("report", None, "Results files to combine into one report (no model run).")
flags.DEFINE_bool("progress", True, "Show progress bars on stderr.")
flags.DEFINE_bool("corrupt_on_the_fly", False, "imagenet_c, imagenet_c_bar: corrupt the val "
                  "images in the input pipeline (the builders' generated images) instead of "
                  "reading prepared configs.")
flags.DEFINE_float("real_threshold", None,
                   "Also report ReaL top-1 with label sets at this Dawid-Skene score "
                   "threshold (real.json is 0.8).")
flags.DEFINE_string("imagenet_x_dir", None,
                    "imagenet_x and the *_metaclass rows: folder with ImageNet-X's files "
                    "(imagenet_x_val_top_factor.jsonl, imagenet_x_val_multi_factor.jsonl, "
                    "prototypical_paths.csv, imagenet_1k_classes_to_100_metaclasses.csv); "
                    "default: those of the installed imagenet-x package.")
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


def flag_values() -> Tuple[Dict[str, object], List[str]]:
  """(every run option's parsed flag value, the names given on the command line)."""
  names = list(run_config.OPTIONS)
  return {n: FLAGS[n].value for n in names}, [n for n in names if FLAGS[n].present]


def check_flags() -> run_config.RunConfig:
  """The run configuration of the flags (`run_config.build`): every check
  that needs no TensorFlow, so that a mistake is reported before it loads."""
  values, given = flag_values()
  return run_config.build(
      values, given,
      show_library_logs=FLAGS["verbosity"].present or FLAGS["logtostderr"].present)


def _listing() -> str:
  lines = ["Models:"]
  for name in models.REGISTRY.names():
    lines.append(f"  {name:22s} {models.REGISTRY.get(name).description}")
  for alias, target in sorted(models.REGISTRY.aliases().items()):
    lines.append(f"  {alias:22s} alias of {target}")
  lines.append("  PATH.keras             any saved Keras model (with --preprocessing)")
  lines.append("  DIR                    a keras_hub preset, timm or Transformers folder "
               "(pip install \"tfds_bench[hub]\")")
  lines.append("  PRESET, kaggle://..., hf://...  a keras_hub ImageClassifier preset or handle "
               "(keras_hub's cache, or downloaded)")
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


def _run(config: run_config.RunConfig) -> int:
  if config.mode == run_config.LIST:
    print(_listing())
    return 0
  command = " ".join(shlex.quote(a) for a in sys.argv)
  logging.info("bench_main: %s, model %s, benchmarks %s, data_dir %s, output_dir %s",
               config.mode, config.model, ",".join(config.benchmark_ids), config.data_dir,
               config.output_dir)
  progress_factory = _tqdm_progress if config.progress else None
  if config.mode == run_config.REPORT:
    records = [r for path in config.report for r in reports.load_results(path)]
    print(reports.format_table(records, results_written=bool(config.output_dir)))
    # Each file's model, matched to its published row when it was (timm checkpoints).
    matches = {}
    for path in config.report:
      match = reports.load_published_match(path)
      if match is not None:
        matches.update({r["model"]: match for r in reports.load_results(path)})
    for model, match in sorted(matches.items()):
      print(f"{model}: " + reports.format_published(
          [r for r in records if r["model"] == model], match))
    if config.output_dir:
      for path in reports.write_report(records, config.output_dir,
                                       run_predictions=_openood_run_predictions(config),
                                       manual_dir=config.manual_dir,
                                       published_matches=matches):
        print(f"wrote {path}")
    return 0
  if config.mode == run_config.AUDIT:
    _start_tensorflow_quietly(config)
    return _audit(config, progress_factory)
  if config.mode == run_config.COMPARE:
    print(compare.format_comparison(*compare.compare_runs(
        *config.compare, options=_scoring_options(config, None))))
    return 0
  # The saved predictions are read (numpy) before TensorFlow starts: a bad
  # file ends in its one line at once.
  saved = _read_saved_predictions(config) if config.mode == run_config.PREDICTIONS else None
  # Scoring saved predictions loads TensorFlow too (evaluate imports the
  # input pipeline): its start-up notes are caught in every mode.
  _start_tensorflow_quietly(config)
  from tfds_bench import evaluate  # lazy: tensorflow
  writes_outputs = True
  if saved is not None:
    run = _score_saved_predictions(config, saved, command, progress_factory)
  else:
    strategy = _strategy(config)
    writes_outputs = evaluate.host_slice(strategy)[0] == 0  # all hosts get the same results
    # The servers of --data_service=local:N live as long as this run.
    service_address, service_servers, heartbeat = _data_service(config)  # pylint: disable=unused-variable
    if heartbeat is not None:
      progress_factory = _beating_progress(progress_factory, heartbeat)
    data = evaluate.DataOptions(config.data_dir, config.manual_dir, config.image_folder,
                                config.corrupt_on_the_fly, service_address)
    if config.mode == run_config.SHARD:
      return _predict_shard(config, strategy, data, writes_outputs, progress_factory)
    run = evaluate.evaluate(
        config.model_spec, config.benchmark_ids, weights=config.weights, data=data,
        batch_size=config.batch_size, strategy=strategy,
        progress_factory=progress_factory, command=command,
        real_threshold=config.real_threshold, imagenet_x_dir=config.imagenet_x_dir)
  for notice in run.notices:
    print(f"bench_main: {notice}", file=sys.stderr)
  records = run.records()
  writes_outputs = writes_outputs and bool(config.output_dir)
  print(reports.format_table(records, results_written=writes_outputs))
  spec = config.model_spec
  if spec is not None and spec.published_match is not None:
    print(reports.format_published(records, spec.published_match.describe()))
  if writes_outputs:
    *results, index = reports.write_run(config.output_dir, records, run.provenance,
                                        run.predictions)
    for path in results[:2]:  # results.json, results.csv
      print(f"wrote {os.path.abspath(path)}")
    print(f"wrote {len(run.predictions)} per-image predictions file(s) listed in {index}")
    if openood_report.has_track(run.predictions):
      for path in reports.write_score_distributions(run.model, run.predictions,
                                                    config.output_dir, config.manual_dir):
        print(f"wrote {os.path.abspath(path)}")
  return 0


def _openood_run_predictions(config: run_config.RunConfig):
  """--report: model -> the OpenOOD sources' predictions of each results
  file's run folder that has OpenOOD records and its predictions/ folder
  (for the score-distribution figures)."""
  out = {}
  keys = [openood_report.VAL_KEY, *openood_report.SET_KEYS.values()]
  for path in config.report:
    folder = os.path.dirname(path) if os.path.isfile(path) else path
    records = reports.load_results(path)
    models_run = {r["model"] for r in records if openood_report.is_track_benchmark(
        str(r["benchmark"]))}
    if len(models_run) == 1 and reports.has_predictions(folder):
      by_source = reports.load_predictions(folder, keys)
      if openood_report.has_track(by_source):
        out[models_run.pop()] = by_source
  return out


def _scoring_options(config: run_config.RunConfig, progress_factory) -> ScoringOptions:
  return ScoringOptions(config.manual_dir, config.real_threshold, progress_factory,
                        config.human_data, config.imagenet_x_dir)


def _data_service(config: run_config.RunConfig):
  """--data_service -> (dispatcher address or None, what to keep alive: the
  in-process servers of local:N, or the watches of a remote service, a
  `peers.Heartbeat` or None). A remote dispatcher must answer within
  --connect_timeout (`peers.wait_for`) and keep answering (`peers.watch`),
  and while a source streams its workers must send a batch at least every
  --connect_timeout (the heartbeat, beaten by `_beating_progress`):
  TensorFlow's client would wait for either forever."""
  service = config.data_service
  if service is None:
    return None, [], None
  if service.local_workers:
    return (*data_service.start_local(service.local_workers), None)
  address = service.address[len("grpc://"):]
  peers.wait_for(
      {"the tf.data service dispatcher": address}, config.connect_timeout,
      context=f"--data_service={service.address}",
      fix=(f"start it there (python -m tfds_bench.data_service dispatcher --port="
           f"{peers.split_address(address)[1]} --workers=...), check --data_service, or raise "
           "--connect_timeout"),
      notify=_notice)
  # A dispatcher lost midway would leave the input pipeline waiting forever
  # inside TensorFlow, where neither an exception nor Ctrl-C reaches it: the
  # watch ends the process with the error line.
  def dispatcher_lost(silent):
    _exit_now(f"--data_service={service.address}: the tf.data service dispatcher at "
              f"{address} stopped answering ({silent:.0f} s silent, --connect_timeout); "
              "restart it and its workers, then this command")

  def no_batch(silent):
    # A dispatcher lost during the same seconds is the cause to name.
    if not peers.answers(address):
      dispatcher_lost(silent)
    _exit_now(f"--data_service={service.address}: no batch from the tf.data service within "
              f"--connect_timeout={config.connect_timeout:g} s although its dispatcher at {address} "
              "answers: its workers never registered or stopped; start every worker its "
              f"--workers lists (python -m tfds_bench.data_service worker --dispatcher={address}"
              " --port=PORT --address=HOST:PORT), then this command, or raise --connect_timeout")

  watching = peers.watch(address, config.connect_timeout, dispatcher_lost)
  heartbeat = peers.Heartbeat(config.connect_timeout, no_batch)
  return service.address, [watching], heartbeat


def _beating_progress(factory, heartbeat: peers.Heartbeat):
  """``factory`` (None: no display) whose displays also arm, beat and disarm
  ``heartbeat``: a bar is made when a source starts streaming and updated
  once per batch."""
  def make(description, total):
    update, close = factory(description, total) if factory else (lambda n: None, lambda: None)
    heartbeat.arm()

    def beat_and_update(n):
      heartbeat.beat()
      update(n)

    def disarm_and_close():
      heartbeat.disarm()
      close()
    return beat_and_update, disarm_and_close
  return make


def _exit_now(message: str) -> None:
  """`_fail` from a thread other than the main one: the main thread may be
  blocked inside TensorFlow, so the process ends at once (no results were
  written: they are written only after the evaluation)."""
  sys.stdout.flush()
  print(f"bench_main: error: {message}", file=sys.stderr, flush=True)
  os._exit(EXIT_USER_ERROR)  # pylint: disable=protected-access


def _notice(message: str) -> None:
  print(f"bench_main: {message}", file=sys.stderr, flush=True)


def _cluster_tasks(resolver):
  """{"worker 1": "host:port", ...} of every task of a cluster resolver's spec."""
  cluster = resolver.cluster_spec()
  return {f"{job} {task}": cluster.task_address(job, task)
          for job in sorted(cluster.jobs) for task in cluster.task_indices(job)}


def _strategy(config: run_config.RunConfig):
  """--strategy: None, or the tf.distribute strategy it names.

  multi_worker: the cluster and this task come from TensorFlow's
  TFConfigClusterResolver; every other task must answer within
  --connect_timeout (`peers.wait_for`, before TensorFlow's own wait, which
  has no deadline and ignores Ctrl-C). tpu: a missing TPU is a `UserError`
  naming the fix.
  """
  if config.strategy == "none":
    return None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if config.strategy == "mirrored":
    return tf.distribute.MirroredStrategy()
  if config.strategy == "multi_worker":
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    tasks = _cluster_tasks(resolver)
    me = f"{resolver.task_type} {resolver.task_id}"
    if me not in tasks:
      raise errors.UserError(f"TF_CONFIG's task ({me}) is not in its cluster "
                             f"({', '.join(tasks)}); fix TF_CONFIG")
    peers.wait_for(
        {what: address for what, address in tasks.items() if what != me},
        config.connect_timeout,
        context="--strategy=multi_worker",
        fix=("start the same bench_main command there with its TF_CONFIG task (README, "
             "'Scaling out'), check TF_CONFIG's addresses, or raise --connect_timeout"),
        listen_port=peers.split_address(tasks[me])[1],
        listen_what=f"TF_CONFIG's {me} ({tasks[me]})", notify=_notice)
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
  return _tpu_strategy(tf, config.tpu, config.connect_timeout)


def _tpu_strategy(tf, tpu: Optional[str], connect_timeout: int):
  """TPUStrategy on --tpu (default: this machine's TPU), or a one-line `UserError`."""
  name = tpu or ""
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


def _predict_shard(config: run_config.RunConfig, strategy, data, writes_outputs: bool,
                   progress_factory) -> int:
  """--shard=I/N: one slice of every source, written as a predictions file
  (`shards.write_shard`); --predictions on the N files scores them as one run."""
  from tfds_bench import evaluate  # lazy: tensorflow
  predicted = evaluate.predict_benchmarks(
      config.model_spec, config.benchmark_ids, weights=config.weights, data=data,
      batch_size=config.batch_size, strategy=strategy, progress_factory=progress_factory,
      shard=config.shard)
  for notice in predicted.notices:
    print(f"bench_main: {notice}", file=sys.stderr)
  if writes_outputs:
    path = os.path.join(config.output_dir, shards.shard_file_name(*config.shard))
    shards.write_shard(path, predicted.spec.name, [b.id for b in predicted.benchmarks],
                       predicted.by_source, config.shard)
    print(f"wrote {os.path.abspath(path)}")
  return 0


@dataclasses.dataclass(frozen=True)
class _SavedPredictions:
  """What --predictions read: the model's name and either every source's
  predictions (a run folder, shard files) or one set of predictions (plain
  files, scored against --benchmarks)."""
  model_name: str
  benchmark_ids: Tuple[str, ...]
  by_source: Optional[Dict[str, predictions.Predictions]] = None
  plain: Optional[predictions.Predictions] = None
  origin: Optional[Dict[str, str]] = None


def _read_saved_predictions(config: run_config.RunConfig) -> _SavedPredictions:
  """--predictions: one file, several plain files, the files of a --shard run
  or a run folder, read with numpy only."""
  run_model = (reports.load_provenance(config.prediction_run).get("model")
               if config.prediction_run else None)
  if config.prediction_run_whole:
    return _SavedPredictions(
        run_model or os.path.basename(config.prediction_run), tuple(config.benchmark_ids),
        by_source=reports.load_predictions(config.prediction_run),
        origin={"run_folder": config.prediction_run})
  if config.shard_files:
    model_name, benchmark_ids, by_source = shards.merge_shards(config.prediction_files)
    return _SavedPredictions(model_name, tuple(benchmark_ids), by_source=by_source)
  paths = config.prediction_files
  spaces = scoring_rows.space_scores_of(run_config.chosen_rows(config))
  loaded = shards.concatenate_files([(p, predictions.load_npz(p, spaces)) for p in paths])
  return _SavedPredictions(run_model or os.path.splitext(os.path.basename(paths[0]))[0],
                           tuple(config.benchmark_ids), plain=loaded)


def _score_saved_predictions(config: run_config.RunConfig, saved: _SavedPredictions,
                             command: str, progress_factory):
  from tfds_bench import evaluate  # lazy: tensorflow
  options = _scoring_options(config, progress_factory)
  if saved.by_source is not None:
    return evaluate.score_sources(saved.model_name, list(saved.benchmark_ids), saved.by_source,
                                  command=command, options=options, origin=saved.origin)
  return evaluate.score_predictions(saved.plain, list(saved.benchmark_ids),
                                    saved.model_name, command=command, options=options)


def _audit(config: run_config.RunConfig, progress_factory) -> int:
  """--audit: near-duplicate candidates between two image sets (ImageNetV2's check)."""
  result = audit.run_audit(*config.audit, config.output_dir, data_dir=config.data_dir,
                           manual_dir=config.manual_dir, model=config.model or "efficientnet",
                           progress_factory=progress_factory)
  print(f"{len(result.flagged_test_files())} of {result.num_test} test images flagged as "
        f"possible near-duplicates; see {os.path.join(config.output_dir, audit.CSV_NAME)} "
        f"and {audit.CONTACT_SHEET_NAME}")
  return 0


def _quiet_libraries(config: run_config.RunConfig) -> None:
  # TF's C++ start-up chatter (CUDA probing on a CPU machine, oneDNN notes)
  # would bury the table; it must be set before TensorFlow loads. absl's own
  # logging follows --verbosity / --logtostderr as in every absl program, and
  # only when neither is given does the suite pick WARNING (TFDS's INFO lines
  # would otherwise bury the table).
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if not config.show_library_logs:
    logging.set_verbosity(logging.WARNING)


# TensorFlow's start-up notes on a CPU machine, logged by its C++ side to
# stderr before absl's C++ logging is initialised, so TF_CPP_MIN_LOG_LEVEL
# does not reach them: the oneDNN note, the CUDA probes and cuInit's failure.
_TF_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} [\d:.]+ +\d+ (port|cudart_stub|cuda_platform|cuda_dnn|cuda_fft|cuda_blas|"
    r"cpu_feature_guard|cuda_executor|cuda_diagnostics)\.cc:\d+\])")


def _start_tensorflow_quietly(config: run_config.RunConfig) -> None:
  """Imports TensorFlow and initialises its devices with stderr caught at the
  file-descriptor level, then passes on every line but the start-up notes.

  Unless --verbosity / --logtostderr are given: then every line shows.
  """
  if config.show_library_logs:
    return
  sys.stderr.flush()
  saved_stderr = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as caught:
    os.dup2(caught.fileno(), 2)
    try:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      # MultiWorkerMirroredStrategy configures collective ops, which TensorFlow
      # accepts only before its devices are initialised.
      if config.strategy != "multi_worker":
        tf.config.list_logical_devices()
    finally:
      os.dup2(saved_stderr, 2)
      os.close(saved_stderr)
      caught.seek(0)
      for line in caught.read().decode("utf-8", "replace").splitlines():
        if not _TF_STARTUP_NOISE.match(line):
          print(line, file=sys.stderr)


EXIT_TERMINATED = 143  # 128 + SIGTERM
# How long the main thread gets to end the run itself after a Ctrl-C or
# SIGTERM (its KeyboardInterrupt path: exit 130, nothing half-written) before
# the watcher ends the process: TensorFlow can hold the main thread in C (a
# collective, a tf.data service read), where Python's handlers never run.
SIGNAL_GRACE_S = 3.0


class _Terminated(Exception):
  """SIGTERM, raised in the main thread like KeyboardInterrupt for Ctrl-C."""


def _raise_terminated(signum, frame):
  del signum, frame
  raise _Terminated()


def _end_on_signals_even_when_blocked(reported: threading.Event) -> None:
  """Ctrl-C and SIGTERM end the run in every wait.

  Python runs its signal handlers in the main thread only, which TensorFlow
  can hold in C; but the C-level handler also writes the signal's number to
  a wake-up file descriptor at once. A watcher thread reads it and, if the
  main thread has not ended the run by itself within `SIGNAL_GRACE_S` (its
  KeyboardInterrupt / `_Terminated` path: one line, nothing half-written),
  says so on one line and exits (130, or 143 for SIGTERM).
  """
  read_fd, write_fd = os.pipe()
  os.set_blocking(write_fd, False)
  signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
  signal.signal(signal.SIGTERM, _raise_terminated)

  def watch():
    while True:
      signum = os.read(read_fd, 1)[0]
      if signum in (signal.SIGINT, signal.SIGTERM):
        break
    time.sleep(SIGNAL_GRACE_S)
    if not reported.is_set():
      print(_interrupted_line(signum), file=sys.stderr, flush=True)
    os._exit(EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED)

  threading.Thread(target=watch, name="bench_main-signals", daemon=True).start()


def _interrupted_line(signum: int) -> str:
  if signum == signal.SIGINT:
    return "bench_main: interrupted (Ctrl-C)"
  return "bench_main: terminated (SIGTERM)"


def main(argv):
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  config = None
  reported = threading.Event()
  _end_on_signals_even_when_blocked(reported)
  try:
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config = check_flags()
    _quiet_libraries(config)
    return _run(config)
  except (errors.UserError, app.UsageError) as e:
    _fail(str(e))
  except KeyboardInterrupt:
    reported.set()
    print(_interrupted_line(signal.SIGINT), file=sys.stderr, flush=True)
    sys.exit(EXIT_INTERRUPTED)
  except _Terminated:
    reported.set()
    print(_interrupted_line(signal.SIGTERM), file=sys.stderr, flush=True)
    sys.exit(EXIT_TERMINATED)
  except Exception as e:  # pylint: disable=broad-except
    message = _tensorflow_error_message(e, config)
    if message is None:
      raise
    _fail(message)


def _first_line(error: BaseException) -> str:
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  return lines[0] if lines else type(error).__name__


# A task named in TensorFlow's error text: /job:worker/replica:0/task:1.
_TASK_IN_ERROR = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


def _tensorflow_error_message(error: Exception, config: Optional[run_config.RunConfig]
                              ) -> Optional[str]:
  """The one line for a TensorFlow error that a user can fix, else None:
  memory exhausted by --batch_size; under --strategy=multi_worker, a task of
  the cluster that stopped answering (the tasks named by address)."""
  tf = sys.modules.get("tensorflow")
  if tf is None or config is None or not isinstance(error, tf.errors.OpError):
    return None
  if isinstance(error, tf.errors.ResourceExhaustedError):
    smaller = max(1, config.batch_size // 2)
    return (f"--batch_size={config.batch_size} does not fit in the device's memory "
            f"({_first_line(error)[:200]}); lower it, e.g. --batch_size={smaller}")
  if config.strategy != "multi_worker" or not isinstance(
      error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
              tf.errors.AbortedError, tf.errors.CancelledError)):
    return None
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  tasks = _cluster_tasks(resolver)
  me = f"{resolver.task_type} {resolver.task_id}"
  named = [f"{job} {task}" for job, task in _TASK_IN_ERROR.findall(str(error))]
  lost = [t for t in dict.fromkeys(named) if t in tasks and t != me] or [
      t for t in tasks if t != me]
  where = ", ".join(f"{t} at {tasks[t]}" for t in lost)
  # The line naming a task says what happened ("Error reported from
  # /job:worker/task:1: The following tasks are unhealthy ..."); the first
  # line is often only "Graph execution error:".
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  said = next((l for l in lines if "/job:" in l), _first_line(error))
  return (f"--strategy=multi_worker: lost {where} ({type(error).__name__}: {said[:200]}); "
          "restart the command on every task of TF_CONFIG")


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
