"""Reports people look at: a wide comparison table and plots from results records.

``write_report(records, output_dir)`` (what ``bench_main --report=...`` calls)
writes:

* ``report.md``: one row per model and one column per benchmark/metric
  (values in %), the per-corruption errors, and the effective robustness of
  each model on each distribution shift, with how it was computed.
* ``report.csv``: the same table, wide, with every metric (per-severity
  corruption errors included); values are fractions, like ``results.csv``.
* ``effective_robustness.png`` when some model has ImageNet val top-1 and
  top-1 on a shifted benchmark; ``corruption_errors.png`` when some model has
  per-corruption errors.

Effective robustness (Taori et al. 2020, "Measuring Robustness to Natural
Distribution Shifts in Image Classification", Sec. 3): the baseline is a
linear fit, across models, of shifted top-1 against ImageNet val top-1 with
BOTH accuracies logit-transformed, logit(p) = log(p / (1 - p)) (the paper's
plots and its testbed code, modestyachts/imagenet-testbed
``plotting/plotter.py``, use ``transform='logit'`` and an ordinary
least-squares fit in that space). A model's effective robustness is its
shifted accuracy minus the baseline's prediction at its ImageNet accuracy,
mapped back to accuracy: ``acc_shift - expit(slope * logit(acc_val) +
intercept)``, a difference of fractions (shown in percentage points). Two
deliberate differences from the paper: the fit runs over the models in the
records given (the paper fits over its ~200 "standard" models only, so with
few models the baseline is the models' own trend, and with exactly two it
passes through both and every value is 0); and the x axis is 1000-class
ImageNet val top-1 for every shift (the paper uses val accuracy on the 200
classes for ImageNet-A/-R).

Plotting uses matplotlib's Agg backend on figures created directly (no
pyplot state, no display), so it is safe in servers, tests and threads.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfds_bench import reports
from tfds_bench.metrics import corruption as corruption_lib

REFERENCE_BENCHMARK = "imagenet2012"
ACCURACY_METRIC = "top1"
# Same images as the reference with other labels: a relabelling, not a shift.
NOT_SHIFTS = frozenset({REFERENCE_BENCHMARK, "imagenet2012_real"})
# Accuracies of exactly 0 or 1 have no logit: clip them this far inside (0, 1).
LOGIT_EPSILON = 1e-4

EFFECTIVE_ROBUSTNESS_PNG = "effective_robustness.png"
CORRUPTION_ERRORS_PNG = "corruption_errors.png"
REPORT_MD = "report.md"
REPORT_CSV = "report.csv"

_ERROR_PREFIX = "error/"
_SEVERITY_SUFFIX = re.compile(r"_[1-5]$")

Cell = Tuple[str, str]  # (benchmark, metric)


# --- the wide table -----------------------------------------------------------

@dataclasses.dataclass
class WideTable:
  """Records pivoted to one row per model, one column per (benchmark, metric).

  Attributes:
    models: model names, sorted.
    columns: (benchmark, metric) pairs, by benchmark then display order.
    values: (model, benchmark, metric) -> value (a fraction).
    duplicates: number of records that repeated a (model, benchmark, metric)
      already seen; the later record wins.
  """
  models: List[str]
  columns: List[Cell]
  values: Dict[Tuple[str, str, str], float]
  duplicates: int = 0

  def get(self, model: str, benchmark: str, metric: str) -> Optional[float]:
    return self.values.get((model, benchmark, metric))


def wide_table(records: Iterable[Mapping]) -> WideTable:
  """Pivots flat records into a `WideTable`."""
  values: Dict[Tuple[str, str, str], float] = {}
  duplicates = 0
  for record in records:
    key = (str(record["model"]), str(record["benchmark"]), str(record["metric"]))
    if key in values:
      duplicates += 1
    values[key] = float(record["value"])
  models = sorted({m for m, _, _ in values})
  columns = sorted({(b, m) for _, b, m in values},
                   key=lambda c: (c[0], _metric_order(c[1])))
  return WideTable(models, columns, values, duplicates)


def _metric_order(metric: str):
  # Headline metrics in reports' display order, then per-corruption errors in
  # the paper's corruption order, then anything else alphabetically.
  if metric.startswith(_ERROR_PREFIX):
    name = metric[len(_ERROR_PREFIX):]
    corruption = _SEVERITY_SUFFIX.sub("", name)
    return (2, _corruption_order(corruption), name)
  display = reports._DISPLAY_ORDER  # pylint: disable=protected-access
  if metric in display:
    return (0, display.index(metric), metric)
  return (1, 0, metric)


def _corruption_order(corruption: str) -> int:
  known = corruption_lib.TEST_CORRUPTIONS + corruption_lib.HELDOUT_CORRUPTIONS
  return known.index(corruption) if corruption in known else len(known)


def _is_corruption_error(metric: str) -> bool:
  """error/<corruption> (mean over severities), not error/<corruption>_<s>."""
  return metric.startswith(_ERROR_PREFIX) and not _SEVERITY_SUFFIX.search(metric)


def _percent(value: Optional[float]) -> str:
  if value is None:
    return ""
  if math.isnan(value):
    return "nan"
  return f"{100 * value:.2f}"


def _signed_points(value: float, decimals: int) -> str:
  """A fraction as signed percentage points; never "-0.0"."""
  rounded = round(100 * value, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
  return f"{rounded:+.{decimals}f}"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                    first_left: bool = True) -> str:
  align = ["---" if (i == 0 and first_left) else "---:" for i in range(len(header))]
  lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
  lines += ["| " + " | ".join(row) + " |" for row in rows]
  return "\n".join(lines)


def compare_table(records: Iterable[Mapping], include_per_corruption: bool = False) -> str:
  """Markdown comparison table: one row per model, one column per benchmark/metric.

  Values are percentages with two decimals; an empty cell means the model has
  no such result. Per-corruption errors (``error/...``) are left out unless
  ``include_per_corruption`` (they have their own table in the report).
  """
  table = wide_table(records)
  columns = [c for c in table.columns
             if include_per_corruption or not c[1].startswith(_ERROR_PREFIX)]
  header = ["model"] + [f"{b} {m} (%)" for b, m in columns]
  rows = [[model] + [_percent(table.get(model, b, m)) for b, m in columns]
          for model in table.models]
  return _markdown_table(header, rows)


def wide_csv(records: Iterable[Mapping]) -> str:
  """CSV: one row per model, a column ``<benchmark>:<metric>`` per figure.

  Values are fractions written with ``repr`` (exact), empty where missing.
  """
  table = wide_table(records)
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(["model"] + [f"{b}:{m}" for b, m in table.columns])
  for model in table.models:
    row = [model]
    for b, m in table.columns:
      value = table.get(model, b, m)
      row.append("" if value is None else repr(value))
    writer.writerow(row)
  return buffer.getvalue()


# --- effective robustness -----------------------------------------------------

def logit(p) -> np.ndarray:
  """log(p / (1 - p)), with p clipped to [LOGIT_EPSILON, 1 - LOGIT_EPSILON]."""
  p = np.clip(np.asarray(p, dtype=np.float64), LOGIT_EPSILON, 1.0 - LOGIT_EPSILON)
  return np.log(p) - np.log1p(-p)


def expit(x) -> np.ndarray:
  """The inverse of `logit`: 1 / (1 + exp(-x))."""
  return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def shifted_benchmarks(records: Iterable[Mapping]) -> List[str]:
  """Benchmarks with top-1 other than ImageNet val (and its ReaL relabelling)."""
  return sorted({str(r["benchmark"]) for r in records
                 if r["metric"] == ACCURACY_METRIC and r["benchmark"] not in NOT_SHIFTS})


@dataclasses.dataclass
class RobustnessFit:
  """Accuracies of the models on the reference and on one shifted benchmark.

  Attributes:
    shifted_benchmark: the benchmark on the y axis.
    points: model -> (reference top-1, shifted top-1), fractions.
    slope, intercept: the least-squares line in logit space, logit(shifted) =
      slope * logit(reference) + intercept; None when it cannot be fitted
      (fewer than 2 models, or all models at the same reference accuracy).
    effective_robustness: model -> shifted accuracy minus the fit's prediction
      (a fraction); empty when there is no fit.
  """
  shifted_benchmark: str
  points: Dict[str, Tuple[float, float]]
  slope: Optional[float] = None
  intercept: Optional[float] = None
  effective_robustness: Dict[str, float] = dataclasses.field(default_factory=dict)

  @property
  def has_fit(self) -> bool:
    return self.slope is not None

  def predict(self, reference_accuracy) -> np.ndarray:
    """The baseline's shifted accuracy at the given reference accuracies."""
    if not self.has_fit:
      raise ValueError(f"no fit for {self.shifted_benchmark}: {self.why_no_fit()}")
    return expit(self.slope * logit(reference_accuracy) + self.intercept)

  def why_no_fit(self) -> str:
    if len(self.points) < 2:
      return (f"a line needs at least 2 models with both {REFERENCE_BENCHMARK} and "
              f"{self.shifted_benchmark} top-1, got {len(self.points)}")
    return f"all models have the same {REFERENCE_BENCHMARK} top-1"


def robustness_fit(records: Iterable[Mapping], shifted_benchmark: str,
                   reference_benchmark: str = REFERENCE_BENCHMARK) -> RobustnessFit:
  """Fits the effective-robustness baseline for one shifted benchmark.

  Uses every model with top-1 on both benchmarks. See the module docstring
  for the definition (Taori et al. 2020, logit-transformed axes).
  """
  table = wide_table(records)
  points = {}
  for model in table.models:
    x = table.get(model, reference_benchmark, ACCURACY_METRIC)
    y = table.get(model, shifted_benchmark, ACCURACY_METRIC)
    if x is not None and y is not None and not (math.isnan(x) or math.isnan(y)):
      points[model] = (x, y)
  fit = RobustnessFit(shifted_benchmark, points)
  if len(points) < 2:
    return fit
  xs = logit([p[0] for p in points.values()])
  ys = logit([p[1] for p in points.values()])
  if np.ptp(xs) == 0:
    return fit
  # Ordinary least squares of y on x, as scipy.stats.linregress in the
  # paper's testbed code.
  slope, intercept = np.polyfit(xs, ys, deg=1)
  fit.slope, fit.intercept = float(slope), float(intercept)
  predicted = fit.predict([p[0] for p in points.values()])
  fit.effective_robustness = {model: float(p[1] - pred)
                              for (model, p), pred in zip(points.items(), predicted)}
  return fit


def effective_robustness(records: Iterable[Mapping], shifted_benchmark: str,
                         reference_benchmark: str = REFERENCE_BENCHMARK) -> Dict[str, float]:
  """Model -> effective robustness on ``shifted_benchmark`` (a fraction).

  Shifted top-1 minus the logit-space linear fit's prediction at the model's
  ImageNet val top-1 (Taori et al. 2020).

  Raises:
    ValueError: fewer than 2 models have both accuracies, or they all have
      the same ImageNet accuracy (no line can be fitted).
  """
  fit = robustness_fit(list(records), shifted_benchmark, reference_benchmark)
  if not fit.has_fit:
    raise ValueError(f"effective robustness on {shifted_benchmark}: {fit.why_no_fit()}")
  return fit.effective_robustness


# --- figures ------------------------------------------------------------------

def _new_figure(width: float, height: float):
  # A bare Figure with an Agg canvas: no pyplot global state, no display.
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  figure = Figure(figsize=(width, height), dpi=100)
  FigureCanvasAgg(figure)
  return figure


def _model_colors(models: Sequence[str]) -> Dict[str, object]:
  from matplotlib import colormaps  # pylint: disable=g-import-not-at-top
  palette = colormaps["tab10" if len(models) <= 10 else "tab20"]
  return {m: palette(i % palette.N) for i, m in enumerate(sorted(models))}


def _percent_formatter():
  from matplotlib.ticker import FuncFormatter  # pylint: disable=g-import-not-at-top
  return FuncFormatter(lambda value, _: f"{100 * value:.3g}")


def effective_robustness_figure(records: Iterable[Mapping]):
  """One panel per shifted benchmark: shifted vs ImageNet val top-1 per model.

  Both axes are logit-scaled (ticks labelled in %), so the baseline fit is a
  straight line; y = x is dashed. Returns ``(figure, fits)``, fits a list of
  `RobustnessFit` in panel order, or ``(None, [])`` when no model has both
  accuracies for any shifted benchmark.
  """
  records = list(records)
  fits = [robustness_fit(records, b) for b in shifted_benchmarks(records)]
  fits = [f for f in fits if f.points]
  if not fits:
    return None, []
  models = sorted({m for f in fits for m in f.points})
  colors = _model_colors(models)
  columns = min(3, len(fits))
  rows = math.ceil(len(fits) / columns)
  legend_rows = math.ceil((len(models) + 2) / 4)
  legend_height = 0.25 * legend_rows + 0.2
  figure = _new_figure(5.0 * columns, 4.4 * rows + legend_height + 0.5)
  axes = figure.subplots(rows, columns, squeeze=False).ravel()
  for ax, fit in zip(axes, fits):
    _draw_robustness_panel(ax, fit, colors)
  for ax in axes[len(fits):]:
    ax.set_visible(False)
  handles, labels = axes[0].get_legend_handles_labels()
  seen = dict(zip(labels, handles))
  for ax in axes[1:len(fits)]:
    for handle, label in zip(*ax.get_legend_handles_labels()):
      seen.setdefault(label, handle)
  figure.legend(list(seen.values()), list(seen.keys()), loc="lower center",
                ncol=min(4, len(seen)), frameon=False, fontsize=9)
  figure.suptitle("Effective robustness (Taori et al. 2020): top-1, logit-scaled axes")
  height = figure.get_figheight()
  figure.tight_layout(rect=(0, legend_height / height, 1, 1 - 0.45 / height))
  return figure, fits


def _logit_ticks(low: float, high: float) -> List[float]:
  """At least 3 round tick positions in [low, high] for a logit axis."""
  tails = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999)
  ticks = []
  for step in (0.1, 0.05, 0.02, 0.01):
    middle = np.round(np.arange(0.1, 0.9 + step / 2, step), 4)
    ticks = sorted(float(t) for t in set(tails) | set(middle.tolist()) if low <= t <= high)
    if len(ticks) >= 3:
      break
  return ticks


def _logit_limits(values: np.ndarray) -> Tuple[float, float]:
  """Axis limits around the values, with a margin in logit space."""
  low, high = float(logit(values).min()), float(logit(values).max())
  margin = max(0.25 * (high - low), 0.35)
  return float(expit(low - margin)), float(expit(high + margin))


def _draw_robustness_panel(ax, fit: RobustnessFit, colors) -> None:
  from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator  # pylint: disable=g-import-not-at-top
  xs = np.array([p[0] for p in fit.points.values()])
  ys = np.array([p[1] for p in fit.points.values()])
  x_limits, y_limits = _logit_limits(xs), _logit_limits(ys)
  grid = expit(np.linspace(logit(x_limits[0]), logit(x_limits[1]), 200))
  ax.plot(grid, grid, linestyle="--", color="0.4", linewidth=1, label="y = x")
  if fit.has_fit:
    ax.plot(grid, fit.predict(grid), color="tab:red", linewidth=1.5, alpha=0.7,
            label="linear fit (logit space)")
  for model, (x, y) in fit.points.items():
    ax.scatter([x], [y], color=colors[model], s=45, zorder=3, edgecolors="white",
               linewidths=0.5, label=model)
  ax.set_xscale("logit")
  ax.set_yscale("logit")
  ax.set_xlim(*x_limits)
  ax.set_ylim(*y_limits)
  for axis, limits in ((ax.xaxis, x_limits), (ax.yaxis, y_limits)):
    ticks = _logit_ticks(*limits)
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(_percent_formatter())
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
  ax.tick_params(axis="both", labelsize=8)
  ax.set_xlabel(f"{REFERENCE_BENCHMARK} top-1 (%)")
  ax.set_ylabel(f"{fit.shifted_benchmark} top-1 (%)")
  ax.set_title(fit.shifted_benchmark, fontsize=10)
  if fit.has_fit:
    note = "effective robustness:\n" + "\n".join(
        f"{model}: {_signed_points(value, 1)} pp"
        for model, value in fit.effective_robustness.items())
  else:
    note = f"no fit: {len(fit.points)} model(s)" if len(fit.points) < 2 else "no fit"
  ax.text(0.03, 0.97, note, transform=ax.transAxes, va="top", ha="left", fontsize=7,
          bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.8", "alpha": 0.9})
  ax.grid(True, which="major", color="0.9")


def corruption_benchmarks(records: Iterable[Mapping]) -> List[str]:
  """Benchmarks with per-corruption errors (``error/<corruption>``)."""
  return sorted({str(r["benchmark"]) for r in records if _is_corruption_error(r["metric"])})


def corruption_errors_figure(records: Iterable[Mapping]):
  """Grouped bars: top-1 error per corruption (mean over severities), per model.

  One panel per benchmark with per-corruption errors (normally
  ``imagenet_c``); the legend gives each model's mCE and relative mCE when the
  records have them. Returns the figure, or None without such errors.
  """
  records = list(records)
  benchmarks = corruption_benchmarks(records)
  if not benchmarks:
    return None
  table = wide_table(records)
  colors = _model_colors(table.models)
  figure = _new_figure(15.0, 4.8 * len(benchmarks))
  axes = figure.subplots(len(benchmarks), 1, squeeze=False).ravel()
  for ax, benchmark in zip(axes, benchmarks):
    corruptions = [m[len(_ERROR_PREFIX):] for b, m in table.columns
                   if b == benchmark and _is_corruption_error(m)]
    models = [m for m in table.models
              if any(table.get(m, benchmark, _ERROR_PREFIX + c) is not None for c in corruptions)]
    width = 0.8 / max(len(models), 1)
    positions = np.arange(len(corruptions))
    for i, model in enumerate(models):
      errors = [table.get(model, benchmark, _ERROR_PREFIX + c) for c in corruptions]
      heights = [np.nan if e is None else 100 * e for e in errors]
      ax.bar(positions + (i - (len(models) - 1) / 2) * width, heights, width,
             color=colors[model], label=_corruption_legend(table, model, benchmark))
    ax.set_xticks(positions)
    ax.set_xticklabels([c.replace("_", " ") for c in corruptions], rotation=40, ha="right",
                       fontsize=8)
    heldout = [i for i, c in enumerate(corruptions) if c in corruption_lib.HELDOUT_CORRUPTIONS]
    if heldout and heldout[0] > 0:
      # The held-out corruptions are not part of the mCE: set them apart.
      ax.axvline(heldout[0] - 0.5, color="0.3", linestyle=":", linewidth=1)
      ax.text(heldout[0] - 0.4, 97, "held out (not in mCE)", fontsize=8, va="top", color="0.3")
    ax.set_ylabel("top-1 error (%), mean over severities")
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.6, len(corruptions) - 0.4)
    ax.set_title(f"{benchmark}: top-1 error per corruption (legend: mCE, relative mCE)")
    ax.grid(True, axis="y", color="0.9")
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
  figure.tight_layout()
  return figure


def _corruption_legend(table: WideTable, model: str, benchmark: str) -> str:
  parts = []
  for metric, name in (("mce", "mCE"), ("relative_mce", "rel. mCE")):
    value = table.get(model, benchmark, metric)
    if value is not None:
      parts.append(f"{name} {100 * value:.1f}%")
  return f"{model} ({', '.join(parts)})" if parts else model


def reliability_figure(bin_data: Mapping[str, np.ndarray], title: Optional[str] = None):
  """Reliability diagram from `tfds_bench.metrics.reliability_diagram` output.

  Top: accuracy per confidence bin (bars) against the diagonal of perfect
  calibration, the gap to the bin's mean confidence shaded; the title gives
  the ECE recomputed from the bins. Bottom: examples per bin.
  """
  edges = np.asarray(bin_data["bin_edges"], dtype=np.float64)
  count = np.asarray(bin_data["bin_count"], dtype=np.int64)
  accuracy = np.asarray(bin_data["bin_accuracy"], dtype=np.float64)
  confidence = np.asarray(bin_data["bin_confidence"], dtype=np.float64)
  total = int(count.sum())
  occupied = count > 0
  ece = float(np.sum(count[occupied] / total * np.abs(accuracy[occupied] - confidence[occupied]))
              ) if total else float("nan")
  centers = (edges[:-1] + edges[1:]) / 2
  widths = np.diff(edges)
  figure = _new_figure(5.5, 6.0)
  top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
  top.plot([0, 1], [0, 1], linestyle="--", color="0.4", linewidth=1, label="perfect calibration")
  top.bar(centers[occupied], accuracy[occupied], widths[occupied], color="tab:blue",
          edgecolor="white", label="accuracy")
  gap_bottom = np.minimum(accuracy, confidence)[occupied]
  top.bar(centers[occupied], np.abs(accuracy - confidence)[occupied], widths[occupied],
          bottom=gap_bottom, color="tab:red", alpha=0.3, edgecolor="tab:red", hatch="//",
          label="gap to mean confidence")
  top.scatter(centers[occupied], confidence[occupied], marker="_", s=200, color="black",
              linewidths=2, zorder=4, label="mean confidence")
  top.set_xlim(0, 1)
  top.set_ylim(0, 1)
  top.set_ylabel("accuracy in bin")
  top.legend(loc="upper left", fontsize=8, frameon=False)
  heading = title or "Reliability diagram"
  top.set_title(f"{heading}\nECE {100 * ece:.2f}% over {total} examples, {len(count)} bins",
                fontsize=10)
  bottom.bar(centers, count, widths, color="0.5", edgecolor="white")
  bottom.set_xlabel("confidence (max softmax)")
  bottom.set_ylabel("examples")
  figure.tight_layout()
  return figure


def plot_reliability(bin_data: Mapping[str, np.ndarray], path: str,
                     title: Optional[str] = None) -> str:
  """Saves `reliability_figure` as a PNG at ``path``; returns ``path``.

  ``bin_data`` is the dict returned by `tfds_bench.metrics.reliability_diagram`
  (or `calibration.reliability_from_sums`, e.g. from a Keras
  ``ExpectedCalibrationError``'s bin state).
  """
  _save(reliability_figure(bin_data, title), path)
  return path


def reliability_file_name(model: str, benchmark: str) -> str:
  """``reliability_<model>_<benchmark>.png`` with path-unsafe characters replaced."""
  safe = lambda s: re.sub(r"[^A-Za-z0-9._-]+", "-", s)
  return f"reliability_{safe(model)}_{safe(benchmark)}.png"


def _write_text(path: str, text: str) -> None:
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w", encoding="utf-8", newline="") as f:
    f.write(text)
  os.replace(tmp, path)


def _save(figure, path: str) -> None:
  # Save under a temporary name then rename: never a half-written PNG.
  tmp = f"{path}.tmp-{os.getpid()}.png"
  figure.savefig(tmp, dpi=110, format="png")
  os.replace(tmp, path)


# --- report.md ----------------------------------------------------------------

def _robustness_section(fits: Sequence[RobustnessFit], has_reference: bool) -> List[str]:
  lines = ["## Effective robustness", ""]
  if not fits:
    lines.append(
        f"Not computed: it needs {REFERENCE_BENCHMARK} top-1 and top-1 on a shifted benchmark "
        "(ImageNetV2, -Sketch, -A, -R, ...) for the same models"
        + ("." if has_reference else f"; these results have no {REFERENCE_BENCHMARK} top-1."))
    return lines
  lines += [
      "Method (Taori et al. 2020): for each shifted benchmark, a least-squares line is fitted "
      f"across the models below to logit(shifted top-1) against logit({REFERENCE_BENCHMARK} "
      "top-1), logit(p) = log(p / (1 - p)). A model's effective robustness is its shifted "
      "top-1 minus the line's prediction at its ImageNet top-1, mapped back to accuracy, in "
      "percentage points (pp): above the line is positive. The line is fitted over the "
      "models in this report only (the paper uses ~200 standard ImageNet models), so the "
      "numbers compare these models with each other; with exactly two models the line "
      "passes through both and every value is 0. The x axis is 1000-class "
      f"{REFERENCE_BENCHMARK} top-1 for every shift.",
      ""]
  models = sorted({m for f in fits for m in f.points})
  header = ["model"] + [f"{f.shifted_benchmark} (pp)" for f in fits]
  rows = []
  for model in models:
    row = [model]
    for fit in fits:
      value = fit.effective_robustness.get(model)
      row.append("" if value is None else _signed_points(value, 2))
    rows.append(row)
  lines += [_markdown_table(header, rows), ""]
  for fit in fits:
    if fit.has_fit:
      lines.append(f"- {fit.shifted_benchmark}: logit(y) = {fit.slope:.4f} * logit(x) "
                   f"{fit.intercept:+.4f}, over {len(fit.points)} models.")
    else:
      lines.append(f"- {fit.shifted_benchmark}: fit skipped, {fit.why_no_fit()}; "
                   "the plot shows the points only.")
  return lines


def _corruption_section(records: Sequence[Mapping]) -> List[str]:
  benchmarks = corruption_benchmarks(records)
  if not benchmarks:
    return []
  table = wide_table(records)
  lines = ["## Corruption errors", "",
           "Top-1 error (%) per corruption, mean over the 5 severities; mCE and relative mCE "
           "are normalised by AlexNet (Hendrycks & Dietterich 2019).", ""]
  for benchmark in benchmarks:
    summary = [m for m in ("mce", "relative_mce") if (benchmark, m) in table.columns]
    corruptions = [m for b, m in table.columns if b == benchmark and _is_corruption_error(m)]
    names = {"mce": "mCE", "relative_mce": "relative mCE"}
    header = ["model"] + [names[m] for m in summary] + [m[len(_ERROR_PREFIX):]
                                                         for m in corruptions]
    rows = [[model] + [_percent(table.get(model, benchmark, m)) for m in summary + corruptions]
            for model in table.models
            if any(table.get(model, benchmark, m) is not None for m in corruptions)]
    lines += [f"### {benchmark}", "", _markdown_table(header, rows), ""]
  return lines


def report_markdown(records: Sequence[Mapping], fits: Sequence[RobustnessFit],
                    images: Sequence[str]) -> str:
  """The text of report.md (``images``: PNG file names written beside it)."""
  records = list(records)
  table = wide_table(records)
  versions = sorted({str(r.get("suite_version")) for r in records if r.get("suite_version")})
  lines = ["# Benchmark report", "",
           f"{len(table.models)} model(s): {', '.join(table.models)}."]
  if versions:
    lines.append(f"Suite version(s): {', '.join(versions)}.")
  if table.duplicates:
    lines.append(f"{table.duplicates} record(s) repeated a model/benchmark/metric already "
                 "seen; the later one is shown.")
  lines += ["", "## Results", "",
            "Values in %; an empty cell means no result. Every figure, per-severity "
            f"corruption errors included, is in {REPORT_CSV} (as fractions).", "",
            compare_table(records), ""]
  lines += _corruption_section(records)
  has_reference = any(r["benchmark"] == REFERENCE_BENCHMARK and r["metric"] == ACCURACY_METRIC
                       for r in records)
  lines += _robustness_section(fits, has_reference) + [""]
  if images:
    lines += ["## Plots", ""] + [f"![{os.path.splitext(name)[0]}]({name})" for name in images]
    lines.append("")
  return "\n".join(lines)


REAL_CURVE_PNG = "real_accuracy_vs_threshold.png"


def real_curves(records: Sequence[Mapping]) -> Dict[str, Dict[str, np.ndarray]]:
  """model -> ReaL top-1 along the Dawid-Skene threshold, from the records'
  ``imagenet2012_real`` ``top1_at_threshold/<t>`` rows (empty if none)."""
  points: Dict[str, Dict[float, Tuple[float, int]]] = {}
  for r in records:
    if r["benchmark"] == "imagenet2012_real" and r["metric"].startswith("top1_at_threshold/"):
      threshold = float(r["metric"].split("/", 1)[1])
      points.setdefault(r["model"], {})[threshold] = (float(r["value"]), int(r["n"]))
  curves = {}
  for model, by_threshold in sorted(points.items()):
    thresholds = sorted(by_threshold)
    curves[model] = {"thresholds": np.array(thresholds),
                     "accuracy": np.array([by_threshold[t][0] for t in thresholds]),
                     "n": np.array([by_threshold[t][1] for t in thresholds], dtype=np.int64)}
  return curves


def write_report(records: Sequence[Mapping], output_dir: str) -> List[str]:
  """Writes report.md, report.csv and the plots the records allow.

  Args:
    records: flat results records (``model``, ``benchmark``, ``metric``,
      ``value`` as a fraction, ``n``), e.g. from several results.json files.
    output_dir: created if missing.

  Returns:
    The paths written, report.md first.
  """
  records = list(records)
  os.makedirs(output_dir, exist_ok=True)
  images = []
  figure, fits = effective_robustness_figure(records)
  if figure is not None:
    _save(figure, os.path.join(output_dir, EFFECTIVE_ROBUSTNESS_PNG))
    images.append(EFFECTIVE_ROBUSTNESS_PNG)
  figure = corruption_errors_figure(records)
  if figure is not None:
    _save(figure, os.path.join(output_dir, CORRUPTION_ERRORS_PNG))
    images.append(CORRUPTION_ERRORS_PNG)
  curves = real_curves(records)
  if curves:
    from tfds_bench import real_scores  # pylint: disable=g-import-not-at-top
    real_scores.plot_accuracy_curve(curves, os.path.join(output_dir, REAL_CURVE_PNG))
    images.append(REAL_CURVE_PNG)
  md_path = os.path.join(output_dir, REPORT_MD)
  csv_path = os.path.join(output_dir, REPORT_CSV)
  _write_text(md_path, report_markdown(records, fits, images))
  _write_text(csv_path, wide_csv(records))
  return [md_path, csv_path] + [os.path.join(output_dir, name) for name in images]
