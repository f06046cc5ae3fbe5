"""Library entry point: evaluate(model, benchmarks) -> results. No flags, no printing.

Flow (docs/architecture.md): the table resolves the benchmark ids (offline
fallbacks included) to rows; each distinct source loads itself and one traced
predict step turns its batches into compact predictions; each row's scorer
turns its sources' predictions into results.
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

import tfds_bench
from tfds_bench import benchmark_table
from tfds_bench import errors, image_checks, input_pipeline, models, progress
from tfds_bench import predictions as predictions_lib
from tfds_bench.benchmark_types import Result, ScoringOptions
from tfds_bench.predictions import Predictions
from tfds_bench.scoring import rows as scoring_rows
from tfds_bench.sources import DataOptions, Source

__all__ = ["DataOptions", "Run", "ScoringOptions", "evaluate", "host_slice",
           "make_predict_step", "predict_benchmarks", "predict_source", "score_predictions",
           "score_sources", "source_examples"]

# A model as `evaluate` takes it: a registry name or model path, or the
# `models.ModelSpec` they resolve to (`models.get`).
ModelArg = Union[str, models.ModelSpec]


@dataclasses.dataclass
class Run:
  """Results of evaluating one model, with what is needed to reproduce them."""
  model: str
  results: List[Result]
  provenance: Dict[str, object]
  # One line per offline fallback taken (e.g. sample_p for imagenet_p).
  notices: List[str] = dataclasses.field(default_factory=list)
  # Source key -> the compact per-image predictions the results came from
  # (written beside results.json, see predictions.save_npz).
  predictions: Dict[str, Predictions] = dataclasses.field(default_factory=dict)

  def records(self) -> List[Dict[str, object]]:
    """Flat records: model, benchmark, metric, value, n, suite_version and the
    95 % interval (ci_low, ci_high, ci_method; None where there is none)."""
    return [{"model": self.model, "benchmark": r.benchmark, "metric": r.metric,
             "value": r.value, "n": r.n, "suite_version": tfds_bench.__version__,
             "ci_low": r.ci_low, "ci_high": r.ci_high, "ci_method": r.ci_method}
            for r in self.results]


def make_predict_step(model, spec: models.ModelSpec, strategy=None,
                      spaces: Sequence[str] = (), ood_scores: Sequence[str] = ()) -> Callable:
  """A tf.function: a batch of numbers -> compact predictions (see predictions.py),
  with the top classes and confidence in each label space of ``spaces`` and
  the logit OOD scores ``ood_scores`` (`ood_scores_for`).

  The batch is a dict of ``image`` plus integer or float per-example keys
  (``example_id``, ``mask``, labels): no strings, so any strategy, TPUs
  included, can run it. Those keys come back beside the predictions. Under a
  strategy the batch is per-replica values and every output is gathered
  from all replicas of all hosts, in replica order.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def step(batch):
    outputs = model(batch[input_pipeline.IMAGE_KEY], training=False)
    summary = predictions_lib.summarize_scores_tf(spec.scores(outputs), spaces, ood_scores)
    # Numbers only: collectives gather no bools.
    summary = {k: tf.cast(v, tf.int32) if v.dtype == tf.bool else v for k, v in summary.items()}
    return {**summary, **{k: v for k, v in batch.items() if k != input_pipeline.IMAGE_KEY}}

  if strategy is None:
    return tf.function(step)

  @tf.function
  def distributed_step(batch):
    per_replica = strategy.run(step, args=(batch,))
    return tf.nest.map_structure(lambda v: strategy.gather(v, axis=0), per_replica)

  return distributed_step


def host_slice(strategy) -> Tuple[int, int]:
  """(index, count) of this host among the hosts a strategy feeds input from.

  (0, 1) without a strategy or on one host; under MultiWorkerMirroredStrategy
  the chief (if any) comes first, then the workers by task id (TF_CONFIG).
  """
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().jobs:
    return 0, 1
  cluster = resolver.cluster_spec()
  hosts = [(job, task) for job in ("chief", "worker") if job in cluster.jobs
           for task in cluster.task_indices(job)]
  if len(hosts) <= 1:
    return 0, 1
  return hosts.index((resolver.task_type, resolver.task_id)), len(hosts)


def source_examples(source: Source, data: DataOptions, strategy=None,
                    shard: Tuple[int, int] = (0, 1), show_progress: bool = False):
  """The examples of ``source`` this process evaluates, ready for `predict_source`.

  Each example gets its ``example_id`` (position in the whole source); then
  the ``shard`` slice (``--shard=I/N``), this host's slice under a
  multi-worker strategy, and with ``data.data_service`` the service
  workers' slice are taken, all before the source's per-example work
  (decode, on-the-fly corruption), so each image is made once.
  ``show_progress``: TFDS's bars while a dataset is prepared on first use.
  """
  examples = input_pipeline.with_example_ids(source.read(data, show_progress))
  for index, count in (shard, host_slice(strategy)):
    if count > 1:
      examples = examples.shard(count, index)
  if data.data_service:
    examples = input_pipeline.service_slice(examples)
  return source.prepare(examples, data)


def _replica_values(batch: Dict[str, np.ndarray], strategy):
  """A host batch split into consecutive row blocks, one per local replica."""
  local = strategy.num_replicas_in_sync // host_slice(strategy)[1]
  rows = -(-len(batch[input_pipeline.MASK_KEY]) // local)
  padded = {k: _pad_rows(v, rows * local) for k, v in batch.items()}
  return strategy.experimental_distribute_values_from_function(
      lambda ctx: {k: v[(ctx.replica_id_in_sync_group % local) * rows:][:rows]
                   for k, v in padded.items()})


def _pad_rows(values: np.ndarray, rows: int) -> np.ndarray:
  # Padding rows are masked out (mask 0) and have example id -1.
  fill = np.zeros((rows - len(values),) + values.shape[1:], values.dtype)
  if values.dtype.kind == "i":
    fill -= 1
  return np.concatenate([values, fill])


def predict_source(dataset, model, spec: models.ModelSpec, batch_size: int,
                   label_lists=None, strategy=None, progress=None,
                   step: Optional[Callable] = None, data_service: Optional[str] = None,
                   file_names: Optional[np.ndarray] = None) -> Predictions:
  """Runs the model over a dataset of examples; returns predictions in order.

  Padding rows of the last batch are dropped by their mask, so every real
  example appears exactly once, ordered by ``example_id`` (added as the
  position in ``dataset`` when absent; `source_examples` adds them before
  slicing). ``progress(n)`` is called after each batch with the number of
  real examples in it. ``step`` is a predict step from `make_predict_step` to
  reuse: each new one traces the model again, which matters when
  one model runs over many sources (ImageNet-C has 96).

  Under a multi-worker strategy ``dataset`` is this host's slice
  (`source_examples`), every host runs the same number of steps (a host out
  of examples feeds masked padding until all are) and every host gets all
  predictions; ``file_names`` (by example id, `input_pipeline.file_names`)
  names the other hosts' examples. ``data_service``: see
  `input_pipeline.batches`.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  label_lists = dict(label_lists or {})
  batched = input_pipeline.batches(input_pipeline.with_example_ids(dataset), spec.preprocessing,
                                   batch_size, label_lists, data_service)
  hosts = host_slice(strategy)[1]
  if hosts > 1 and file_names is None:
    raise ValueError("a multi-worker strategy needs file_names of the whole source")
  step = step or make_predict_step(model, spec, strategy)
  numeric = [input_pipeline.IMAGE_KEY, input_pipeline.MASK_KEY, input_pipeline.EXAMPLE_ID_KEY,
             *label_lists, *(["label"] if "label" in batched.element_spec else [])]
  names_here: Dict[int, str] = {}
  parts, consumed, batch_iterator, exhausted, seen = [], 0, iter(batched), False, None
  while True:
    try:
      batch = {k: v.numpy() for k, v in next(batch_iterator).items()}
    except StopIteration:
      if hosts == 1:
        break
      exhausted = True
      batch = _padding_batch(seen, numeric, batch_size, spec.preprocessing.input_size,
                             label_lists)
    except tf.errors.InvalidArgumentError as e:
      # A damaged image fails inside tf.data with a message naming no file.
      raise image_checks.explain_decode_error(
          dataset, spec.preprocessing.crop_fraction, e, start=consumed,
          limit=2 * batch_size) from None
    if not exhausted:
      seen = batch
      # tf.string arrives as bytes; UTF-8 is how TF encodes any file name
      # (astype(str) would decode ASCII only and fail on "猫.jpg").
      names_here.update(zip(batch[input_pipeline.EXAMPLE_ID_KEY].tolist(),
                            (n.decode("utf-8") for n in batch["file_name"])))
    inputs = {k: batch[k] for k in numeric}
    out = {k: v.numpy() for k, v in step(
        inputs if strategy is None else _replica_values(inputs, strategy)).items()}
    keep = out.pop(input_pipeline.MASK_KEY) > 0
    if exhausted and not keep.any():
      break  # every host is out of examples
    ids = out.pop(input_pipeline.EXAMPLE_ID_KEY)[keep]
    file_name = (file_names[ids] if file_names is not None
                 else np.array([names_here[i] for i in ids.tolist()], dtype=str))
    finite = out.pop("finite")[keep].astype(bool)
    if not finite.all():
      raise errors.UserError(f"model {spec.name} produced NaN or inf scores for "
                             f"{(~finite).sum()} image(s), e.g. {file_name[~finite][0]!r}")
    label = out.pop("label")[keep] if "label" in out else np.full(keep.sum(), -1)
    extras = {k: out.pop(k)[keep] for k in label_lists}
    extras[input_pipeline.EXAMPLE_ID_KEY] = ids  # kept: shard files are merged by it
    parts.append((ids, predictions_lib.from_summaries(
        file_name, label, {k: v[keep] for k, v in out.items()}, extras)))
    consumed += int(keep.sum())
    if progress is not None:
      progress(int(keep.sum()))
  if not parts:
    raise errors.UserError(f"no images to evaluate for {spec.name}: the input is empty")
  return _in_example_order(parts)


def _padding_batch(seen: Optional[Dict[str, np.ndarray]], keys, batch_size: int,
                   input_size: int, label_lists) -> Dict[str, np.ndarray]:
  """An all-padding batch (mask 0, id -1) for a host out of examples.

  Shaped as ``seen``, a batch this host had; a host that had none (fewer
  examples than hosts) builds the shapes from the model input and label widths.
  """
  if seen is None:
    widths = {input_pipeline.IMAGE_KEY: (input_size, input_size, 3), **{
        k: (w,) for k, w in label_lists.items()}}
    seen = {k: np.zeros((0,) + widths.get(k, ()),
                        np.float32 if k in (input_pipeline.IMAGE_KEY,
                                            input_pipeline.MASK_KEY) else np.int64)
            for k in keys}
  return {k: _pad_rows(seen[k][:0], batch_size) for k in keys}


def _in_example_order(parts) -> Predictions:
  ids = np.concatenate([i for i, _ in parts])
  merged = Predictions.concatenate([p for _, p in parts])
  order = np.argsort(ids, kind="stable")
  if (np.diff(ids[order]) == 0).any():
    raise errors.UserError(
        f"example {int(ids[order][np.flatnonzero(np.diff(ids[order]) == 0)[0]])} was "
        "evaluated twice: under a multi-worker strategy give each host its slice "
        "(evaluate.source_examples), with a tf.data service mark the workers' slice "
        "(input_pipeline.service_slice)")
  return merged.select(order)


def evaluate(model: ModelArg, benchmark_ids: Sequence[str] = benchmark_table.DEFAULT_OFFLINE, *,
             weights: Optional[str] = None, preprocessing: Optional[str] = None,
             data: Optional[DataOptions] = None, batch_size: int = 32, strategy=None,
             progress_factory: Optional[Callable] = None,
             command: Optional[str] = None, real_threshold: Optional[float] = None,
             imagenet_x_dir: Optional[str] = None) -> Run:
  """Evaluates a model on benchmarks.

  Args:
    model: registry name, alias or path to a .keras file, or the
      `models.ModelSpec` one resolves to (`models.get`).
    benchmark_ids: ids from ``tfds_bench.benchmark_table``; a row whose data
      cannot be had runs its offline fallback instead (see ``Run.notices``).
    weights: local weights file for models that need one.
    preprocessing: preset name overriding the model's declared preprocessing
      (with a name; a spec carries its own).
    data: where the data lives (and ``data_service``, a tf.data service).
    batch_size: images per forward pass (the last batch is padded, not dropped).
    strategy: optional ``tf.distribute`` strategy: MirroredStrategy,
      MultiWorkerMirroredStrategy (every worker runs this call; each reads its
      slice of every source and gets all results) or TPUStrategy.
    progress_factory: ``factory(description, total) -> (update(n), close())``
      for progress display (`tfds_bench.progress`) of each source's forward
      pass and of slow scorers, and TFDS's bars while a dataset is prepared;
      None for silence.
    command: the command line, recorded in the provenance.
    real_threshold: a ReaL operating point to report too (imagenet2012_real).
    imagenet_x_dir: the folder of ImageNet-X's annotation files (imagenet_x;
      None: the installed imagenet-x package's).

  Returns:
    A Run: flat results plus provenance.
  """
  data = data or DataOptions()
  predicted = predict_benchmarks(model, benchmark_ids, weights=weights,
                                 preprocessing=preprocessing, data=data,
                                 batch_size=batch_size, strategy=strategy,
                                 progress_factory=progress_factory)
  results = scoring_rows.score_rows(
      predicted.benchmarks, predicted.by_source,
      ScoringOptions(data.manual_dir, real_threshold, progress_factory, imagenet_x_dir))
  return Run(predicted.spec.name, results,
             _provenance(predicted.spec, weights, predicted.benchmarks, predicted.sources,
                         data, command),
             predicted.notices, predicted.by_source)


def model_spec(model: ModelArg, preprocessing: Optional[str] = None) -> models.ModelSpec:
  """``model`` as a ModelSpec: a spec as given, a name or path resolved once."""
  if isinstance(model, models.ModelSpec):
    if preprocessing is not None:
      raise ValueError("preprocessing goes with a model name; a ModelSpec carries its own")
    return model
  return models.get(model, preprocessing=preprocessing)


@dataclasses.dataclass
class Predicted:
  """Predictions of every source of some benchmarks (`predict_benchmarks`)."""
  spec: models.ModelSpec
  benchmarks: list
  sources: Dict[str, Source]
  by_source: Dict[str, Predictions]
  notices: List[str]


def predict_benchmarks(model: ModelArg, benchmark_ids: Sequence[str], *,
                       weights: Optional[str] = None, preprocessing: Optional[str] = None,
                       data: Optional[DataOptions] = None, batch_size: int = 32,
                       strategy=None, progress_factory: Optional[Callable] = None,
                       shard: Tuple[int, int] = (0, 1)) -> Predicted:
  """The forward passes of `evaluate`, without scoring; ``shard=(i, n)``
  predicts the i-th of n deterministic slices of every source
  (``--shard=I/N``; `shards.py` writes and merges them)."""
  data = data or DataOptions()
  chosen, notices = benchmark_table.resolve(benchmark_ids, data)
  if not chosen:
    raise errors.UserError("no benchmarks selected")
  # Before any forward pass (bench_main also checks before TensorFlow loads).
  benchmark_table.check_row_inputs(chosen, data.manual_dir)
  spec = model_spec(model, preprocessing)
  if strategy is not None:
    with strategy.scope():
      keras_model = spec.build(weights)
  else:
    keras_model = spec.build(weights)

  sources: Dict[str, Source] = {}
  for benchmark in chosen:
    for source in benchmark.sources:
      sources.setdefault(source.key, source)

  by_source: Dict[str, Predictions] = {}
  ood_scores, notice = ood_scores_for(spec, chosen)
  notices += [notice] if notice else []
  # Traced once, for every source.
  step = make_predict_step(keras_model, spec, strategy, scoring_rows.space_scores_of(chosen),
                           ood_scores)
  for key, source in sources.items():
    examples = source_examples(source, data, strategy, shard,
                               show_progress=progress_factory is not None)
    names = (input_pipeline.file_names(source.read(data))
             if host_slice(strategy)[1] > 1 else None)
    with progress.progress(progress_factory, f"{spec.name} on {key}",
                           input_pipeline.dataset_size(examples)) as update:
      by_source[key] = predict_source(examples, keras_model, spec, batch_size,
                                      source.label_lists, strategy, update, step,
                                      data.data_service, names)
  return Predicted(spec, chosen, sources, by_source, notices)


def ood_scores_for(spec: models.ModelSpec, chosen) -> Tuple[Tuple[str, ...], Optional[str]]:
  """(the logit OOD scores the chosen rows read, a notice or None).

  None for a model that outputs probabilities: its log-probabilities are
  logits only up to a per-image constant, which max logit and energy keep
  (MSP, from the probabilities, is reported alone).
  """
  wanted = scoring_rows.ood_scores_of(chosen)
  if not wanted or spec.output == models.LOGITS:
    return wanted, None
  rows = ", ".join(b.id for b in chosen if b.ood_scores)
  return (), (f"{rows}: model {spec.name} outputs probabilities, so "
              f"{' and '.join(wanted)} (scores of its logits) are not reported, only MSP")


def _provenance(spec, weights, chosen, sources, data, command) -> Dict[str, object]:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  weights_file = spec.weights_file(weights)
  # A model keras_hub loads: its files' format, declared preprocessing and
  # published row (absent for the registered models and .keras files).
  source = {"model_source": spec.source} if spec.source is not None else {}
  return {
      "suite_version": tfds_bench.__version__,
      "model": spec.name,
      "weights_file": weights_file,
      "weights_sha256": models.file_sha256(weights_file) if weights_file else None,
      "preprocessing": spec.preprocessing.to_dict(),
      **source,
      "model_output": {"kind": spec.output, "num_classes": spec.num_classes},
      "benchmarks": [b.id for b in chosen],
      "datasets": {key: s.describe() for key, s in sources.items()},
      "image_folder": data.image_folder,
      "imagenet_c_on_the_fly": data.corrupt_on_the_fly,
      "command": command,
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                   "tensorflow_datasets": tfds.__version__, "numpy": np.__version__},
  }


def score_sources(model: str, benchmark_ids: Sequence[str], by_source: Dict[str, Predictions],
                  command: Optional[str] = None,
                  options: ScoringOptions = ScoringOptions(),
                  origin: Optional[Dict[str, object]] = None) -> Run:
  """Scores the predictions of every source of the benchmarks (a run's
  predictions folder, merged shard files), each result with its 95 % interval.
  ``origin`` goes into the provenance (default: merged shards)."""
  rows = [benchmark_table.get(b) for b in dict.fromkeys(benchmark_ids)]  # repeated ids run once
  results = scoring_rows.score_rows(rows, by_source, options)
  return Run(model, results, _saved_provenance(model, [r.id for r in rows], command,
                                               **(origin or {"merged_shards": True})),
             predictions=scoring_rows.used_predictions(rows, by_source))


def score_predictions(p: Predictions, benchmark_ids: Sequence[str], model: str,
                      command: Optional[str] = None,
                      options: ScoringOptions = ScoringOptions()) -> Run:
  """Scores saved predictions (no model, no images) on single-source benchmarks.

  ``options.manual_dir`` holds label files some benchmarks need (multi-label
  JSON). Each row's source fills the labels the file need not carry.
  """
  rows = [benchmark_table.get(b) for b in dict.fromkeys(benchmark_ids)]  # repeated ids run once
  by_source: Dict[str, Predictions] = {}
  for row in rows:
    if len(row.sources) != 1:
      raise errors.UserError(f"{row.id} combines several image sets and cannot be "
                             "scored from one predictions file; give a run folder's "
                             "predictions instead (--predictions=RUN_DIR, written by "
                             "--output_dir: one file per image set)")
    by_source[row.sources[0].key] = row.sources[0].with_labels(p, row.id)
  results = scoring_rows.score_rows(rows, by_source, options)
  return Run(model, results, _saved_provenance(model, [r.id for r in rows], command),
             predictions=by_source)


def _saved_provenance(model, benchmark_ids, command, **extra) -> Dict[str, object]:
  """Provenance of results scored from saved predictions (no model run)."""
  return {
      "suite_version": tfds_bench.__version__, "model": model,
      "benchmarks": list(benchmark_ids), "predictions_file": True, **extra,
      "command": command,
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
  }
