"""The run configuration: every option of a `bench_main` run, parsed and checked once.

`bench_main` hands the flags' values (and which were given) to `build`, which
returns a frozen `RunConfig`; nothing after it reads the flags. Every value
is parsed here and only here: paths expanded, ``--shard``, ``--predictions``
files, the ``--data_service`` address, the ``--compare`` and ``--audit``
inputs, the model resolved to its `models.ModelSpec` (sidecar read once).

Every option declares what reads it (`OPTIONS`): the modes that use it and,
for options only some benchmarks use, the table rows whose sources or scorer
read it (`Benchmark.reads`). An option given where nothing in the chosen mode
or benchmarks reads it is one `UserError` naming the option and the
benchmarks that would use it; the same rule for every option. All of this
needs no TensorFlow, so a mistake is reported before it loads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Dict, FrozenSet, Mapping, Optional, Sequence, Tuple

from tfds_bench import benchmark_table, errors, models, reports, shards
from tfds_bench.benchmark_types import Benchmark
from tfds_bench.reports import results_files

# Modes, by the flag that selects them; a run of the model is "evaluate", or
# "shard" with --shard (one slice, predictions only).
LIST, REPORT, COMPARE, AUDIT, PREDICTIONS = "list", "report", "compare", "audit", "predictions"
SHARD, EVALUATE = "shard", "evaluate"
MODE_FLAGS = (LIST, REPORT, COMPARE, AUDIT, PREDICTIONS)
_MODEL_RUN = frozenset({EVALUATE, SHARD})
# Modes whose benchmarks are known before anything runs: there an option read
# only by some rows must be read by a chosen one.
_ROW_MODES = frozenset({EVALUATE, SHARD, PREDICTIONS})

LOCAL_DATA_SERVICE = "local:"
GRPC = "grpc://"


@dataclasses.dataclass(frozen=True)
class Option:
  """What reads an option.

  Attributes:
    modes: the modes that use it.
    by_rows: True when, in a mode that runs benchmarks, only the rows whose
      `Benchmark.reads` name it use it.
  """
  modes: FrozenSet[str]
  by_rows: bool = False


_ALL_MODES = frozenset({LIST, REPORT, COMPARE, AUDIT, PREDICTIONS, SHARD, EVALUATE})
OPTIONS: Dict[str, Option] = {
    "model": Option(_MODEL_RUN | {AUDIT}),
    "weights": Option(_MODEL_RUN),
    "preprocessing": Option(_MODEL_RUN),
    "benchmarks": Option(_MODEL_RUN | {PREDICTIONS}),
    "image_folder": Option(_MODEL_RUN, by_rows=True),
    # With --report: the user's OpenOOD lists, for the score-distribution figures.
    "manual_dir": Option(_MODEL_RUN | {PREDICTIONS, COMPARE, AUDIT, REPORT}, by_rows=True),
    # Where prepared data lives, like $TFDS_DATA_DIR: it changes no result, so
    # every mode accepts it and it may stay in a user's usual command line.
    "data_dir": Option(_ALL_MODES),
    "output_dir": Option(_MODEL_RUN | {PREDICTIONS, REPORT, AUDIT}),
    "batch_size": Option(_MODEL_RUN),
    "progress": Option(_ALL_MODES),
    "corrupt_on_the_fly": Option(_MODEL_RUN, by_rows=True),
    "real_threshold": Option(_MODEL_RUN | {PREDICTIONS, COMPARE}, by_rows=True),
    "human_data": Option(_MODEL_RUN | {PREDICTIONS, COMPARE}, by_rows=True),
    "imagenet_x_dir": Option(_MODEL_RUN | {PREDICTIONS, COMPARE}, by_rows=True),
    "strategy": Option(_MODEL_RUN),
    "tpu": Option(_MODEL_RUN),
    "shard": Option(_MODEL_RUN),
    "data_service": Option(_MODEL_RUN),
    "connect_timeout": Option(_MODEL_RUN),
    "list": Option(frozenset({LIST})),
    "report": Option(frozenset({REPORT})),
    "compare": Option(frozenset({COMPARE})),
    "audit": Option(frozenset({AUDIT})),
    "predictions": Option(frozenset({PREDICTIONS})),
    "overwrite": Option(frozenset({EVALUATE, PREDICTIONS})),
}
# Modes that write a run (results.json and predictions/) into --output_dir.
_WRITES_A_RUN = frozenset({EVALUATE, PREDICTIONS})


@dataclasses.dataclass(frozen=True)
class DataService:
  """``--data_service``: a dispatcher's ``grpc://HOST:PORT``, or ``local:N``
  (a dispatcher and N workers started in this process)."""
  address: Optional[str] = None
  local_workers: int = 0


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """A run, every value parsed and checked (see the module doc)."""
  mode: str
  benchmark_ids: Tuple[str, ...] = ()  # empty for --shard files: they name their own
  model: Optional[str] = None  # the name or expanded path as given
  model_spec: Optional[models.ModelSpec] = None  # model-run modes
  weights: Optional[str] = None
  image_folder: Optional[str] = None
  manual_dir: Optional[str] = None
  data_dir: Optional[str] = None
  output_dir: Optional[str] = None
  batch_size: int = 32
  progress: bool = True
  corrupt_on_the_fly: bool = False
  real_threshold: Optional[float] = None
  human_data: Optional[str] = None
  imagenet_x_dir: Optional[str] = None
  strategy: str = "none"
  tpu: Optional[str] = None
  shard: Optional[Tuple[int, int]] = None
  data_service: Optional[DataService] = None
  # Seconds to wait for the cluster's other tasks, a dispatcher, a TPU worker.
  connect_timeout: int = 300
  prediction_files: Tuple[str, ...] = ()
  shard_files: bool = False
  # --predictions of a run folder written by --output_dir (or of files in
  # its predictions/ folder): the run folder; `prediction_run_whole` when
  # the whole record is given (scored as the run was, multi-source rows too).
  prediction_run: Optional[str] = None
  prediction_run_whole: bool = False
  compare: Tuple[str, ...] = ()
  audit: Tuple[str, ...] = ()
  report: Tuple[str, ...] = ()
  overwrite: bool = False
  # absl's own --verbosity / --logtostderr given: library logs are shown.
  show_library_logs: bool = False


def expand_path(path: Optional[str]) -> Optional[str]:
  """``~`` and environment variables expanded, as a shell would have."""
  if path is None:
    return None
  return os.path.expandvars(os.path.expanduser(path))


def _split(value: Optional[str]) -> Tuple[str, ...]:
  """A comma-separated flag's items, stripped, each path expanded."""
  return tuple(expand_path(p.strip()) for p in (value or "").split(",") if p.strip())


def mode_of(values: Mapping[str, object]) -> str:
  given = [m for m in MODE_FLAGS if values.get(m)]
  if len(given) > 1:
    raise errors.UserError(f"--{given[1]} has no effect with --{given[0]}; drop one of them")
  if given:
    return given[0]
  return SHARD if values.get("shard") is not None else EVALUATE


def build(values: Mapping[str, object], given: Sequence[str],
          show_library_logs: bool = False) -> RunConfig:
  """The run configuration of flag ``values`` (name -> parsed flag value,
  every option of `OPTIONS`), ``given`` the names set on the command line.

  Raises:
    UserError: one line naming the option and the fix.
  """
  given = set(given)
  mode = mode_of(values)
  for name in sorted(given, key=list(OPTIONS).index):
    if mode not in OPTIONS[name].modes and name != mode:
      raise errors.UserError(f"--{name} has no effect with --{mode}; drop one of them"
                             if mode in MODE_FLAGS else
                             f"--{name} has no effect in a model run; drop it")
  paths = {name: expand_path(values.get(name)) for name in
           ("weights", "image_folder", "manual_dir", "human_data", "data_dir", "output_dir",
            "imagenet_x_dir")}
  config = dict(mode=mode, progress=bool(values.get("progress", True)),
                overwrite=bool(values.get("overwrite")),
                show_library_logs=show_library_logs, **paths)
  if mode == LIST:
    return RunConfig(**config)
  if mode == REPORT:
    config["report"] = tuple(expand_path(p) for p in values["report"])
  elif mode == COMPARE:
    config["compare"] = _compare_runs(values["compare"])
    config["real_threshold"] = _real_threshold(values.get("real_threshold"))
  elif mode == AUDIT:
    config["audit"] = _audit_sources(values["audit"], paths["output_dir"])
    config["model"] = _model_text(values.get("model"))
  elif mode == PREDICTIONS:
    config.update(_predictions(values, given))
    config["real_threshold"] = _real_threshold(values.get("real_threshold"))
  else:
    config.update(_model_run(values, given, paths))
  run = RunConfig(**config)
  if mode in _ROW_MODES:
    _check_read_by_rows(run, given)
  _check_paths(run)
  if mode in _ROW_MODES:
    # The files the chosen rows' scorers will read (a C-bar baseline), now.
    benchmark_table.check_row_inputs(chosen_rows(run), run.manual_dir)
  return run


def _model_text(model: Optional[str]) -> Optional[str]:
  if model is None:
    return None
  return expand_path(model) if models.is_model_path(model) else model


def _benchmark_ids(values: Mapping[str, object], given: set, default: Sequence[str]
                   ) -> Tuple[str, ...]:
  ids = values.get("benchmarks")
  if "benchmarks" in given and not ids:
    raise errors.UserError("--benchmarks is empty; name at least one id (see --list) or "
                           "leave the flag out for the defaults")
  ids = list(ids or default)
  repeated = sorted({b for b in ids if ids.count(b) > 1})
  if repeated:
    raise errors.UserError(f"--benchmarks names {', '.join(repeated)} more than once")
  for benchmark_id in ids:
    benchmark_table.get(benchmark_id)  # an unknown id fails here, listing the known ones
  return tuple(ids)


def _real_threshold(value) -> Optional[float]:
  if value is not None and not 0.0 <= value <= 1.0:
    raise errors.UserError(f"--real_threshold={value}: a Dawid-Skene score threshold is a "
                           "probability in [0, 1] (real.json is 0.8)")
  return value


def _model_run(values: Mapping[str, object], given: set, paths: Mapping[str, Optional[str]]
               ) -> Dict[str, object]:
  default = ("image_folder",) if paths["image_folder"] else benchmark_table.DEFAULT_OFFLINE
  batch_size = values.get("batch_size", 32)
  if batch_size <= 0:
    raise errors.UserError(f"--batch_size={batch_size}: must be positive")
  strategy = values.get("strategy") or "none"
  if "tpu" in given and strategy != "tpu":
    raise errors.UserError(f"--tpu has no effect with --strategy={strategy}; add "
                           "--strategy=tpu or drop --tpu")
  if strategy == "multi_worker" and not os.environ.get("TF_CONFIG"):
    raise errors.UserError("--strategy=multi_worker reads the cluster from the TF_CONFIG "
                           "environment variable, which is not set (see README, 'Scaling out')")
  shard = None
  if values.get("shard") is not None:
    shard = shards.parse_shard(values["shard"])
    if not paths["output_dir"]:
      raise errors.UserError("--shard needs --output_dir for its predictions file")
  service = _data_service(values.get("data_service"), bool(values.get("corrupt_on_the_fly")))
  model = _model_text(values.get("model") or "efficientnet")
  spec = models.get(model, preprocessing=values.get("preprocessing"))
  if paths["weights"]:
    spec.check_weights(paths["weights"])
  elif spec.weights_help:  # a model whose weights do not ship with the package
    raise errors.UserError(spec.weights_help)
  return dict(benchmark_ids=_benchmark_ids(values, given, default), model=model,
              model_spec=spec, batch_size=batch_size,
              corrupt_on_the_fly=bool(values.get("corrupt_on_the_fly")),
              real_threshold=_real_threshold(values.get("real_threshold")),
              strategy=strategy, tpu=values.get("tpu"), shard=shard, data_service=service,
              connect_timeout=values.get("connect_timeout", 300))


def _data_service(value: Optional[str], corrupt_on_the_fly: bool) -> Optional[DataService]:
  if value is None:
    return None
  if value.startswith(LOCAL_DATA_SERVICE):
    count = value[len(LOCAL_DATA_SERVICE):]
    if not count.isdigit() or int(count) < 1:
      raise errors.UserError(f"--data_service={value}: local:N wants N >= 1 workers, "
                             "e.g. local:2")
    return DataService(local_workers=int(count))
  if not value.startswith(GRPC) or not value[len(GRPC):]:
    raise errors.UserError(f"--data_service={value}: expected grpc://HOST:PORT of a "
                           "dispatcher (python -m tfds_bench.data_service dispatcher) or "
                           "local:N")
  if corrupt_on_the_fly:
    raise errors.UserError(
        "--corrupt_on_the_fly with --data_service=grpc://...: the on-the-fly crop is a "
        "Python (PIL) step that only this process can run, so workers in other processes "
        "fail on it; use --data_service=local:N, or prepare bench_imagenet_c (on Beam for "
        "scale) and serve its decode from remote workers")
  return DataService(address=value)


PREDICTIONS_FOLDER = results_files.PREDICTIONS_DIR
PREDICTIONS_INDEX = results_files.PREDICTIONS_INDEX


def _run_folder_sources(paths: Sequence[str]) -> Tuple[Tuple[str, str], ...]:
  """(source key, file) of ``paths`` when they are a run folder written with
  --output_dir, its predictions/ folder, or files of that folder (each named
  by its index.json); () otherwise."""
  if len(paths) == 1 and os.path.isdir(paths[0]):
    folder = paths[0]
    if os.path.basename(os.path.normpath(folder)) != PREDICTIONS_FOLDER:
      folder = os.path.join(folder, PREDICTIONS_FOLDER)
    if not os.path.isfile(os.path.join(folder, PREDICTIONS_INDEX)):
      raise errors.UserError(
          f"--predictions={paths[0]} is a folder without {PREDICTIONS_FOLDER}/"
          f"{PREDICTIONS_INDEX}: give a run folder written by bench_main --output_dir, "
          "or .npz files")
    index = _read_index(folder)
    return tuple((key, os.path.join(folder, name)) for key, name in index.items())
  folders = {os.path.dirname(os.path.abspath(p)) for p in paths}
  if len(folders) != 1:
    return ()
  folder = folders.pop()
  if not os.path.isfile(os.path.join(folder, PREDICTIONS_INDEX)):
    return ()
  by_name = {name: key for key, name in _read_index(folder).items()}
  names = [os.path.basename(p) for p in paths]
  if not all(name in by_name for name in names):
    return ()
  return tuple((by_name[name], os.path.join(folder, name)) for name in names)


def _read_index(folder: str) -> Dict[str, str]:
  path = os.path.join(folder, PREDICTIONS_INDEX)
  try:
    with open(path, encoding="utf-8") as f:
      index = json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise errors.UserError(f"{path}: not a readable predictions index ({e})") from None
  if not isinstance(index, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in index.items()):
    raise errors.UserError(f"{path}: expected an object mapping source keys to .npz names")
  return index


def _predictions(values: Mapping[str, object], given: set) -> Dict[str, object]:
  """--predictions -> its files (globs matched), whether they are --shard
  files or a run folder's (by source), and the benchmarks to score (the
  shard files' own, else --benchmarks)."""
  items = _split(values.get("predictions"))
  if not items:
    raise errors.UserError("--predictions is empty; give an .npz (or several, "
                           "comma-separated)")
  paths = shards.expand(items)
  run = _prediction_run(paths)
  if run is not None:
    return _run_folder_predictions(run, paths, values, given)
  for path in paths:
    if os.path.isdir(path):
      raise errors.UserError(f"--predictions={path} is a folder but not a run folder written "
                             "by --output_dir (no results.json and predictions/index.json); "
                             "give .npz files or such a folder")
  kinds = {shards.is_shard_file(p) for p in paths if os.path.isfile(p)}
  if kinds == {True, False}:
    raise errors.UserError("--predictions mixes --shard files and other predictions files; "
                           "score each kind on its own")
  if kinds == {True}:
    if "benchmarks" in given:
      raise errors.UserError("--benchmarks has no effect with --predictions of --shard files "
                             "(they are scored on the benchmarks they were predicted for); "
                             "drop --benchmarks")
    ids = shards.benchmark_ids(next(p for p in paths if os.path.isfile(p)))
  else:
    if not values.get("benchmarks") and "benchmarks" not in given:
      raise errors.UserError("--predictions needs --benchmarks, e.g. "
                             "imagenet2012,imagenet2012_real")
    ids = _benchmark_ids(values, given, ())
  for path in paths:
    if not os.path.isfile(path):
      raise errors.UserError(f"predictions file not found: {path}")
  return dict(prediction_files=tuple(paths), shard_files=kinds == {True},
              benchmark_ids=tuple(ids))


def _prediction_run(paths: Sequence[str]) -> Optional[str]:
  """The run folder every path is, or lies in (its predictions/ files), else None."""
  runs = {reports.run_folder_of(p) for p in paths}
  return runs.pop() if len(runs) == 1 and None not in runs else None


def _run_folder_predictions(run: str, paths: Sequence[str], values: Mapping[str, object],
                            given: set) -> Dict[str, object]:
  """--predictions of a run folder, its predictions/ folder, or files in it:
  the whole record when every file of its index is given (scored on the run's
  own benchmarks unless --benchmarks names some), else those files alone."""
  index = reports.predictions_index(run)
  folder = os.path.join(run, reports.results_files.PREDICTIONS_DIR)
  files = tuple(os.path.join(folder, name) for name in index.values())
  given_files = {os.path.abspath(p) for p in paths if not os.path.isdir(p)}
  whole = any(os.path.isdir(p) for p in paths) or given_files == {
      os.path.abspath(f) for f in files}
  if whole:
    if "benchmarks" in given:
      ids = _benchmark_ids(values, given, ())
    else:
      ids = tuple(reports.load_provenance(run).get("benchmarks") or ())
      if not ids:
        raise errors.UserError(f"{run} has no results.json naming its benchmarks; name them "
                               "with --benchmarks")
      for benchmark_id in ids:
        benchmark_table.get(benchmark_id)
    return dict(prediction_files=files, benchmark_ids=tuple(ids), prediction_run=run,
                prediction_run_whole=True)
  if "benchmarks" not in given:
    raise errors.UserError("--predictions needs --benchmarks, e.g. "
                           "imagenet2012,imagenet2012_real (or give the run's whole "
                           f"folder, {run}, to score it on its own benchmarks)")
  return dict(prediction_files=tuple(paths), benchmark_ids=_benchmark_ids(values, given, ()),
              prediction_run=run)


def _compare_runs(value: Sequence[str]) -> Tuple[str, str]:
  runs = tuple(expand_path(p) for p in value)
  if len(runs) != 2:
    raise errors.UserError("--compare wants RUN_A,RUN_B (two --output_dir folders)")
  return runs


def _audit_sources(value: str, output_dir: Optional[str]) -> Tuple[str, str]:
  parts = tuple(expand_path(p.strip()) for p in value.split(","))
  if len(parts) != 2 or not all(parts):
    raise errors.UserError("--audit wants TEST_SOURCE,REFERENCE_SOURCE")
  if not output_dir:
    raise errors.UserError("--audit needs --output_dir for its CSV and contact sheet")
  return parts


def rows_reading(option: str) -> Tuple[str, ...]:
  """Ids of the table rows that read ``option``."""
  return tuple(row.id for row in benchmark_table.BENCHMARKS if option in row.reads)


def _check_read_by_rows(run: RunConfig, given: set) -> None:
  """An option only some rows read, given while no chosen row reads it."""
  rows = [benchmark_table.get(b) for b in run.benchmark_ids]
  for name in sorted(given, key=list(OPTIONS).index):
    if not OPTIONS[name].by_rows or any(name in row.reads for row in rows):
      continue
    readers = rows_reading(name)
    raise errors.UserError(
        f"--{name} is read only by {', '.join(readers) or 'no benchmark'}, which the chosen "
        f"benchmarks ({','.join(run.benchmark_ids) or 'those of the shard files'}) leave "
        f"out; add one of them to --benchmarks or drop --{name}")


def _check_output_dir(path: str) -> None:
  """An output folder made (if new) and written to now, not after an hour of
  evaluation: a probe file is created and removed (permission bits alone do
  not tell, e.g. for root or on a read-only mount)."""
  if os.path.exists(path) and not os.path.isdir(path):
    raise errors.UserError(f"--output_dir={path} is a file, not a folder; give a folder")
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as e:
    raise errors.UserError(f"--output_dir={path} cannot be written ({e.strerror}); give a "
                           "folder you can write to") from None


def _check_paths(run: RunConfig) -> None:
  if run.image_folder and not os.path.isdir(run.image_folder):
    raise errors.UserError(f"image folder not found: {run.image_folder} (--image_folder "
                           "wants a folder DIR/<wnid or class index>/*.JPEG)")
  for path in run.report:
    if not os.path.exists(path):
      raise errors.UserError(f"results file not found: {path}")
  # A mistyped --manual_dir would otherwise send the builders that download
  # (V2, A, R, Sketch) to the network: minutes of retries on a machine without it.
  if run.manual_dir and not os.path.isdir(run.manual_dir):
    raise errors.UserError(f"--manual_dir={run.manual_dir}: folder not found (it should "
                           "hold the released archives, unextracted; see the README's table)")
  if run.human_data and not os.path.isdir(run.human_data):
    raise errors.UserError(f"--human_data={run.human_data}: folder not found (it should be "
                           "model-vs-human's raw-data/ folder, holding <dataset>/*.csv)")
  if run.imagenet_x_dir and not os.path.isdir(run.imagenet_x_dir):
    raise errors.UserError(f"--imagenet_x_dir={run.imagenet_x_dir}: folder not found (it "
                           "should hold the imagenet-x package's annotation files)")
  if run.data_dir and os.path.exists(run.data_dir) and not os.path.isdir(run.data_dir):
    raise errors.UserError(f"--data_dir={run.data_dir} is a file; give a folder")
  if run.output_dir:
    if (run.mode in _WRITES_A_RUN and not run.overwrite and os.path.isdir(run.output_dir)
        and reports.holds_run(run.output_dir)):
      raise errors.UserError(f"--output_dir={run.output_dir} already holds a run "
                             "(results.json, predictions/); give a new folder, or add "
                             "--overwrite to replace that run with this one")
    _check_output_dir(run.output_dir)


def chosen_rows(run: RunConfig) -> Tuple[Benchmark, ...]:
  """The table rows of the run's benchmark ids, in order."""
  return tuple(benchmark_table.get(b) for b in run.benchmark_ids)
