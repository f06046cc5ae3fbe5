"""Import rules of tfds_bench and its builders, checked on the source with `ast`.

Nothing is imported: every module of ``tfds_bench/`` and of ``builders/``
(installed as ``tfds_bench.builders``, so ``builders/x/y.py`` is
``tfds_bench.builders.x.y``) is parsed, ``*_test.py`` files excepted, and
three rules are checked:

  (a) No import cycles among our modules, counting every import of a
      tfds_bench module: module level, function level and under
      ``if TYPE_CHECKING:``. Importing ``a.b.c`` also runs the package
      ``a.b``'s ``__init__``, so that edge counts too, except to the
      importer's own packages (already loaded, if partially, by the time the
      importer runs: ``tfds_bench.corruptions.noise`` importing
      ``tfds_bench.corruptions.ops`` does not depend on
      ``corruptions/__init__``; importing a name *from*
      ``tfds_bench.corruptions`` does).
  (b) No function-level or TYPE_CHECKING import of a tfds_bench module,
      unless its line ends with ``# lazy: tensorflow``, ``# lazy: matplotlib``
      or ``# lazy: av`` and that is true: the imported module, or one of ours
      it imports at module level (transitively), imports the library at
      module level (``try/except ImportError`` at module level counts;
      ``tensorflow_datasets`` and ``keras`` load tensorflow).
  (c) Builders import nothing from the scoring side or the benchmark table.
  (d) The layer order of docs/architecture.md's module table is the import
      order: a module imports only modules of its own row or of rows below
      it (every kind of import), and every module is in the table.

The checker is plain functions below; `test_checker_*` run it on tiny
synthetic module sets so that the real-package tests cannot pass vacuously.
"""

import ast
import collections
import dataclasses
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "tfds_bench"
BUILDERS = "tfds_bench.builders"
# Top-level name imported -> heavy library it loads.
HEAVY = {
    "tensorflow": "tensorflow",
    "tensorflow_datasets": "tensorflow",
    "keras": "tensorflow",
    "matplotlib": "matplotlib",
    "av": "av",
}
LAZY_REASONS = ("tensorflow", "matplotlib", "av")
_LAZY_RE = re.compile(r"#\s*lazy:\s*([\w.-]+)")
BUILDERS_MUST_NOT_IMPORT = (
    "tfds_bench.scoring",
    "tfds_bench.benchmark_table",
    "tfds_bench.benchmark_types",
    "tfds_bench.benchmarks",
    "tfds_bench.evaluate",
    "tfds_bench.reports",
    "tfds_bench.plots",
    "tfds_bench.metrics",
    "tfds_bench.bench_main",
    "tfds_bench.predictions",
)


@dataclasses.dataclass(frozen=True)
class Module:
  name: str
  path: str  # Repository-relative, as shown in messages.
  source: str
  is_package: bool


@dataclasses.dataclass(frozen=True)
class Import:
  """One import statement of one of our modules."""
  importer: str
  path: str
  lineno: int
  text: str
  kind: str  # "module", "function" or "TYPE_CHECKING".
  lazy_tag: str | None  # The word after "# lazy:" on the statement's lines.
  named: tuple[str, ...]  # Dotted names as written (resolved if relative).
  targets: tuple[str, ...]  # Our modules the statement names.
  packages: tuple[str, ...]  # Our packages it runs on the way (see (a)).
  heavy: tuple[str, ...]  # Heavy libraries it imports directly.

  def where(self) -> str:
    return f"{self.path}:{self.lineno}: `{self.text}`"


def module_name(relpath: str) -> str:
  """`tfds_bench/x/y.py` -> tfds_bench.x.y; `builders/x/__init__.py` -> tfds_bench.builders.x."""
  parts = list(pathlib.PurePosixPath(relpath).with_suffix("").parts)
  if parts[0] == "builders":
    parts = [PACKAGE] + parts
  if parts[-1] == "__init__":
    parts.pop()
  return ".".join(parts)


def load_modules(files: dict[str, str]) -> dict[str, Module]:
  """{repository-relative path: source} -> {module name: Module}."""
  return {
      module_name(path): Module(module_name(path), path, source,
                                path.endswith("__init__.py"))
      for path, source in files.items()
  }


def package_files() -> dict[str, str]:
  files = {}
  for top in ("tfds_bench", "builders"):
    for path in sorted((REPO / top).rglob("*.py")):
      if path.name.endswith("_test.py") or "__pycache__" in path.parts:
        continue
      files[path.relative_to(REPO).as_posix()] = path.read_text(encoding="utf-8")
  return files


def _ours(name: str) -> bool:
  return name == PACKAGE or name.startswith(PACKAGE + ".")


def _ancestors(name: str) -> list[str]:
  parts = name.split(".")
  return [".".join(parts[:i]) for i in range(1, len(parts))]


def _is_type_checking(test: ast.expr) -> bool:
  return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
      isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _existing(name: str, modules: dict[str, Module]) -> str | None:
  """`name` or its longest prefix that is one of our modules."""
  while name and name not in modules:
    name = name.rpartition(".")[0]
  return name or None


def _record(module: Module, node: ast.Import | ast.ImportFrom, kind: str,
            modules: dict[str, Module]) -> Import:
  """Resolves one import statement to our modules and heavy libraries."""
  named, targets, implicit, heavy = [], [], [], []
  if isinstance(node, ast.Import):
    for alias in node.names:
      named.append(alias.name)
      if _ours(alias.name):
        targets.append(_existing(alias.name, modules))
      elif alias.name.split(".")[0] in HEAVY:
        heavy.append(HEAVY[alias.name.split(".")[0]])
  else:
    base = node.module or ""
    if node.level:
      parts = module.name.split(".")
      if not module.is_package:
        parts.pop()
      parts = parts[:len(parts) - (node.level - 1)]
      base = ".".join(parts + ([base] if base else []))
    if _ours(base):
      implicit.append(base)  # `from X import n` runs X even if n is a module.
      for alias in node.names:
        named.append(f"{base}.{alias.name}")
        candidate = f"{base}.{alias.name}"
        targets.append(candidate if candidate in modules else _existing(base, modules))
    else:
      named.extend(f"{base}.{alias.name}" for alias in node.names)
      if base.split(".")[0] in HEAVY:
        heavy.append(HEAVY[base.split(".")[0]])
  already_loaded = set(_ancestors(module.name)) | {module.name}
  targets = [t for t in dict.fromkeys(targets) if t and t != module.name]
  packages = []
  for name in implicit + [a for t in targets for a in _ancestors(t)]:
    name = _existing(name, modules)
    if name and name not in already_loaded and name not in targets:
      packages.append(name)
  lines = module.source.splitlines()[node.lineno - 1:node.end_lineno]
  tags = [m.group(1) for m in map(_LAZY_RE.search, lines) if m]
  text = " ".join((ast.get_source_segment(module.source, node) or "").split())
  return Import(module.name, module.path, node.lineno, text, kind,
                tags[-1] if tags else None, tuple(named), tuple(targets),
                tuple(dict.fromkeys(packages)), tuple(heavy))


def collect_imports(modules: dict[str, Module]) -> list[Import]:
  """Every import statement of every module, with where it runs."""
  imports = []

  def walk(module, node, kind):
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.Import, ast.ImportFrom)):
        imports.append(_record(module, child, kind, modules))
      elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        walk(module, child, "function" if kind == "module" else kind)
      elif isinstance(child, ast.If) and _is_type_checking(child.test):
        for statement in child.body:
          walk(module, ast.Module(body=[statement], type_ignores=[]),
               "TYPE_CHECKING" if kind == "module" else kind)
        for statement in child.orelse:
          walk(module, ast.Module(body=[statement], type_ignores=[]), kind)
      else:
        walk(module, child, kind)

  for module in modules.values():
    walk(module, ast.parse(module.source, module.path), "module")
  return imports


def _edges(imports: list[Import], kinds=None) -> dict[str, dict[str, list[Import]]]:
  graph = collections.defaultdict(lambda: collections.defaultdict(list))
  for imp in imports:
    if kinds is None or imp.kind in kinds:
      for target in imp.targets + imp.packages:
        graph[imp.importer][target].append(imp)
  return graph


def _strongly_connected(graph) -> list[set[str]]:
  index, low, stack, on_stack, components = {}, {}, [], set(), []

  def visit(node):
    index[node] = low[node] = len(index)
    stack.append(node)
    on_stack.add(node)
    for succ in sorted(graph.get(node, ())):
      if succ not in index:
        visit(succ)
        low[node] = min(low[node], low[succ])
      elif succ in on_stack:
        low[node] = min(low[node], index[succ])
    if low[node] == index[node]:
      component = set()
      while True:
        member = stack.pop()
        on_stack.discard(member)
        component.add(member)
        if member == node:
          break
      components.append(component)

  for node in sorted(graph):
    if node not in index:
      visit(node)
  return components


def _shortest_path(graph, start: str, goal: str, within: set[str]) -> list[str]:
  previous, queue = {start: None}, collections.deque([start])
  while queue:
    node = queue.popleft()
    if node == goal:
      path = []
      while node is not None:
        path.append(node)
        node = previous[node]
      return path[::-1]
    for succ in sorted(graph.get(node, ())):
      if succ in within and succ not in previous:
        previous[succ] = node
        queue.append(succ)
  raise AssertionError(f"no path {start} -> {goal}")


def find_cycles(modules: dict[str, Module]) -> list[str]:
  """Rule (a): each import statement that closes a cycle, with the cycle."""
  graph = _edges(collect_imports(modules))
  problems = []
  for component in _strongly_connected(graph):
    if len(component) < 2:
      continue
    for importer in sorted(component):
      for target in sorted(set(graph[importer]) & component):
        chain = [importer] + _shortest_path(graph, target, importer, component)
        for imp in graph[importer][target]:
          how = "" if target in imp.targets else f" (runs package {target})"
          problems.append(f"{imp.where()} [{imp.kind}]{how}: in cycle "
                          + " -> ".join(chain))
  return sorted(dict.fromkeys(problems))


def heavy_loaded(starts, imports: list[Import]) -> set[str]:
  """Heavy libraries loaded at module level by `starts` and what they import."""
  graph = _edges(imports, kinds=("module",))
  direct = collections.defaultdict(set)
  for imp in imports:
    if imp.kind == "module":
      direct[imp.importer].update(imp.heavy)
  seen, todo, libraries = set(), list(starts), set()
  while todo:
    name = todo.pop()
    if name not in seen:
      seen.add(name)
      libraries |= direct[name]
      todo.extend(graph.get(name, ()))
  return libraries


def find_lazy_problems(modules: dict[str, Module]) -> list[str]:
  """Rule (b): deferred imports of our modules, each with a true reason."""
  imports = collect_imports(modules)
  problems = []
  for imp in imports:
    if imp.kind == "module" or not imp.targets:
      continue
    if imp.lazy_tag is None:
      problems.append(f"{imp.where()} [{imp.kind}]: deferred import of "
                      f"{', '.join(imp.targets)} without a `# lazy: <library>` comment")
    elif imp.lazy_tag not in LAZY_REASONS:
      problems.append(f"{imp.where()} [{imp.kind}]: `# lazy: {imp.lazy_tag}` is not "
                      f"one of {', '.join(LAZY_REASONS)}")
    else:
      loaded = heavy_loaded(imp.targets + imp.packages, imports)
      if imp.lazy_tag not in loaded:
        problems.append(
            f"{imp.where()} [{imp.kind}]: claims `# lazy: {imp.lazy_tag}` but "
            f"{', '.join(imp.targets)} load(s) "
            f"{', '.join(sorted(loaded)) or 'no heavy library'} at module level")
  return problems


def find_builder_problems(modules: dict[str, Module]) -> list[str]:
  """Rule (c): builders do not import the scoring side or the table."""
  problems = []
  for imp in collect_imports(modules):
    if imp.importer != BUILDERS and not imp.importer.startswith(BUILDERS + "."):
      continue
    bad = sorted({f for name in imp.named + imp.targets for f in BUILDERS_MUST_NOT_IMPORT
                  if name == f or name.startswith(f + ".")})
    if bad:
      problems.append(f"{imp.where()} [{imp.kind}]: a builder imports "
                      f"{', '.join(bad)} (scoring side / benchmark table)")
  return problems


_ARCHITECTURE = REPO / "docs" / "architecture.md"
_TABLE_HEADER = "| layer | module | role |"


def layer_ranks(architecture_text: str) -> dict[str, int]:
  """Module (or package) name -> its row in the architecture doc's module
  table, top row 0: `x.py` is tfds_bench.x, `x/` the package tfds_bench.x."""
  lines = architecture_text.splitlines()
  start = lines.index(_TABLE_HEADER) + 2
  ranks = {}
  for rank, line in enumerate(lines[start:]):
    if not line.startswith("|"):
      break
    module_cell = line.split("|")[2]
    for token in re.findall(r"`([^`]+)`", module_cell):
      if token == "data/":
        continue  # shipped files, not code
      name = token[:-len(".py")] if token.endswith(".py") else token.rstrip("/")
      ranks[f"{PACKAGE}.{name}"] = rank
  return ranks


def _rank_of(name: str, ranks: dict[str, int]) -> int | None:
  while name and name not in ranks:
    name = name.rpartition(".")[0]
  return ranks.get(name) if name else None


def find_layer_problems(modules: dict[str, Module], ranks: dict[str, int]) -> list[str]:
  """Rule (d): imports going up the architecture table, and unmapped modules."""
  problems = []
  for name, module in sorted(modules.items()):
    if name != PACKAGE and not name.startswith(BUILDERS) and _rank_of(name, ranks) is None:
      problems.append(f"{module.path}: {name} is in no row of docs/architecture.md's table")
  for imp in collect_imports(modules):
    if imp.importer == PACKAGE or imp.importer.startswith(BUILDERS):
      continue
    here = _rank_of(imp.importer, ranks)
    for target in imp.targets + imp.packages:
      if target == PACKAGE or target.startswith(BUILDERS):
        continue  # the package's version; builders registered with TFDS
      there = _rank_of(target, ranks)
      if here is not None and there is not None and there < here:
        problems.append(f"{imp.where()} [{imp.kind}]: {imp.importer} (row {here}) imports "
                        f"{target}, listed above it (row {there})")
  return problems


def _report(title: str, problems: list[str]) -> str:
  return f"{len(problems)} {title}:\n" + "\n".join(problems)


# The checker on synthetic module sets.


def _modules(**sources: str) -> dict[str, Module]:
  """_modules(a="...", pkg__init__="...", pkg__x="...") -> tfds_bench.a, ..."""
  files = {}
  for key, source in sources.items():
    path = "tfds_bench/" + key.replace("__", "/") + ".py"
    files[path.replace("/init.py", "/__init__.py")] = source
  return load_modules(files)


def test_module_names_map_builders_into_the_package():
  assert module_name("builders/bench_sample/bench_sample_dataset_builder.py") == (
      "tfds_bench.builders.bench_sample.bench_sample_dataset_builder")
  assert module_name("builders/__init__.py") == "tfds_bench.builders"
  assert module_name("tfds_bench/metrics/__init__.py") == "tfds_bench.metrics"
  assert set(_modules(pkg__init="", pkg__x="")) == {"tfds_bench.pkg", "tfds_bench.pkg.x"}


def test_checker_finds_a_two_module_cycle_through_a_function_level_import():
  modules = _modules(
      a="from tfds_bench import b\n",
      b="def f():\n  from tfds_bench import a  # lazy: tensorflow\n  return a\n")
  problems = find_cycles(modules)
  assert problems == [
      "tfds_bench/a.py:1: `from tfds_bench import b` [module]: in cycle "
      "tfds_bench.a -> tfds_bench.b -> tfds_bench.a",
      "tfds_bench/b.py:2: `from tfds_bench import a` [function]: in cycle "
      "tfds_bench.b -> tfds_bench.a -> tfds_bench.b",
  ]
  assert find_cycles(_modules(a="from tfds_bench import b\n", b="import os\n")) == []


def test_checker_finds_cycles_through_package_init_and_relative_and_type_checking():
  # a imports pkg.x, which runs pkg/__init__, which imports a back.
  modules = _modules(a="import tfds_bench.pkg.x\n", pkg__init="from .. import a\n",
                     pkg__x="")
  assert find_cycles(modules) == [
      "tfds_bench/a.py:1: `import tfds_bench.pkg.x` [module] (runs package "
      "tfds_bench.pkg): in cycle tfds_bench.a -> tfds_bench.pkg -> tfds_bench.a",
      "tfds_bench/pkg/__init__.py:1: `from .. import a` [module]: in cycle "
      "tfds_bench.pkg -> tfds_bench.a -> tfds_bench.pkg",
  ]
  modules = _modules(
      a="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n  from tfds_bench.b import T\n",
      b="from tfds_bench import a\n")
  assert [p.split(" [")[1].split("]")[0] for p in find_cycles(modules)] == [
      "TYPE_CHECKING", "module"]


def test_checker_does_not_count_a_submodule_own_package_unless_importing_from_it():
  sibling = _modules(pkg__init="from tfds_bench.pkg import noise\n",
                     pkg__noise="from tfds_bench.pkg import ops\n", pkg__ops="")
  assert find_cycles(sibling) == []
  from_init = _modules(pkg__init="from tfds_bench.pkg import noise\napply = 1\n",
                       pkg__noise="from tfds_bench.pkg import apply\n")
  assert len(find_cycles(from_init)) == 2


def test_checker_flags_a_lazy_import_without_the_comment():
  modules = _modules(
      a="def f():\n  from tfds_bench import b\n  return b\n",
      b="import tensorflow as tf\n",
      c="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n  from tfds_bench import b\n",
      d="def f():\n  from tfds_bench import b  # lazy: torch\n")
  problems = find_lazy_problems(modules)
  assert len(problems) == 3, problems
  assert problems[0].startswith("tfds_bench/a.py:2: `from tfds_bench import b` [function]: "
                                "deferred import of tfds_bench.b without")
  assert problems[1].startswith("tfds_bench/c.py:3: `from tfds_bench import b` "
                                "[TYPE_CHECKING]: deferred import")
  assert "`# lazy: torch` is not one of" in problems[2]


def test_checker_flags_a_false_lazy_claim_and_accepts_true_ones():
  modules = _modules(
      light="import numpy as np\n",
      tf_via_try="try:\n  import keras\nexcept ImportError:\n  keras = None\n",
      chain="from tfds_bench import tf_via_try\n",
      lazy_chain="def f():\n  from tfds_bench import tfds_user  # lazy: tensorflow\n",
      tfds_user="import tensorflow_datasets as tfds\n",
      plots="import matplotlib.pyplot as plt\n",
      user=("def f():\n"
            "  from tfds_bench import light  # lazy: tensorflow\n"
            "  from tfds_bench import chain  # lazy: tensorflow\n"
            "  from tfds_bench import plots  # lazy: tensorflow\n"
            "  from tfds_bench import plots  # lazy: matplotlib\n"
            "  from tfds_bench import lazy_chain  # lazy: tensorflow\n"))
  problems = find_lazy_problems(modules)
  assert problems == [
      "tfds_bench/user.py:2: `from tfds_bench import light` [function]: claims "
      "`# lazy: tensorflow` but tfds_bench.light load(s) no heavy library at module level",
      "tfds_bench/user.py:4: `from tfds_bench import plots` [function]: claims "
      "`# lazy: tensorflow` but tfds_bench.plots load(s) matplotlib at module level",
      # lazy_chain loads tensorflow only inside a function.
      "tfds_bench/user.py:6: `from tfds_bench import lazy_chain` [function]: claims "
      "`# lazy: tensorflow` but tfds_bench.lazy_chain load(s) no heavy library at "
      "module level",
  ]


def test_checker_flags_builders_importing_the_scoring_side():
  files = {
      "builders/__init__.py": "",
      "builders/x/__init__.py": "",
      "builders/x/x_dataset_builder.py": (
          "from tfds_bench import labels\n"
          "from tfds_bench.scoring import imagenet_c\n"
          "def f():\n  import tfds_bench.benchmark_table\n"),
      "tfds_bench/labels.py": "",
      "tfds_bench/scoring/__init__.py": "",
      "tfds_bench/scoring/imagenet_c.py": "",
      "tfds_bench/benchmark_table.py": "",
      "tfds_bench/evaluate.py": "from tfds_bench import benchmark_table\n",
  }
  problems = find_builder_problems(load_modules(files))
  assert [p.split(" [")[0] for p in problems] == [
      "builders/x/x_dataset_builder.py:2: `from tfds_bench.scoring import imagenet_c`",
      "builders/x/x_dataset_builder.py:4: `import tfds_bench.benchmark_table`",
  ]


# The rules on the real package.


@pytest.fixture(scope="module")
def package_modules() -> dict[str, Module]:
  modules = load_modules(package_files())
  assert "tfds_bench.labels" in modules and BUILDERS in modules
  return modules


def test_checker_flags_an_import_up_the_table_and_an_unmapped_module():
  table = "\n".join([_TABLE_HEADER, "|---|---|---|", "| top | `a.py` | x |",
                      "| | `pkg/` | y |", "| low | `b.py`, `c.py` | z |", "", "text"])
  ranks = layer_ranks(table)
  assert ranks == {"tfds_bench.a": 0, "tfds_bench.pkg": 1, "tfds_bench.b": 2,
                   "tfds_bench.c": 2}
  modules = _modules(a="from tfds_bench import pkg\n", pkg__init__="", pkg__x="import tfds_bench.b\n",
                     b="import tfds_bench.c\n", c="def f():\n  from tfds_bench import a\n", d="")
  problems = find_layer_problems(modules, ranks)
  assert len(problems) == 2, problems
  assert "tfds_bench.c (row 2) imports tfds_bench.a, listed above it (row 0)" in problems[1]
  assert "tfds_bench.d is in no row" in problems[0]


def test_the_architecture_table_is_the_import_order(package_modules):
  problems = find_layer_problems(package_modules, layer_ranks(_ARCHITECTURE.read_text()))
  assert not problems, _report("imports go up docs/architecture.md's table", problems)


def test_no_import_cycles(package_modules):
  problems = find_cycles(package_modules)
  assert not problems, _report("imports close a cycle", problems)


def test_deferred_imports_of_our_modules_defer_a_heavy_library(package_modules):
  problems = find_lazy_problems(package_modules)
  assert not problems, _report("deferred imports lack a true `# lazy:` reason", problems)


def test_builders_do_not_import_scoring_or_the_table(package_modules):
  problems = find_builder_problems(package_modules)
  assert not problems, _report("builder imports of the scoring side", problems)
