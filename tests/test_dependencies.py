"""Dependencies as used: what `pip install .` brings, and the shipped data files.

`pip install .` cannot run offline here, so the check is on what pip would
resolve: setup.py's install_requires (read with `ast`) expanded through the
installed distributions' own requirements (markers evaluated, extras not
followed). It fails if anything on that closure is OpenCV or imagecorruptions,
or if a module our code imports is not declared.
"""

import ast
import hashlib
import importlib.metadata
import importlib.resources
import pathlib
import re
import sys

import pytest

from tfds_bench import shipped_files

REPO = pathlib.Path(__file__).resolve().parent.parent
FORBIDDEN_AT_RUNTIME = {"opencv-python", "opencv-python-headless", "opencv-contrib-python",
                        "imagecorruptions", "scikit-image", "scikit-learn", "dill"}


def _setup_keywords():
  tree = ast.parse((REPO / "setup.py").read_text())
  for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "setup":
      return {k.arg: ast.literal_eval(k.value) for k in node.keywords
              if k.arg in ("install_requires", "extras_require")}
  raise AssertionError("no setuptools.setup(...) call in setup.py")


def _name(requirement: str) -> str:
  return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _marker_holds(requirement: str) -> bool:
  if ";" not in requirement:
    return True
  marker = requirement.split(";", 1)[1]
  if "extra" in marker:
    return False
  from packaging.markers import Marker  # pylint: disable=g-import-not-at-top
  return Marker(marker).evaluate()


def _runtime_closure():
  todo = [_name(r) for r in _setup_keywords()["install_requires"]]
  seen = set()
  while todo:
    name = todo.pop()
    if name in seen:
      continue
    seen.add(name)
    try:
      requires = importlib.metadata.requires(name) or []
    except importlib.metadata.PackageNotFoundError:
      continue  # not installed here: its own requirements are unknown
    todo.extend(_name(r) for r in requires if _marker_holds(r))
  return seen


def test_install_requires_declares_what_is_imported_and_nothing_test_only():
  declared = {_name(r) for r in _setup_keywords()["install_requires"]}
  assert {"pillow", "scipy"} <= declared
  assert not declared & FORBIDDEN_AT_RUNTIME


def test_pip_install_dot_brings_no_opencv_nor_imagecorruptions():
  closure = _runtime_closure()
  assert "tensorflow" in closure and "numpy" in closure  # the walk is real
  assert not closure & FORBIDDEN_AT_RUNTIME, closure & FORBIDDEN_AT_RUNTIME


def test_every_third_party_import_of_the_package_is_declared():
  keywords = _setup_keywords()
  declared = {_name(r) for r in keywords["install_requires"]}
  extras = {_name(r) for reqs in keywords["extras_require"].values() for r in reqs}
  distributions = importlib.metadata.packages_distributions()
  missing = {}
  files = [p for p in list((REPO / "tfds_bench").rglob("*.py")) + list((REPO / "builders").rglob("*.py"))
           if not p.name.endswith("_test.py") and p.name != "subset_builder_testing.py"]
  for path in files:
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Import):
        tops = [a.name.split(".")[0] for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        tops = [node.module.split(".")[0]]
      else:
        continue
      for top in tops:
        if top in sys.stdlib_module_names or top == "tfds_bench":
          continue
        dists = {_name(d) for d in distributions.get(top, [top])}
        # Declared directly or as an extra (beam, video).
        if not dists & (declared | extras):
          missing.setdefault(top, []).append(str(path.relative_to(REPO)))
  assert not missing, f"imported but not declared in setup.py: {missing}"


def _frost_dir():
  return importlib.resources.files("tfds_bench.corruptions") / "frost"


def _photos_dir():
  return REPO / "builders" / "bench_sample" / "photos"


@pytest.mark.parametrize("folder", [_frost_dir, _photos_dir], ids=["frost", "photos"])
def test_shipped_files_match_their_checksums(folder):
  root = folder()
  sums = shipped_files.checksums(root)
  shipped = sorted(p.name for p in root.iterdir()
                   if p.name.endswith((".png", ".jpg")))
  assert sorted(sums) == shipped
  for name, digest in sums.items():
    assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest
    assert shipped_files.read_checked(root, name)
  assert (root / "LICENSE.md").is_file()


def test_frost_textures_byte_identical_to_imagecorruptions():
  pytest.importorskip("imagecorruptions")
  reference = importlib.resources.files("imagecorruptions") / "frost"
  for name in shipped_files.checksums(_frost_dir()):
    assert (_frost_dir() / name).read_bytes() == (reference / name).read_bytes(), name


def test_damaged_shipped_file_is_refused_with_its_name(tmp_path):
  from tfds_bench import errors  # pylint: disable=g-import-not-at-top
  (tmp_path / "a.png").write_bytes(b"abc")
  (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  a.png\n")
  with pytest.raises(errors.DamagedInputError, match=r"a\.png has sha256 .* reinstall"):
    shipped_files.read_checked(tmp_path, "a.png")
  with pytest.raises(errors.DamagedInputError, match=r"b\.png is not listed"):
    shipped_files.read_checked(tmp_path, "b.png")
