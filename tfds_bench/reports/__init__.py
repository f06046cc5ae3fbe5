"""Reports of results records: files, tables, figures and the comparison report.

* `results_files`: ``results.json`` / ``results.csv`` (`write_results`,
  `load_results`, `records_to_csv`) and the run's per-image predictions
  (`write_predictions`, `load_predictions`);
* `tables`: the console table (`format_table`), Markdown and CSV tables, the
  wide one-row-per-model table (`wide_table`, `compare_table`, `wide_csv`) and
  the one metric order they share;
* `figures`: the matplotlib figures (effective robustness, corruption errors,
  reliability diagrams via `plot_reliability`, ReaL curves, ImageNet-X factor
  error ratios);
* `report`: `write_report`, report.md + report.csv + the PNGs;
* `context`: the models among the published ones (`tfds_bench.published`):
  the published baseline fit, effective robustness against it, percentiles;
* `atomic`: the temporary-file-and-rename every writer goes through.

The effective-robustness maths lives in `tfds_bench.metrics.robustness`.
Importing this package does not load matplotlib (``bench_main`` prints the
table without it): the names of `figures` and `report` are loaded on first
use.
"""

from tfds_bench.reports.results_files import (RECORD_FIELDS, has_predictions, holds_run,
                                              load_predictions, load_provenance,
                                              load_results, predictions_index,
                                              records_to_csv, run_folder_of,
                                              write_predictions, write_results,
                                              write_run)
from tfds_bench.reports.tables import (WideTable, compare_table, format_table,
                                       format_value, is_detail,
                                       is_per_severity, wide_csv, wide_table)

_FIGURE_NAMES = (
    "corruption_errors_figure", "effective_robustness_figure", "factor_error_ratio_figure",
    "plot_real_curves",
    "plot_reliability", "published_context_figure", "real_curves", "reliability_figure", "reliability_file_name",
    "save_figure",
)
_REPORT_NAMES = (
    "write_report", "write_score_distributions", "report_markdown", "REPORT_MD", "REPORT_CSV",
    "EFFECTIVE_ROBUSTNESS_PNG", "CORRUPTION_ERRORS_PNG", "REAL_CURVE_PNG", "PUBLISHED_CONTEXT_PNG",
    "FACTOR_ERROR_RATIOS_PNG", "PER_CLASS_CSV",
)


def __getattr__(name):
  # PEP 562: load matplotlib only when a figure or the report is asked for.
  if name in _FIGURE_NAMES:
    from tfds_bench.reports import figures  # lazy: matplotlib
    return getattr(figures, name)
  if name in _REPORT_NAMES:
    from tfds_bench.reports import report  # lazy: matplotlib
    return getattr(report, name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + list(_FIGURE_NAMES) + list(_REPORT_NAMES))
