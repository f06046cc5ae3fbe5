"""The 17 model-vs-human datasets as released: names, conditions, file names.

Facts from bethgelab/model-vs-human (MIT; `datasets/experiments.py`,
`datasets/info_mappings.py`, `helper/plotting_helper.py`,
`plotting/plot.py`, `plotting/analyses.py`; the v0.1 release tarballs
`<name>.tar.gz`) and its `raw-data/` CSVs. Shared by the builder
(`bench_model_vs_human`), the human-data reader and the scorer; no
TensorFlow, no scoring.

Two layouts inside `<name>.tar.gz`:

* ``sessions`` (the 12 parametric sets, sketch, stylized):
  `<name>/dnn/session-<k>/<file>`, the file named
  `<trial>_<code>_s<kk>_<condition>_<category>_<nn>_<image id>` (the image id
  may contain `_`, e.g. `n02102480_5452.png`). The human CSVs' `imagename`
  has the same form.
* ``class_folders`` (edge, silhouette, cue-conflict):
  `<name>/<category>/<image id>`; one condition, which the human CSVs call
  `0`. Cue-conflict image ids are `<shape><i>-<texture><j>.png`.

A trial is matched across observers on (condition, image id): the image id
is what the reference's `get_short_imagename` keeps.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional, Tuple

# The 16 categories in the reference's (sorted) order; a category's index
# is its position here and in label space `model_vs_human_16`.
CATEGORIES = ("airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
              "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck")
CATEGORY_INDEX = {name: i for i, name in enumerate(CATEGORIES)}
SESSIONS = "sessions"
CLASS_FOLDERS = "class_folders"
# The one condition of the non-parametric sets, as the human CSVs write it.
SINGLE_CONDITION = "0"
RELEASE_URL = "https://github.com/bethgelab/model-vs-human/releases/download/v0.1/{name}.tar.gz"


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One of the 17 datasets.

  Attributes:
    name: the release name (`<name>.tar.gz`, `raw-data/<name>/`).
    layout: `SESSIONS` or `CLASS_FOLDERS`.
    conditions: the conditions as the file names write them, in the
      reference's plotting order.
    excluded: conditions the reference's benchmark leaves out of the
      dataset's figure (no distortion, or mean human accuracy below 0.2).
    description: one line.
  """
  name: str
  layout: str
  conditions: Tuple[str, ...]
  excluded: Tuple[str, ...]
  description: str

  @property
  def included(self) -> Tuple[str, ...]:
    return tuple(c for c in self.conditions if c not in self.excluded)

  @property
  def archive_name(self) -> str:
    return f"{self.name}.tar.gz"


def _eidolon(coherence: str) -> Tuple[str, ...]:
  return tuple(f"{2 ** k}-{coherence}-10" for k in range(8))


_ONE = (SINGLE_CONDITION,)
DATASETS = (
    Dataset("colour", SESSIONS, ("cr", "bw"), ("cr",), "colour vs greyscale"),
    Dataset("contrast", SESSIONS,
            ("c100", "c50", "c30", "c15", "c10", "c05", "c03", "c01"),
            ("c100", "c03", "c01"), "contrast reduced to 100% ... 1%"),
    Dataset("eidolonI", SESSIONS, _eidolon("10"),
            ("1-10-10", "64-10-10", "128-10-10"), "Eidolon distortion, coherence 1.0"),
    Dataset("eidolonII", SESSIONS, _eidolon("3"),
            ("1-3-10", "32-3-10", "64-3-10", "128-3-10"), "Eidolon distortion, coherence 0.3"),
    Dataset("eidolonIII", SESSIONS, _eidolon("0"),
            ("1-0-10", "16-0-10", "32-0-10", "64-0-10", "128-0-10"),
            "Eidolon distortion, coherence 0.0"),
    Dataset("false-colour", SESSIONS, ("true", "false"), ("true",),
            "true vs opponent colour"),
    Dataset("high-pass", SESSIONS, ("inf", "3", "1.5", "1", "0.7", "0.55", "0.45", "0.4"),
            ("inf", "0.55", "0.45", "0.4"), "high-pass filter, standard deviation"),
    Dataset("low-pass", SESSIONS, ("0", "1", "3", "5", "7", "10", "15", "40"),
            ("0", "15", "40"), "low-pass filter (blur), standard deviation"),
    Dataset("phase-scrambling", SESSIONS, ("0", "30", "60", "90", "120", "150", "180"),
            ("0", "150", "180"), "phase noise width in degrees"),
    Dataset("power-equalisation", SESSIONS, ("0", "pow"), ("0",),
            "original vs equalised power spectrum"),
    Dataset("rotation", SESSIONS, ("0", "90", "180", "270"), ("0",),
            "rotation in degrees"),
    Dataset("uniform-noise", SESSIONS,
            ("0.00", "0.03", "0.05", "0.10", "0.20", "0.35", "0.60", "0.90"),
            ("0.00", "0.60", "0.90"), "uniform noise width"),
    Dataset("sketch", SESSIONS, _ONE, (), "ImageNet-Sketch drawings"),
    Dataset("stylized", SESSIONS, _ONE, (), "Stylized-ImageNet images"),
    Dataset("edge", CLASS_FOLDERS, _ONE, (), "edge maps (texture-vs-shape)"),
    Dataset("silhouette", CLASS_FOLDERS, _ONE, (), "filled silhouettes (texture-vs-shape)"),
    Dataset("cue-conflict", CLASS_FOLDERS, _ONE, (),
            "texture-shape cue conflict (style transfer)"),
)
BY_NAME = {d.name: d for d in DATASETS}
NAMES = tuple(d.name for d in DATASETS)
CUE_CONFLICT = "cue-conflict"


def get(name: str) -> Dataset:
  if name not in BY_NAME:
    raise KeyError(f"unknown model-vs-human dataset {name!r}; known: {', '.join(NAMES)}")
  return BY_NAME[name]


@dataclasses.dataclass(frozen=True)
class ImageInfo:
  """What a file name says: condition, category, image id, texture category
  (cue-conflict only, else None)."""
  condition: str
  category: str
  image_id: str
  texture: Optional[str] = None


_SESSION_NAME = re.compile(r"^[^_]+_[^_]+_[^_]+_(?P<condition>[^_]+)_(?P<category>[^_]+)_"
                           r"[^_]+_(?P<image_id>.+)$")


def texture_category(image_id: str) -> str:
  """The texture category of a cue-conflict image id: `dog10-bird2.png` -> bird."""
  stem = image_id.rsplit("/", 1)[-1].split(".")[0]
  return "".join(ch for ch in stem.split("-")[-1] if not ch.isdigit())


def parse_session_name(file_name: str) -> ImageInfo:
  """Condition, category and image id of a `sessions`-layout file name (or a
  human CSV's `imagename`). Raises ValueError on another form."""
  match = _SESSION_NAME.match(file_name.rsplit("/", 1)[-1])
  if not match:
    raise ValueError(
        f"{file_name!r} is not <trial>_<code>_<subject>_<condition>_<category>_<nn>_<image>")
  return ImageInfo(match["condition"], match["category"], match["image_id"])


def image_info(dataset: Dataset, file_name: str, folder: Optional[str] = None) -> ImageInfo:
  """What a dataset's image file (or human trial's `imagename`) says.

  ``folder``: the class folder of a `class_folders` member (None for a
  human CSV's `imagename`, which is in the sessions form for every dataset).
  Raises ValueError on an unknown category or condition.
  """
  if folder is None:
    info = parse_session_name(file_name)
  else:
    info = ImageInfo(SINGLE_CONDITION, folder, file_name.rsplit("/", 1)[-1])
  if info.category not in CATEGORY_INDEX:
    raise ValueError(f"{file_name!r}: category {info.category!r} is not one of the 16")
  if info.condition not in dataset.conditions:
    raise ValueError(f"{file_name!r}: condition {info.condition!r} is not one of "
                     f"{dataset.name}'s {', '.join(dataset.conditions)}")
  if dataset.name == CUE_CONFLICT:
    texture = texture_category(info.image_id)
    if texture not in CATEGORY_INDEX:
      raise ValueError(f"{file_name!r}: texture category {texture!r} is not one of the 16")
    info = dataclasses.replace(info, texture=texture)
  return info


def file_info(dataset: Dataset, file_name: str) -> ImageInfo:
  """What a builder example's `file_name` says: `session-<k>/<file>` in the
  sessions layout, `<category>/<image id>` in the class-folder layout."""
  if dataset.layout == CLASS_FOLDERS:
    folder, _, base = file_name.rpartition("/")
    if not folder:
      raise ValueError(f"{file_name!r}: expected <category>/<image> for {dataset.name}")
    return image_info(dataset, base, folder=folder.rsplit("/", 1)[-1])
  return image_info(dataset, file_name)
