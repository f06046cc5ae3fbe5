"""The report's figures (matplotlib): effective robustness, corruption errors,
reliability diagrams, the ReaL accuracy-vs-threshold curves,
model-vs-human's shape bias per category and error consistency per dataset,
and the ImageNet-X factor error ratios.

Plotting uses matplotlib's Agg backend on figures created directly (no
pyplot state, no display), so it is safe in servers, tests and threads. PNGs
are written atomically (`save_figure`): a failed save leaves no partial file.
This is the only module of the package that imports matplotlib; the package
loads it on first use.
"""

from __future__ import annotations

import math
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator
import numpy as np

from tfds_bench import imagenet_x, real_scores
from tfds_bench.metrics import corruption as corruption_lib
from tfds_bench.metrics import robustness
from tfds_bench.reports import atomic
from tfds_bench.reports import tables
from tfds_bench.release import model_vs_human as mvh_release

PNG_DPI = 110


def _new_figure(width: float, height: float) -> Figure:
  # A bare Figure with an Agg canvas: no pyplot global state, no display.
  figure = Figure(figsize=(width, height), dpi=100)
  FigureCanvasAgg(figure)
  return figure


def save_figure(figure: Figure, path: str) -> str:
  """Saves ``figure`` as a PNG at ``path`` atomically; returns ``path``."""
  with atomic.replacing(path) as tmp:
    figure.savefig(tmp, dpi=PNG_DPI, format="png")
  return path


def _model_colors(models: Sequence[str]) -> Dict[str, object]:
  palette = colormaps["tab10" if len(models) <= 10 else "tab20"]
  return {m: palette(i % palette.N) for i, m in enumerate(sorted(models))}


def _percent_formatter() -> FuncFormatter:
  return FuncFormatter(lambda value, _: f"{100 * value:.3g}")


# --- effective robustness -----------------------------------------------------

def effective_robustness_figure(records: Iterable[Mapping]):
  """One panel per shifted benchmark: shifted vs ImageNet val top-1 per model.

  Both axes are logit-scaled (ticks labelled in %), so the baseline fit is a
  straight line; y = x is dashed. Returns ``(figure, fits)``, fits a list of
  `tfds_bench.metrics.RobustnessFit` in panel order, or ``(None, [])`` when no
  model has both accuracies for any shifted benchmark.
  """
  records = list(records)
  fits = [robustness.robustness_fit(records, b) for b in robustness.shifted_benchmarks(records)]
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
  bounds = tables.intervals_of(records)
  for ax, fit in zip(axes, fits):
    _draw_robustness_panel(ax, fit, colors, bounds)
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
  logits = robustness.logit(values)
  low, high = float(logits.min()), float(logits.max())
  margin = max(0.25 * (high - low), 0.35)
  return float(robustness.expit(low - margin)), float(robustness.expit(high + margin))


def _draw_robustness_panel(ax, fit: robustness.RobustnessFit, colors, bounds) -> None:
  xs = np.array([p[0] for p in fit.points.values()])
  ys = np.array([p[1] for p in fit.points.values()])
  x_limits, y_limits = _logit_limits(xs), _logit_limits(ys)
  grid = robustness.expit(np.linspace(robustness.logit(x_limits[0]),
                                      robustness.logit(x_limits[1]), 200))
  ax.plot(grid, grid, linestyle="--", color="0.4", linewidth=1, label="y = x")
  if fit.has_fit:
    ax.plot(grid, fit.predict(grid), color="tab:red", linewidth=1.5, alpha=0.7,
            label="linear fit (logit space)")
  metric = robustness.ACCURACY_METRIC
  for model, (x, y) in fit.points.items():
    ax.scatter([x], [y], color=colors[model], s=45, zorder=3, edgecolors="white",
               linewidths=0.5, label=model)
    x_bar = _error_bar(x, bounds.get((model, robustness.REFERENCE_BENCHMARK, metric)))
    y_bar = _error_bar(y, bounds.get((model, fit.shifted_benchmark, metric)))
    if x_bar is not None or y_bar is not None:
      ax.errorbar([x], [y], xerr=x_bar, yerr=y_bar, fmt="none", ecolor=colors[model],
                  capsize=3, zorder=2)
  _set_logit_axes(ax, x_limits, y_limits)
  ax.set_xlabel(f"{robustness.REFERENCE_BENCHMARK} top-1 (%)")
  ax.set_ylabel(f"{fit.shifted_benchmark} top-1 (%)")
  ax.set_title(fit.shifted_benchmark, fontsize=10)
  if fit.has_fit:
    note = "effective robustness:\n" + "\n".join(
        f"{model}: {tables.signed_points(value, 1)} pp"
        for model, value in fit.effective_robustness.items())
  else:
    note = f"no fit: {len(fit.points)} model(s)" if len(fit.points) < 2 else "no fit"
  _note(ax, note)


# --- published context --------------------------------------------------------

def _note(ax, text: str) -> None:
  """A boxed note in the panel's top-left corner."""
  ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", ha="left", fontsize=7,
          bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.8", "alpha": 0.9})


def _error_bar(value: float, interval) -> Optional[np.ndarray]:
  """matplotlib's [[below], [above]] from a (low, high) interval, or None."""
  if interval is None:
    return None
  return np.array([[max(value - interval[0], 0.0)], [max(interval[1] - value, 0.0)]])


def _set_logit_axes(ax, x_limits, y_limits) -> None:
  ax.set_xscale("logit")
  ax.set_yscale("logit")
  ax.set_xlim(*x_limits)
  ax.set_ylim(*y_limits)
  for axis, limits in ((ax.xaxis, x_limits), (ax.yaxis, y_limits)):
    axis.set_major_locator(FixedLocator(_logit_ticks(*limits)))
    axis.set_major_formatter(_percent_formatter())
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
  ax.tick_params(axis="both", labelsize=8)
  ax.grid(True, which="major", color="0.9")


def published_context_figure(contexts: Sequence) -> Optional[Figure]:
  """The user's models on the published models' val-vs-shift scatter.

  One panel per `tfds_bench.reports.context.ShiftContext` (ImageNetV2, Sketch,
  A, R): the published rows in grey, their logit-axis least-squares line, y =
  x dashed, and each user's model with its 95 % intervals as error bars (a
  published counterpart, not measured, as a hollow marker).
  """
  if not contexts:
    return None
  models = sorted({p.model for c in contexts for p in c.points})
  colors = _model_colors(models) if models else {}
  figure = _new_figure(11.0, 10.5)
  axes = figure.subplots(2, 2, squeeze=False).ravel()
  for ax, context in zip(axes, contexts):
    dots = context.published
    xs = np.concatenate([dots.reference, [p.reference for p in context.points]])
    ys = np.concatenate([dots.shifted, [p.shifted for p in context.points]])
    x_limits, y_limits = _logit_limits(xs), _logit_limits(ys)
    ax.scatter(dots.reference, dots.shifted, s=6, color="0.6", alpha=0.5, linewidths=0,
               label="published models (one dot per model and image size)")
    grid = robustness.expit(np.linspace(robustness.logit(x_limits[0]),
                                        robustness.logit(x_limits[1]), 200))
    ax.plot(grid, grid, linestyle="--", color="0.4", linewidth=1, label="y = x")
    ax.plot(grid, robustness.expit(context.slope * robustness.logit(grid) + context.intercept),
            color="tab:red", linewidth=1.5,
            label="published linear fit (logit axes)")
    for point in context.points:
      ax.errorbar([point.reference], [point.shifted],
                  xerr=_error_bar(point.reference, point.reference_interval),
                  yerr=_error_bar(point.shifted, point.shifted_interval),
                  fmt="o" if point.measured else "*", markersize=9 if point.measured else 13,
                  color=colors[point.model],
                  markerfacecolor=colors[point.model] if point.measured else "none",
                  capsize=3, zorder=4, label=point.label)
    _set_logit_axes(ax, x_limits, y_limits)
    ax.set_xlabel(f"{dots.reference_benchmark} top-1 (%)")
    ax.set_ylabel(f"{dots.shifted_benchmark} top-1 (%)")
    ax.set_title(f"{dots.shifted_benchmark}: logit(y) = {context.slope:.4f} logit(x) "
                 f"{context.intercept:+.4f}", fontsize=9)
    if context.points:
      note = "effective robustness vs the published fit:\n" + "\n".join(
          f"{p.model}: {tables.signed_points(p.effective_robustness, 1)} pp"
          + ("" if p.measured else " (published row)") for p in context.points)
      _note(ax, note)
  for ax in axes[len(contexts):]:
    ax.set_visible(False)
  seen = {}
  for ax in axes[:len(contexts)]:
    for handle, label in zip(*ax.get_legend_handles_labels()):
      seen.setdefault(label, handle)
  figure.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=2,
                frameon=False, fontsize=8)
  figure.suptitle("Among the published models (timm results, each with its own "
                  "preprocessing); bars: 95% intervals", fontsize=10)
  figure.tight_layout(rect=(0, 0.09, 1, 0.97))
  return figure


# --- corruption errors --------------------------------------------------------

def corruption_errors_figure(records: Iterable[Mapping]) -> Optional[Figure]:
  """Grouped bars: top-1 error per corruption (mean over severities), per model.

  One panel per benchmark with per-corruption errors (normally
  ``imagenet_c``); the legend gives each model's mCE and relative mCE when the
  records have them. Returns the figure, or None without such errors.
  """
  records = list(records)
  benchmarks = tables.corruption_benchmarks(records)
  if not benchmarks:
    return None
  table = tables.wide_table(records)
  colors = _model_colors(table.models)
  prefix = tables.ERROR_PREFIX
  figure = _new_figure(15.0, 4.8 * len(benchmarks))
  axes = figure.subplots(len(benchmarks), 1, squeeze=False).ravel()
  bounds = tables.intervals_of(records)
  for ax, benchmark in zip(axes, benchmarks):
    corruptions = [m[len(prefix):] for b, m in table.columns
                   if b == benchmark and tables.is_corruption_error(m)]
    models = [m for m in table.models
              if any(table.get(m, benchmark, prefix + c) is not None for c in corruptions)]
    width = 0.8 / max(len(models), 1)
    positions = np.arange(len(corruptions))
    for i, model in enumerate(models):
      errors = [table.get(model, benchmark, prefix + c) for c in corruptions]
      heights = [np.nan if e is None else 100 * e for e in errors]
      # 95 % intervals as error bars (0 where a figure has none).
      spans = [bounds.get((model, benchmark, prefix + c)) for c in corruptions]
      below = [0.0 if b is None or e is None else 100 * (e - b[0]) for e, b in zip(errors, spans)]
      above = [0.0 if b is None or e is None else 100 * (b[1] - e) for e, b in zip(errors, spans)]
      ax.bar(positions + (i - (len(models) - 1) / 2) * width, heights, width,
             color=colors[model], label=_corruption_legend(table, model, benchmark),
             yerr=[below, above], error_kw={"elinewidth": 0.8, "capsize": 1.5,
                                            "ecolor": "0.2"})
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


def _corruption_legend(table: tables.WideTable, model: str, benchmark: str) -> str:
  parts = []
  for metric, name in (("mce", "mCE"), ("relative_mce", "rel. mCE")):
    value = table.get(model, benchmark, metric)
    if value is not None:
      parts.append(f"{name} {100 * value:.1f}%")
  return f"{model} ({', '.join(parts)})" if parts else model


# --- reliability diagrams -----------------------------------------------------

def reliability_figure(bin_data: Mapping[str, np.ndarray], title: Optional[str] = None) -> Figure:
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
  return save_figure(reliability_figure(bin_data, title), path)


def reliability_file_name(model: str, benchmark: str) -> str:
  """``reliability_<model>_<benchmark>.png`` with path-unsafe characters replaced."""
  safe = lambda s: re.sub(r"[^A-Za-z0-9._-]+", "-", s)
  return f"reliability_{safe(model)}_{safe(benchmark)}.png"


# --- ReaL accuracy vs label-score threshold -----------------------------------

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


def plot_real_curves(curves: Mapping[str, Mapping[str, np.ndarray]], path: str) -> str:
  """Saves `real_scores.plot_accuracy_curve`'s figure of ``curves`` at ``path``, atomically."""
  with atomic.replacing(path) as tmp:
    real_scores.plot_accuracy_curve(curves, tmp)
  return path


# --- model-vs-human -----------------------------------------------------------

HUMANS = "humans"
SHAPE_BIAS_PREFIX = "shape_bias/"
HUMAN_PREFIX = "human_"


def _human_value(records: Sequence[Mapping], benchmark: str, metric: str):
  """The humans' figure (the same in every model's records): (value, interval)."""
  for r in records:
    if str(r["benchmark"]) == benchmark and str(r["metric"]) == HUMAN_PREFIX + metric:
      interval = ((float(r["ci_low"]), float(r["ci_high"]))
                  if r.get("ci_low") is not None and r.get("ci_high") is not None else None)
      return float(r["value"]), interval
  return None


def shape_bias_figure(records: Iterable[Mapping]) -> Optional[Figure]:
  """Shape bias per category on cue-conflict, models and the human mean, as
  model-vs-human draws it: one row per shape category (ordered by the
  humans' shape bias when known), the fraction of texture decisions on the
  bottom axis and of shape decisions on the reversed top axis, a vertical
  line at each decision maker's overall shape bias; 95 % intervals as bars.
  Returns None without ``shape_bias/<category>`` results.
  """
  records = [r for r in records if np.isfinite(float(r["value"]))]
  rows = [r for r in records if str(r["metric"]).startswith(SHAPE_BIAS_PREFIX)]
  if not rows:
    return None
  benchmark = sorted({str(r["benchmark"]) for r in rows})[0]
  table = tables.wide_table(records)
  bounds = tables.intervals_of(records)
  human = {c: _human_value(records, benchmark, SHAPE_BIAS_PREFIX + c)
           for c in mvh_release.CATEGORIES}
  categories = [c for c in mvh_release.CATEGORIES
                if human[c] or any(str(r["metric"]) == SHAPE_BIAS_PREFIX + c for r in rows)]
  # Most shape-biased (for the humans) at the bottom; categories without a
  # human figure last.
  categories.sort(key=lambda c: -human[c][0] if human[c] else np.inf)
  models = [m for m in table.models
            if any(table.get(m, benchmark, SHAPE_BIAS_PREFIX + c) is not None for c in categories)]
  makers = [(m, {c: (table.get(m, benchmark, SHAPE_BIAS_PREFIX + c),
                     bounds.get((m, benchmark, SHAPE_BIAS_PREFIX + c))) for c in categories},
             table.get(m, benchmark, "shape_bias"), "o") for m in models]
  if any(human.values()):
    overall = _human_value(records, benchmark, "shape_bias")
    makers.append((HUMANS, {c: human[c] or (None, None) for c in categories},
                   overall[0] if overall else None, "D"))
  colors = _model_colors(models)
  colors[HUMANS] = (0.65, 0.11, 0.18, 1.0)
  figure = _new_figure(7.5, 0.42 * len(categories) + 2.2)
  ax = figure.subplots()
  positions = np.arange(len(categories))
  for name, per_category, overall, marker in makers:
    for y, category in zip(positions, categories):
      value, interval = per_category[category]
      if value is None:
        continue
      span = None if interval is None else (1 - interval[1], 1 - interval[0])
      ax.errorbar([1 - value], [y], xerr=None if span is None else _error_bar(1 - value, span),
                  fmt=marker, color=colors[name], markersize=7, elinewidth=0.8, capsize=2,
                  label=name if y == positions[0] else None)
    if overall is not None:
      ax.axvline(1 - overall, color=colors[name], linewidth=1)
  ax.set_yticks(positions)
  ax.set_yticklabels(categories, fontsize=8)
  ax.set_ylim(-0.5, len(categories) - 0.5)
  ax.set_xlim(0, 1)
  ax.set_xlabel("fraction of 'texture' decisions")
  top = ax.secondary_xaxis("top", functions=(lambda x: 1 - x, lambda x: 1 - x))
  top.set_xlabel("fraction of 'shape' decisions")
  for y in positions[:-1]:
    ax.axhline(y + 0.5, color="0.85", linestyle=":", linewidth=0.8)
  ax.set_title(f"{benchmark}: shape bias per category (vertical lines: overall)", fontsize=9)
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
  figure.tight_layout()
  return figure


def error_consistency_figure(records: Iterable[Mapping]) -> Optional[Figure]:
  """Error consistency (Cohen's kappa) with the humans per dataset: each
  model's mean over human subjects and the humans among themselves, with 95 %
  intervals (bootstrap over images and subjects). Returns None without
  ``error_consistency`` results."""
  records = [r for r in records if np.isfinite(float(r["value"]))]
  benchmarks = sorted({str(r["benchmark"]) for r in records
                       if str(r["metric"]) == "error_consistency"})
  if not benchmarks:
    return None
  table = tables.wide_table(records)
  bounds = tables.intervals_of(records)
  models = [m for m in table.models
            if any(table.get(m, b, "error_consistency") is not None for b in benchmarks)]
  colors = _model_colors(models)
  colors[HUMANS] = (0.65, 0.11, 0.18, 1.0)
  makers = models + [HUMANS]
  width = 0.8 / len(makers)
  figure = _new_figure(max(6.0, 0.6 * len(benchmarks) * len(makers) ** 0.5 + 3), 4.6)
  ax = figure.subplots()
  positions = np.arange(len(benchmarks))
  for i, name in enumerate(makers):
    xs, ys, below, above = [], [], [], []
    for x, benchmark in zip(positions, benchmarks):
      if name == HUMANS:
        found = _human_value(records, benchmark, "error_consistency")
        value, interval = found if found else (None, None)
      else:
        value = table.get(name, benchmark, "error_consistency")
        interval = bounds.get((name, benchmark, "error_consistency"))
      if value is None:
        continue
      xs.append(x + (i - (len(makers) - 1) / 2) * width)
      ys.append(value)
      below.append(0.0 if interval is None else max(value - interval[0], 0.0))
      above.append(0.0 if interval is None else max(interval[1] - value, 0.0))
    if xs:
      ax.errorbar(xs, ys, yerr=[below, above], fmt="D" if name == HUMANS else "o",
                  color=colors[name], label=name, markersize=6, elinewidth=0.8, capsize=2)
  ax.axhline(0.0, color="0.3", linestyle=":", linewidth=1)
  ax.set_xticks(positions)
  ax.set_xticklabels(benchmarks, rotation=40, ha="right", fontsize=8)
  ax.set_ylim(-0.2, 1.0)
  ax.set_ylabel("error consistency (Cohen's kappa)")
  ax.set_title("error consistency with human observers, mean over conditions", fontsize=9)
  ax.grid(True, axis="y", color="0.9")
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
  figure.tight_layout()
  return figure


def score_distributions_figure(id_scores: np.ndarray, ood_scores: Mapping[str, np.ndarray],
                               score_name: str, title: Optional[str] = None) -> Figure:
  """Histograms of one OOD score, ID against each OOD set (one panel per set).

  Each panel shows the ID images' scores and one set's, as densities over
  shared bins, so overlap reads directly as how hard the set is for that
  score. ``ood_scores``: set name -> scores, panels in its order.
  """
  id_scores = np.asarray(id_scores, np.float64)
  names = list(ood_scores)
  if not names:
    raise ValueError("no OOD set to plot")
  everything = np.concatenate([id_scores] + [np.asarray(ood_scores[n], np.float64)
                                             for n in names])
  low, high = float(np.min(everything)), float(np.max(everything))
  if high <= low:
    high = low + 1.0
  bins = np.linspace(low, high, 51)
  columns = min(len(names), 3)
  rows = math.ceil(len(names) / columns)
  figure = _new_figure(4.0 * columns, 3.0 * rows)
  for i, name in enumerate(names):
    ax = figure.add_subplot(rows, columns, i + 1)
    ax.hist(id_scores, bins=bins, density=True, alpha=0.5, label="ID (ImageNet val)")
    ax.hist(np.asarray(ood_scores[name], np.float64), bins=bins, density=True, alpha=0.5,
            label=name)
    ax.set_title(name)
    ax.set_xlabel(score_name)
    ax.legend(fontsize="small")
  if title:
    figure.suptitle(title)
  figure.tight_layout()
  return figure


def plot_score_distributions(id_scores: np.ndarray, ood_scores: Mapping[str, np.ndarray],
                             score_name: str, path: str, title: Optional[str] = None) -> str:
  """Writes `score_distributions_figure` as a PNG at ``path``; returns ``path``."""
  return save_figure(score_distributions_figure(id_scores, ood_scores, score_name, title), path)


def score_distributions_file_name(model: str, score_name: str) -> str:
  """``openood_<score>_<model>.png``, with unsafe characters replaced."""
  return re.sub(r"[^A-Za-z0-9_.-]", "_", f"openood_{score_name}_{model}") + ".png"
# --- ImageNet-X factor error ratios ---------------------------------------------

FACTOR_KINDS = (("factor/", "top factor"), ("multi_factor/", "multi-factor"))


def factor_error_ratio_figure(records: Iterable[Mapping]) -> Optional[Figure]:
  """Per-factor error ratio, model beside model, with 95 % intervals.

  One panel per benchmark and annotation kind (top factor, multi-factor)
  with ``<kind><factor>/error_ratio`` rows: a horizontal bar per factor and
  model (ImageNet-X's factor order; the factor's image count in its label),
  the dashed line at 1 is the model's average error. Returns None without
  such rows.
  """
  records = list(records)
  suffix = tables.ERROR_RATIO_SUFFIX
  panels = sorted({(str(r["benchmark"]), prefix) for r in records for prefix, _ in FACTOR_KINDS
                   if r["metric"].startswith(prefix) and r["metric"].endswith(suffix)})
  if not panels:
    return None
  table = tables.wide_table(records)
  bounds = tables.intervals_of(records)
  counts = {(str(r["benchmark"]), str(r["metric"])): int(r["n"]) for r in records}
  models = [m for m in table.models
            if any(table.get(m, b, f"{p}{f}{suffix}") is not None
                   for b, p in panels for f in imagenet_x.FACTORS)]
  colors = _model_colors(models)
  figure = _new_figure(6.5 * len(panels), 0.3 * len(imagenet_x.FACTORS) * max(len(models), 1)
                       + 2.0)
  axes = figure.subplots(1, len(panels), squeeze=False).ravel()
  kind_names = dict(FACTOR_KINDS)
  for ax, (benchmark, prefix) in zip(axes, panels):
    factors = [f for f in imagenet_x.FACTORS
               if any(table.get(m, benchmark, f"{prefix}{f}{suffix}") is not None
                      for m in models)]
    height = 0.8 / max(len(models), 1)
    positions = np.arange(len(factors))
    for i, model in enumerate(models):
      values = [table.get(model, benchmark, f"{prefix}{f}{suffix}") for f in factors]
      spans = [bounds.get((model, benchmark, f"{prefix}{f}{suffix}")) for f in factors]
      shown = [np.nan if v is None else v for v in values]
      below = [0.0 if b is None or v is None else max(v - b[0], 0.0)
               for v, b in zip(values, spans)]
      above = [0.0 if b is None or v is None else max(b[1] - v, 0.0)
               for v, b in zip(values, spans)]
      ax.barh(positions + (i - (len(models) - 1) / 2) * height, shown, height,
              color=colors[model], label=model, xerr=[below, above],
              error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "0.2"})
    ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1)
    ax.set_yticks(positions)
    ax.set_yticklabels([
        f"{f.replace('_', ' ')} (n={counts.get((benchmark, f'{prefix}{f}{suffix}'), 0)})"
        for f in factors], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("error ratio: (1 - accuracy with the factor) / (1 - accuracy)")
    ax.set_title(f"{benchmark}: {kind_names[prefix]} error ratios (bars: 95% bootstrap)",
                 fontsize=9)
    ax.grid(True, axis="x", color="0.9")
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="lower right", frameon=False)
  figure.tight_layout()
  return figure
