"""tfds_bench: a TensorFlow-Datasets-native ImageNet robustness benchmark suite.

Importing the package registers every builder of `tfds_bench.builders` with
TFDS, lazily: at once if TFDS is already imported, else right after TFDS is
(the builders import TFDS and TensorFlow, which `bench_main --help` and the
scoring side never need). So `import tfds_bench` then `tfds.load(
"bench_imagenet_v2/matched-frequency")` works in either import order, and
`tfds build --imports=tfds_bench` finds the builders.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

__version__ = "0.1.0"

_TFDS = "tensorflow_datasets"
_BUILDERS = "tfds_bench.builders"


class _RegisteringLoader(importlib.machinery.SourceFileLoader):
  """TFDS's own loader, registering our builders once TFDS has loaded."""

  def exec_module(self, module):
    super().exec_module(module)
    importlib.import_module(_BUILDERS)


class _RegisterAfterTfds(importlib.abc.MetaPathFinder):
  """Finds TFDS as usual, with a loader that registers our builders after it.

  Removes itself on first use, so it acts once per process.
  """

  def find_spec(self, fullname, path=None, target=None):
    del path, target  # Unused: the normal finders are asked.
    if fullname != _TFDS:
      return None
    sys.meta_path.remove(self)
    spec = importlib.util.find_spec(fullname)
    if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:  # pylint: disable=unidiomatic-typecheck
      spec.loader = _RegisteringLoader(spec.loader.name, spec.loader.path)
    return spec


if _TFDS in sys.modules:
  importlib.import_module(_BUILDERS)
elif not any(isinstance(f, _RegisterAfterTfds) for f in sys.meta_path):
  sys.meta_path.insert(0, _RegisterAfterTfds())
