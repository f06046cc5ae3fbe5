"""TFDS builders of tfds_bench; importing this package registers all of them.

Installed as ``tfds_bench.builders`` (see setup.py's package_dir). Each
sub-folder ``<name>/`` follows TFDS's convention and holds
``<name>_dataset_builder.py`` defining ``class Builder``; TFDS registers the
builder under ``<name>`` when that module is imported.
"""

import importlib
import pkgutil


def _register_all() -> tuple:
  names = []
  for info in pkgutil.iter_modules(__path__):
    if info.ispkg:
      importlib.import_module(f"{__name__}.{info.name}.{info.name}_dataset_builder")
      names.append(info.name)
  return tuple(sorted(names))


if __name__ == "tfds_bench.builders":
  BUILDER_NAMES = _register_all()
else:
  # Imported under another name (pytest collects builders/ as a package named
  # "builders"): registering again here would make TFDS see every builder
  # twice, so defer to the installed name.
  from tfds_bench.builders import BUILDER_NAMES  # pylint: disable=g-import-not-at-top
