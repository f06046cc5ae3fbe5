"""Writes the colab/*.ipynb notebooks from the cell sources below.

The notebooks are generated so that a review reads plain Python, not JSON:
edit the cells here, run ``python colab/make_notebooks.py``, and commit both.
They are written without outputs; ``tests/test_colab.py`` executes each one
and checks that the committed files match this script.

Every notebook runs offline on the sample suite (``bench_sample``) and keeps
its TFDS data in ``$TFDS_DATA_DIR`` when set, else in a fresh temporary folder
(never ``~/tensorflow_datasets``).
"""

from __future__ import annotations

import pathlib
import sys
from typing import Dict, List, Tuple

import nbformat

HERE = pathlib.Path(__file__).resolve().parent

INSTALL_NOTE = """\
Runs offline on the sample suite. In Colab, install the package first, from a
checkout or a wheel of this repository, e.g. `!pip install -q /content/tfds_bench`,
then restart the runtime."""

# Must run before tensorflow_datasets is imported: TFDS reads TFDS_DATA_DIR once.
SETUP_DATA_DIR = """\
import os
import tempfile

# TFDS keeps prepared datasets here: $TFDS_DATA_DIR if set (the tests set it),
# else a fresh temporary folder, so nothing is written to ~/tensorflow_datasets.
DATA_DIR = os.environ.setdefault("TFDS_DATA_DIR", tempfile.mkdtemp(prefix="tfds_bench_data_"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quieter TensorFlow start-up
print("TFDS data_dir:", DATA_DIR)"""

Cell = Tuple[str, str]  # (kind, source): kind "md" or "code"


def md(source: str) -> Cell:
  return ("md", source)


def code(source: str) -> Cell:
  return ("code", source)


LOAD_BENCHMARKS: List[Cell] = [
    md("""\
# 01 — Load the benchmarks with `tfds.load`

Every test set of `tfds_bench` is a TensorFlow Datasets builder: importing
`tfds_bench.builders` registers them, and `tfds.load` does the rest. Here we
load the offline sample suite, `bench_sample` (a few real photos that ship with
scikit-image, scikit-learn and matplotlib), look at its images with their
ImageNet label and ReaL-style label lists, and print its metadata.

""" + INSTALL_NOTE),
    code(SETUP_DATA_DIR),
    code("""\
import textwrap

import matplotlib.pyplot as plt
import tensorflow_datasets as tfds

import tfds_bench.builders  # registers bench_sample, bench_imagenet_v2, ...
from tfds_bench import labels

CLASS_NAMES = labels.class_names()  # 1000 names, in class-index order

dataset, info = tfds.load("bench_sample", split="test", data_dir=DATA_DIR, with_info=True)
examples = list(tfds.as_numpy(dataset))
print(len(examples), "examples; features:", sorted(examples[0]))"""),
    md("""\
`label` is the class index (0..999, wnids in sorted order) of the main object;
`real_label` lists every class a careful annotator accepts (as in ReaL,
Beyer et al. 2020), so a model predicting any of them is counted right by the
`real_top1` metric."""),
    code("""\
def caption(example) -> str:
  label = int(example["label"])
  real = ", ".join(CLASS_NAMES[int(i)] for i in example["real_label"])
  return "\\n".join([
      example["file_name"].decode(),
      textwrap.shorten(f"label {label}: {CLASS_NAMES[label]}", 40),
      *textwrap.wrap(f"ReaL: {real}", 40)[:3],
  ])


columns = 4
rows = -(-len(examples) // columns)
figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 4.3 * rows))
for ax in axes.ravel():
  ax.axis("off")
for ax, example in zip(axes.ravel(), examples):
  ax.imshow(example["image"])
  ax.set_title(caption(example), fontsize=9, loc="left")
figure.suptitle("bench_sample: image, ImageNet label, ReaL label list")
figure.tight_layout()
plt.show()"""),
    code("""\
for example in examples:
  real = [f"{int(i)} {CLASS_NAMES[int(i)]}" for i in example["real_label"]]
  print(f"{example['file_name'].decode():22s} {int(example['label']):4d} "
        f"{CLASS_NAMES[int(example['label'])]:22s} ReaL: {'; '.join(real)}")"""),
    md("## Metadata"),
    code("""\
print("name:", info.name, "version:", info.version)
print("splits:", {name: split.num_examples for name, split in info.splits.items()})
print("features:", info.features)
print("homepage:", info.homepage)
print("citation:", info.citation.strip()[:300])"""),
    code("""\
# The label feature maps class indices to wnids (and back).
label_feature = info.features["label"]
print(label_feature.num_classes, "classes;", "index 282 ->", label_feature.int2str(282),
      "->", CLASS_NAMES[282])"""),
]


KERAS_EVALUATE: List[Cell] = [
    md("""\
# 02 — Evaluate with Keras: `model.compile(metrics=[...])` + `model.evaluate`

Every `tfds_bench` metric is a `keras.metrics.Metric` subclass that keeps
integer counts, so the Keras loop gives exactly the numbers of the library and
of `bench_main`. The input pipeline pads the last batch (it never drops
examples); padded rows carry label -1, which the metrics skip and the loss
ignores (`ignore_class=-1`), and mask 0, which `keras_inputs` passes as the
sample weight.

""" + INSTALL_NOTE),
    code(SETUP_DATA_DIR),
    code("""\
from IPython.display import Image, display
import keras
import numpy as np
import tensorflow as tf

from tfds_bench import evaluate, input_pipeline, metrics, models, reports
from tfds_bench.metrics import calibration

MODEL = "efficientnet"  # the offline default: EfficientNet-Lite0 with ImageNet weights
spec = models.get(MODEL)
model = models.load_model(MODEL)
print(spec.name, "outputs", spec.output, "; preprocessing:", spec.preprocessing)"""),
    code("""\
examples = input_pipeline.load_split("bench_sample", "test", data_dir=DATA_DIR)
# Batch size 4 on 7 images: the second batch has one padding row, on purpose.
batches = input_pipeline.batches(examples, spec.preprocessing, batch_size=4,
                                 label_lists={"real_label": 8})"""),
    md("""\
## Single-label metrics

Target = `label`. `SparseCategoricalCrossentropy(ignore_class=-1)` is only
there because `evaluate` needs a loss; it skips the padding rows."""),
    code("""\
ece = metrics.ExpectedCalibrationError(from_logits=True)
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
    metrics=[metrics.TopKAccuracy(1), metrics.TopKAccuracy(5), ece])
single_label = model.evaluate(input_pipeline.keras_inputs(batches), return_dict=True, verbose=0)
single_label"""),
    md("""\
## ReaL metrics

Target = `real_label`, the -1-padded label lists. A single-output model takes
one target per `evaluate`, so ReaL is a second pass; the loss is a zero
placeholder (cross-entropy has no meaning for a label set)."""),
    code("""\
def no_loss(y_true, y_pred):
  del y_true  # Only the metrics matter in this pass.
  return tf.zeros(tf.shape(y_pred)[:1])


model.compile(loss=no_loss, metrics=[metrics.ReaLAccuracy(1), metrics.ReaLAccuracy(5)])
real = model.evaluate(input_pipeline.keras_inputs(batches, target_key="real_label"),
                      return_dict=True, verbose=0)
real"""),
    md("## Same numbers as the library (`tfds_bench.evaluate`, what `bench_main` runs)"),
    code("""\
run = evaluate.evaluate(MODEL, ["sample"], data=evaluate.DataOptions(data_dir=DATA_DIR))
library = {r["metric"]: r["value"] for r in run.records()}
keras_results = {**single_label, **real}
for name in ("top1", "top5", "real_top1", "real_top5", "ece"):
  print(f"{name:10s} keras {keras_results[name]:.6f}   library {library[name]:.6f}")
  np.testing.assert_allclose(keras_results[name], library[name], rtol=1e-6)"""),
    md("""\
## Reliability diagram from the Keras metric's state

`ExpectedCalibrationError` keeps per-bin counts, so its state is a reliability
diagram (7 images make a very coarse one)."""),
    code("""\
bins = calibration.reliability_from_sums(ece.bin_count.numpy(), ece.bin_correct.numpy(),
                                         ece.bin_confidence_sum.numpy())
path = reports.plot_reliability(bins, os.path.join(tempfile.mkdtemp(), "reliability.png"),
                                title=f"{spec.name} on bench_sample (Keras ECE state)")
display(Image(filename=path))"""),
]


COMPARE_MODELS: List[Cell] = [
    md("""\
# 03 — Compare models and write a report

Evaluates EfficientNet-Lite0 and -Lite1 (both offline) on the sample suite
with `tfds_bench.evaluate.evaluate`, writes the comparison report with
`tfds_bench.reports.write_report` (what `bench_main --report=a.json,b.json
--output_dir=DIR` calls) and shows it.

""" + INSTALL_NOTE),
    code(SETUP_DATA_DIR),
    code("""\
import tempfile

from IPython.display import Image, Markdown, display

from tfds_bench import evaluate, metrics, models, reports

MODELS = ("efficientnet_lite0", "efficientnet_lite1")
REPORT_DIR = tempfile.mkdtemp(prefix="tfds_bench_report_")
data = evaluate.DataOptions(data_dir=DATA_DIR)

runs = [evaluate.evaluate(name, ["sample"], data=data) for name in MODELS]
records = [record for run in runs for record in run.records()]
print(reports.format_table(records))"""),
    md("""\
## The report

`write_report` always writes `report.md`, `report.csv` (one row per model)
and `published_context.png` (the models among timm's published results; see
notebook 04). It draws `corruption_errors.png` when the results include
ImageNet-C, which the sample suite here does not."""),
    code("""\
paths = reports.write_report(records, REPORT_DIR)
print("\\n".join(paths))
with open(paths[0], encoding="utf-8") as f:
  display(Markdown(f.read()))
for path in paths:
  if path.endswith(".png"):
    display(Image(filename=path))"""),
    md("""\
## Reliability diagrams

Results records carry no per-bin data, so the diagram is drawn from the
predictions: `predict_source` gives each image's confidence (max softmax) and
top-5, `metrics.reliability_diagram` the bins, `reports.plot_reliability` the PNG."""),
    code("""\
from tfds_bench import benchmark_table

source = benchmark_table.SAMPLE
for name in MODELS:
  spec = models.get(name)
  predictions = evaluate.predict_source(source.load(data), spec.build(), spec,
                                        batch_size=8)
  correct = predictions.top5[:, 0] == predictions.label
  bins = metrics.reliability_diagram(predictions.confidence, correct)
  path = reports.plot_reliability(
      bins, f"{REPORT_DIR}/{reports.reliability_file_name(name, 'sample')}",
      title=f"{name} on bench_sample")
  display(Image(filename=path))"""),
    md("""\
## On real results

After full runs (`bench_main --model=... --output_dir=runs/<model>` with
`--manual_dir` holding the archives), combine them:

```
bench_main --report=runs/a/results.json,runs/b/results.json --output_dir=report
```"""),
]


PUBLISHED_CONTEXT: List[Cell] = [
    md("""\
# 04 — Intervals, a paired test and the published models

Runs EfficientNet-Lite0 and -Lite1 on the sample suite the way `bench_main
--output_dir` does (results with 95 % intervals, plus each run's per-image
predictions), compares the two runs image by image (`bench_main
--compare=RUN_A,RUN_B`) and writes the report (`bench_main --report`), which
puts the models on the val-vs-shift scatter of timm's 1,556 published rows.

""" + INSTALL_NOTE),
    code(SETUP_DATA_DIR),
    code("""\
import os
import tempfile

from IPython.display import Image, Markdown, display

from tfds_bench import compare, evaluate, reports

RUNS = tempfile.mkdtemp(prefix="tfds_bench_runs_")
data = evaluate.DataOptions(data_dir=DATA_DIR)
folders = []
for name in ("efficientnet_lite0", "efficientnet_lite1"):
  run = evaluate.evaluate(name, ["sample"], data=data)
  folder = os.path.join(RUNS, name)
  reports.write_results(folder, run.records(), run.provenance)  # what --output_dir writes
  reports.write_predictions(folder, run.predictions)
  folders.append(folder)
  print(reports.format_table(run.records()), "\\n")"""),
    md("""\
## How sure is each number

`ci_low`-`ci_high` is a 95 % interval: exact binomial (Clopper-Pearson) for
proportions such as top-1, a seeded bootstrap over images for ECE. On 7 photos
it spans tens of points: the sample suite checks that everything runs, it does
not rank models."""),
    md("""\
## Is B better than A on these images?

The paired test looks only at the images where the two models disagree
(exact McNemar) or resamples the same images for both (paired bootstrap)."""),
    code("""\
model_a, model_b, comparisons, notes = compare.compare_runs(*folders)
display(Markdown(compare.format_comparison(model_a, model_b, comparisons, notes)))"""),
    md("""\
## Among the published models

The report places each model on the published scatter for ImageNetV2, Sketch,
A and R with the line fitted over the published rows. These runs have no
ImageNet val or shift results, so each model appears as its published
counterpart's row (a hollow star, marked "not measured"); with full runs
(`--benchmarks=imagenet2012,imagenet_v2/matched-frequency,...`) the measured
points appear with their intervals as error bars."""),
    code("""\
records = [r for folder in folders
           for r in reports.load_results(os.path.join(folder, "results.json"))]
paths = reports.write_report(records, os.path.join(RUNS, "report"))
with open(paths[0], encoding="utf-8") as f:
  text = f.read()
display(Markdown(text[text.index("## Among the published models"):text.index("## Plots")]))
display(Image(filename=os.path.join(RUNS, "report", reports.PUBLISHED_CONTEXT_PNG)))"""),
]


NOTEBOOKS: Dict[str, List[Cell]] = {
    "01_load_benchmarks.ipynb": LOAD_BENCHMARKS,
    "02_keras_evaluate.ipynb": KERAS_EVALUATE,
    "03_compare_models.ipynb": COMPARE_MODELS,
    "04_published_context.ipynb": PUBLISHED_CONTEXT,
}


def build(cells: List[Cell]) -> nbformat.NotebookNode:
  """A notebook (no outputs) with a Python 3 kernelspec and Colab metadata."""
  notebook = nbformat.v4.new_notebook()
  notebook.metadata = {
      "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
      "language_info": {"name": "python"},
      "colab": {"provenance": []},
  }
  for i, (kind, source) in enumerate(cells):
    if kind == "md":
      cell = nbformat.v4.new_markdown_cell(source)
    else:
      cell = nbformat.v4.new_code_cell(source)
    # Fixed ids: regenerating gives byte-identical files (nbformat would draw
    # random ones), so the drift test can compare text.
    cell.id = f"cell-{i:02d}"
    notebook.cells.append(cell)
  nbformat.validate(notebook)
  return notebook


def render(cells: List[Cell]) -> str:
  return nbformat.writes(build(cells)) + "\n"


def main(argv: List[str]) -> int:
  out_dir = pathlib.Path(argv[1]) if len(argv) > 1 else HERE
  out_dir.mkdir(parents=True, exist_ok=True)
  for name, cells in NOTEBOOKS.items():
    (out_dir / name).write_text(render(cells), encoding="utf-8")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
