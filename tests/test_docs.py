"""The README's benchmark tables agree with the benchmark table and the builders.

The table (`tfds_bench.benchmark_table`) is the single source of truth; the
README's "What the suite measures" and "Where the archives go" tables are
prose about it, so a row added to one and not the other fails here.
"""

import pathlib
import re

import tensorflow_datasets as tfds

import tfds_bench.builders  # pylint: disable=unused-import  # registers our builders
from tfds_bench import benchmark_table
from tfds_bench.sources import TfdsSource

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_table(heading: str):
  """Rows of the first Markdown table under ``## heading``: lists of cells."""
  section = (ROOT / "README.md").read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
  rows = [line for line in section.splitlines() if line.startswith("|")]
  return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _ids(cell: str):
  """Benchmark ids of a first cell: `a`, `b/c`, `/d` (d shares b's prefix)."""
  ids, prefix = [], ""
  for token in re.findall(r"`([^`]+)`", cell):
    if token.startswith("/"):
      ids.append(prefix + token)
    else:
      ids.append(token)
      prefix = token.split("/", 1)[0] if "/" in token else ""
  return ids


def _backticked(cell: str):
  return set(re.findall(r"`([^`]+)`", cell))


def test_what_the_suite_measures_lists_every_row_of_the_table_once():
  readme_ids = [i for row in _readme_table("What the suite measures") for i in _ids(row[0])]
  assert sorted(readme_ids) == sorted(b.id for b in benchmark_table.BENCHMARKS)


def test_what_the_suite_measures_names_only_metrics_the_rows_report():
  rows = benchmark_table.by_id()
  for cells in _readme_table("What the suite measures"):
    for benchmark_id in _ids(cells[0]):
      reported = {m.split("/<")[0] for m in rows[benchmark_id].metrics}
      named = {m.split("/&lt;")[0] for m in re.findall(r"\b([a-z][a-z0-9_]*(?:/&lt;\w+&gt;)?)",
                                                        re.sub(r"`[^`]*`", "", cells[2]))}
      named = {m for m in named if "_" in m or m[-1].isdigit()}  # metric-like words
      assert named <= reported | {"mfp", "mt5d", "top1_1000way"}, (benchmark_id, named - reported)


def _our_builder_sources(row):
  for source in row.sources:
    if isinstance(source, TfdsSource) and source.builder.startswith("bench_"):
      yield source.builder.split("/", 1)[0]


def test_where_the_archives_go_names_every_file_each_builder_reads():
  readme = {}
  for cells in _readme_table("Where the archives go"):
    for benchmark_id in _ids(cells[0]):
      readme[benchmark_id.rstrip("/*")] = _backticked(cells[1])
  for row in benchmark_table.BENCHMARKS:
    builders = set(_our_builder_sources(row))
    needed = set()
    for name in builders:
      needed |= set(tfds.builder_cls(name).ARCHIVE_NAMES)
    if any(s.builder == "imagenet2012" for s in row.sources if isinstance(s, TfdsSource)):
      needed.add("ILSVRC2012_img_val.tar")
    if not needed:
      continue  # the offline sample suites read nothing from manual_dir
    key = row.id.split("/", 1)[0] if row.id.startswith("imagenet_v2/") else row.id
    assert key in readme, f"README's archive table has no row for {row.id}"
    # ImageNet-O and multi-label say "plus the val archive" in words.
    missing = needed - readme[key] - {"ILSVRC2012_img_val.tar"}
    assert not missing, (row.id, missing)


def test_the_architecture_doc_exists_and_names_every_package():
  text = (ROOT / "docs" / "architecture.md").read_text()
  packages = sorted(p.name for p in (ROOT / "tfds_bench").iterdir()
                    if (p / "__init__.py").is_file())
  for package in packages:
    assert f"{package}/" in text, package
  for module in sorted(p.name for p in (ROOT / "tfds_bench").glob("*.py")):
    if module != "__init__.py":
      assert module in text, module
