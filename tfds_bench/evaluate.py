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
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

import tfds_bench
from tfds_bench import benchmark_table
from tfds_bench import errors, image_checks, input_pipeline, models, progress
from tfds_bench import predictions as predictions_lib
from tfds_bench.benchmark_types import Result, ScoringContext
from tfds_bench.predictions import Predictions
from tfds_bench.sources import DataOptions, Source

__all__ = ["DataOptions", "Run", "evaluate", "make_predict_step", "predict_source",
           "score_predictions", "score_with_intervals"]


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


def score_with_intervals(benchmark, predictions: Sequence[Predictions],
                         context: ScoringContext) -> List[Result]:
  """The row's results, each with its 95 % interval (`Result.with_interval`)."""
  return [r.with_interval() for r in benchmark.score(predictions, context)]


def make_predict_step(model, spec: models.ModelSpec, strategy=None) -> Callable:
  """A tf.function: images -> compact predictions (see predictions.py)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def step(images):
    outputs = model(images, training=False)
    return predictions_lib.summarize_scores_tf(spec.scores(outputs))

  if strategy is None:
    return tf.function(step)

  @tf.function
  def distributed_step(images):
    per_replica = strategy.run(step, args=(images,))
    # Each replica got a consecutive slice of the batch: concatenating the
    # local results in replica order restores the batch order.
    return tf.nest.map_structure(
        lambda v: tf.concat(strategy.experimental_local_results(v), axis=0), per_replica)

  return distributed_step


def _to_host(value, strategy) -> np.ndarray:
  if strategy is None:
    return value.numpy()
  return np.concatenate([v.numpy() for v in strategy.experimental_local_results(value)])


def predict_source(dataset, model, spec: models.ModelSpec, batch_size: int,
                   label_lists=None, strategy=None, progress=None,
                   step: Optional[Callable] = None) -> Predictions:
  """Runs the model over a dataset of examples; returns predictions in order.

  Padding rows of the last batch are dropped by their mask, so every real
  example appears exactly once. ``progress(n)`` is called after each batch
  with the number of real examples in it. ``step`` is a predict step from
  `make_predict_step` to reuse: each new one traces the model again (seconds),
  which matters when one model runs over many sources (ImageNet-C has 96).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  label_lists = dict(label_lists or {})
  batched = input_pipeline.batches(dataset, spec.preprocessing, batch_size, label_lists)
  if strategy is not None:
    batched = strategy.experimental_distribute_dataset(batched)
  step = step or make_predict_step(model, spec, strategy)
  parts, consumed, batch_iterator = [], 0, iter(batched)
  while True:
    try:
      batch = next(batch_iterator)
    except StopIteration:
      break
    except tf.errors.InvalidArgumentError as e:
      # A damaged image fails inside tf.data with a message naming no file.
      raise image_checks.explain_decode_error(
          dataset, spec.preprocessing.crop_fraction, e, start=consumed,
          limit=2 * batch_size) from None
    out = {k: v.numpy() for k, v in step(batch[input_pipeline.IMAGE_KEY]).items()}
    host = {k: _to_host(batch[k], strategy)
            for k in ["file_name", input_pipeline.MASK_KEY, *label_lists,
                      *(["label"] if "label" in batch else [])]}
    keep = host[input_pipeline.MASK_KEY] > 0
    # tf.string arrives as bytes; UTF-8 is how TF encodes any file name
    # (astype(str) would decode ASCII only and fail on "猫.jpg").
    file_name = np.array([n.decode("utf-8") for n in host["file_name"][keep]], dtype=str)
    finite = out.pop("finite")[keep]
    if not finite.all():
      raise errors.UserError(f"model {spec.name} produced NaN or inf scores for "
                             f"{(~finite).sum()} image(s), e.g. {file_name[~finite][0]!r}")
    label = host["label"][keep] if "label" in host else np.full(keep.sum(), -1)
    parts.append(predictions_lib.from_summaries(
        file_name, label, {k: v[keep] for k, v in out.items()},
        {k: host[k][keep] for k in label_lists}))
    consumed += int(keep.sum())
    if progress is not None:
      progress(int(keep.sum()))
  if not parts:
    raise errors.UserError(f"no images to evaluate for {spec.name}: the input is empty")
  return Predictions.concatenate(parts)


def evaluate(model: str, benchmark_ids: Sequence[str] = benchmark_table.DEFAULT_OFFLINE, *,
             weights: Optional[str] = None, preprocessing: Optional[str] = None,
             data: Optional[DataOptions] = None, batch_size: int = 32, strategy=None,
             progress_factory: Optional[Callable] = None,
             command: Optional[str] = None) -> Run:
  """Evaluates a registered model (or a .keras path) on benchmarks.

  Args:
    model: registry name, alias or path to a .keras file.
    benchmark_ids: ids from ``tfds_bench.benchmark_table``; a row whose data
      cannot be had runs its offline fallback instead (see ``Run.notices``).
    weights: local weights file for models that need one.
    preprocessing: preset name overriding the model's declared preprocessing.
    data: where the data lives.
    batch_size: images per forward pass (the last batch is padded, not dropped).
    strategy: optional ``tf.distribute`` strategy (e.g. MirroredStrategy).
    progress_factory: ``factory(description, total) -> (update(n), close())``
      for progress display (`tfds_bench.progress`) of each source's forward
      pass and of slow scorers, and TFDS's bars while a dataset is prepared;
      None for silence.
    command: the command line, recorded in the provenance.

  Returns:
    A Run: flat results plus provenance.
  """
  data = data or DataOptions()
  chosen, notices = benchmark_table.resolve(benchmark_ids, data)
  if not chosen:
    raise errors.UserError("no benchmarks selected")
  spec = models.get(model, preprocessing=preprocessing)
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
  step = make_predict_step(keras_model, spec, strategy)  # traced once, for every source
  for key, source in sources.items():
    dataset = source.load(data, show_progress=progress_factory is not None)
    with progress.progress(progress_factory, f"{spec.name} on {key}",
                           input_pipeline.dataset_size(dataset)) as update:
      by_source[key] = predict_source(dataset, keras_model, spec, batch_size,
                                      source.label_lists, strategy, update, step)

  results: List[Result] = []
  for benchmark in chosen:
    results.extend(score_with_intervals(
        benchmark, [by_source[s.key] for s in benchmark.sources],
        ScoringContext(data.manual_dir, data.real_threshold, progress_factory)))
  return Run(spec.name, results, _provenance(spec, weights, chosen, sources, data, command),
             notices, by_source)


def _provenance(spec, weights, chosen, sources, data, command) -> Dict[str, object]:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  weights_file = spec.weights_file(weights)
  return {
      "suite_version": tfds_bench.__version__,
      "model": spec.name,
      "weights_file": weights_file,
      "weights_sha256": models.file_sha256(weights_file) if weights_file else None,
      "preprocessing": spec.preprocessing.to_dict(),
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


def score_predictions(p: Predictions, benchmark_ids: Sequence[str], model: str,
                      command: Optional[str] = None, manual_dir: Optional[str] = None,
                      real_threshold: Optional[float] = None) -> Run:
  """Scores saved predictions (no model, no images) on single-source benchmarks.

  ``manual_dir`` holds label files some benchmarks need (multi-label JSON).
  """
  results: List[Result] = []
  benchmark_ids = list(dict.fromkeys(benchmark_ids))  # a repeated id runs once, as in evaluate
  by_source: Dict[str, Predictions] = {}
  for benchmark_id in benchmark_ids:
    benchmark = benchmark_table.get(benchmark_id)
    if len(benchmark.sources) != 1:
      raise errors.UserError(f"{benchmark_id} combines several image sets and cannot be "
                             "scored from one predictions file")
    if benchmark.needs_scores and not p.has_scores:
      raise errors.UserError(f"{benchmark_id} needs logits or probs, not top-5 indices")
    labelled = benchmark.sources[0].with_labels(p, benchmark_id)
    by_source[benchmark.sources[0].key] = labelled
    results.extend(score_with_intervals(benchmark, [labelled],
                                        ScoringContext(manual_dir, real_threshold)))
  provenance = {
      "suite_version": tfds_bench.__version__, "model": model,
      "benchmarks": list(benchmark_ids), "predictions_file": True, "command": command,
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
  }
  return Run(model, results, provenance, predictions=by_source)
