"""bench_main: evaluate an ImageNet classifier on the tfds_bench suite.

  bench_main --model=efficientnet                  # offline sample suite
  bench_main --model=efficientnet --image_folder=DIR
  bench_main --model=resnet50 --weights=W.h5 --benchmarks=imagenet2012,imagenet2012_real \
      --manual_dir=~/imagenet --output_dir=out
  bench_main --predictions=preds.npz --benchmarks=imagenet2012,imagenet2012_real
  bench_main --compare=out_a,out_b                 # paired test, same images
  bench_main --list
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import List

from absl import app, flags

from tfds_bench import audit, benchmark_table, compare, errors, predictions, reports

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
                    "Score a saved predictions .npz instead of running a model.")
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
flags.DEFINE_enum("strategy", "none", ["none", "mirrored"],
                  "Distribution: 'mirrored' runs the forward pass on all local GPUs "
                  "(tf.distribute.MirroredStrategy); counts equal a single device's.")


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
  if FLAGS.compare:
    if len(FLAGS.compare) != 2:
      raise UsageError("--compare wants RUN_A,RUN_B (two --output_dir folders)")
    print(compare.format_comparison(*compare.compare_runs(*FLAGS.compare,
                                                          manual_dir=FLAGS.manual_dir)))
    return 0
  benchmark_ids = _default_benchmarks()
  if FLAGS.predictions:
    loaded = predictions.load_npz(FLAGS.predictions)
    model_name = os.path.splitext(os.path.basename(FLAGS.predictions))[0]
    run = evaluate.score_predictions(loaded, benchmark_ids, model_name, command=command,
                                     manual_dir=FLAGS.manual_dir,
                                     real_threshold=FLAGS.real_threshold)
  else:
    strategy = None
    if FLAGS.strategy == "mirrored":
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      strategy = tf.distribute.MirroredStrategy()
    run = evaluate.evaluate(
        FLAGS.model, benchmark_ids, weights=FLAGS.weights, preprocessing=FLAGS.preprocessing,
        data=evaluate.DataOptions(FLAGS.data_dir, FLAGS.manual_dir, FLAGS.image_folder,
                                  FLAGS.real_threshold, FLAGS.corrupt_on_the_fly),
        batch_size=FLAGS.batch_size, strategy=strategy,
        progress_factory=_tqdm_progress if FLAGS.progress else None, command=command)
    for notice in run.notices:
      print(f"bench_main: {notice}", file=sys.stderr)
  records = run.records()
  print(reports.format_table(records))
  if FLAGS.output_dir:
    for path in reports.write_results(FLAGS.output_dir, records, run.provenance):
      print(f"wrote {path}")
    *_, index = reports.write_predictions(FLAGS.output_dir, run.predictions)
    print(f"wrote {len(run.predictions)} per-image predictions file(s) listed in {index}")
  return 0


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
