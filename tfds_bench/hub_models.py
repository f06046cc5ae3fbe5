"""Classifiers users hold for keras_hub: preset folders, timm and Transformers
folders, keras_hub preset names and ``kaggle://`` / ``hf://`` handles.

keras_hub loads all of them (`keras_hub.models.ImageClassifier.from_preset`;
its loader picks the format from ``config.json``: ``registered_name`` = a
Keras preset, ``architecture`` = timm, ``model_type`` = Transformers). This
module reads the same JSON files, without TensorFlow, to say before anything
loads how each model wants its images (`HubModel.preprocessing`), how many
classes its head has and, for timm, which published row it is:

* a Keras preset: its image converter (``image_converter.json``): size,
  scale / offset, interpolation, antialias, crop to aspect ratio, exactly as
  keras_hub's ``predict`` applies them (Keras's ``Resizing``: the crop's odd
  pixel below / right, no clamp after a bicubic resize);
* timm: ``pretrained_cfg`` as timm's validation applies it: ``crop_pct`` and
  ``crop_mode`` (which keras_hub's timm converter ignores), interpolation,
  mean / std, an antialiased resize as PIL's;
* Transformers: ``preprocessor_config.json`` (the image processor): size,
  optional centre crop, resample, rescale factor, mean / std.

keras_hub (and TensorFlow) load only to fetch a handle's files and to build
the model; a missing ``[hub]`` extra is one error naming it.
"""

from __future__ import annotations

import dataclasses
import glob
import importlib.util
import json
import os
import re
from typing import Dict, Optional, Tuple

from tfds_bench import errors, published
from tfds_bench.preprocessing_spec import Preprocessing

EXTRA = 'pip install "tfds_bench[hub]"'
HANDLE_PREFIXES = ("kaggle://", "hf://")
CONFIG_FILE = "config.json"

KERAS_PRESET, TIMM, TRANSFORMERS = "keras_hub preset", "timm", "transformers"

# PIL's resample codes, as Hugging Face image processors store them.
_PIL_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}
# keras_hub's timm converter falls back to bilinear for any other interpolation.
_TIMM_INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


@dataclasses.dataclass(frozen=True)
class HubModel:
  """A keras_hub-loadable classifier, described from its JSON files.

  Attributes:
    preset: what `from_preset` is given: a folder, a preset name or a handle.
    kind: KERAS_PRESET, TIMM or TRANSFORMERS.
    name: the model's name in results (folder name, preset name, handle tail).
    preprocessing: how it wants its images (see the module doc).
    num_classes: classes of its head (1000; others are refused).
    output: "logits" or "probabilities" (a head with a softmax).
    published_match: for timm, the published row of its architecture.
    details: what the provenance records about it.
  """
  preset: str
  kind: str
  name: str
  preprocessing: Preprocessing
  num_classes: int
  output: str
  published_match: Optional[published.Match]
  details: Dict[str, object]


def is_handle(name: str) -> bool:
  """``kaggle://...`` or ``hf://...``: a keras_hub handle, not a path."""
  return name.lower().startswith(HANDLE_PREFIXES)


def is_installed() -> bool:
  return all(importlib.util.find_spec(m) is not None for m in ("keras_hub", "safetensors"))


def require_installed(what: str) -> None:
  if not is_installed():
    missing = [m for m in ("keras_hub", "safetensors") if importlib.util.find_spec(m) is None]
    raise errors.UserError(f"{what} loads through keras_hub, which is not installed "
                           f"(missing: {', '.join(missing)}): {EXTRA}")


def is_preset_name(name: str) -> bool:
  """Whether keras_hub names a built-in preset ``name`` (any task: `describe`
  refuses what is not an image classifier). Read from keras_hub's preset
  tables (``src/models/*/*_presets.py``, dicts keyed by preset name) as text,
  so that a flag check loads no TensorFlow."""
  spec = importlib.util.find_spec("keras_hub")
  if spec is None or not spec.submodule_search_locations or not re.fullmatch(r"[\w.-]+", name):
    return False
  key = re.compile(rf'^\s*"{re.escape(name)}"\s*:\s*\{{', re.M)
  for root in spec.submodule_search_locations:
    for path in glob.glob(os.path.join(root, "src", "models", "*", "*_presets.py")):
      with open(path, encoding="utf-8") as f:
        if key.search(f.read()):
          return True
  return False


def _cache_help(preset: str) -> str:
  """Where keras_hub keeps a handle's files, and how to get them there."""
  if preset.lower().startswith("hf://"):
    cache = os.path.join(os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")),
                         "hub")
    cache = os.environ.get("HF_HUB_CACHE", cache)
  else:
    cache = os.environ.get("KAGGLEHUB_CACHE", os.path.expanduser("~/.cache/kagglehub"))
  return (f"not in keras_hub's cache ({cache}) and not downloadable here; on a machine with "
          f"internet run `python -c \"import keras_hub; keras_hub.models.ImageClassifier."
          f"from_preset('{preset}')\"` and copy {cache} to the same place here, or pass "
          "the downloaded folder as --model=DIR")


_HF_HOST = "huggingface.co"


def _network_reaches(host: str) -> bool:
  """Whether ``host`` resolves: without it, a download can only fail (after
  huggingface_hub's retries, tens of seconds)."""
  import socket  # pylint: disable=g-import-not-at-top
  try:
    socket.getaddrinfo(host, 443)
  except OSError:
    return False
  return True


def _prefer_cache_offline(preset: str) -> None:
  """For an ``hf://`` handle with no network, huggingface_hub reads its cache
  only (HF_HUB_OFFLINE, read when it is first imported) instead of retrying."""
  import sys  # pylint: disable=g-import-not-at-top
  if (preset.lower().startswith("hf://") and "huggingface_hub" not in sys.modules
      and not _network_reaches(_HF_HOST)):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


class _Files:
  """The JSON files of a preset: read from a folder, or through keras_hub's
  ``get_file`` (its cache, else a download) for a name or handle."""

  def __init__(self, preset: str, folder: bool):
    self.preset, self.folder = preset, folder

  def exists(self, name: str) -> bool:
    if self.folder:
      return os.path.isfile(os.path.join(self.preset, name))
    try:
      self._fetch(name)
    except FileNotFoundError:
      return False
    return True

  def _fetch(self, name: str) -> str:
    _prefer_cache_offline(self.preset)
    if self.preset.lower().startswith("hf://") and not _network_reaches(_HF_HOST):
      import huggingface_hub  # pylint: disable=g-import-not-at-top
      cached = huggingface_hub.try_to_load_from_cache(self.preset[len("hf://"):], name)
      if isinstance(cached, str):
        return cached
      raise errors.UserError(f"--model={self.preset}: {_cache_help(self.preset)} (no network)")
    from keras_hub.src.utils import preset_utils  # pylint: disable=g-import-not-at-top
    try:
      return preset_utils.get_file(self.preset, name)
    except FileNotFoundError:
      if name == CONFIG_FILE:
        raise errors.UserError(f"--model={self.preset}: it has no config.json, so it is not "
                               "a model keras_hub loads") from None
      raise
    except errors.UserError:
      raise
    except Exception as e:  # pylint: disable=broad-except  # kagglehub / HF raise many kinds
      raise errors.UserError(f"--model={self.preset}: {_cache_help(self.preset)} "
                             f"({type(e).__name__})") from None

  def json(self, name: str) -> dict:
    path = os.path.join(self.preset, name) if self.folder else self._fetch(name)
    try:
      with open(path, encoding="utf-8") as f:
        payload = json.load(f)
    except FileNotFoundError:
      raise errors.UserError(f"{self.preset}: no {name}; a keras_hub preset holds "
                             "config.json beside its weights") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
      raise errors.DamagedInputError(f"{path}: not valid JSON ({e}); download or save "
                                     "the model again") from None
    if not isinstance(payload, dict):
      raise errors.DamagedInputError(f"{path}: expected a JSON object, got "
                                     f"{type(payload).__name__}")
    return payload


def describe(preset: str) -> HubModel:
  """The `HubModel` of a folder, keras_hub preset name or handle.

  A folder is read without TensorFlow; a name or handle loads keras_hub to
  find its files (cache first). Raises UserError for what the suite cannot
  evaluate: not an image classifier, a head of other than 1000 classes, no
  declared preprocessing, an unsupported crop mode.
  """
  folder = os.path.isdir(preset)
  if folder:
    if not os.path.isfile(os.path.join(preset, CONFIG_FILE)):
      raise errors.UserError(
          f"{preset}: a model folder needs config.json (a keras_hub preset saved with "
          "save_to_preset, a timm or a Transformers folder); this one has none")
    name = os.path.basename(os.path.normpath(preset))
  else:
    require_installed(f"--model={preset}")
    name = preset.split("://", 1)[-1].rstrip("/").replace("/", "_")
  files = _Files(preset, folder)
  config = files.json(CONFIG_FILE)
  if "registered_name" in config:
    model = _keras_preset(preset, name, files, config)
  elif "model_type" in config:
    model = _transformers(preset, name, files, config)
  elif "architecture" in config:
    model = _timm(preset, name, config)
  else:
    raise errors.UserError(
        f"{preset}: config.json has none of registered_name (a keras_hub preset), "
        "architecture (timm) or model_type (Transformers); it is not a model keras_hub loads")
  if model.num_classes != 1000:
    raise errors.UserError(
        f"{preset}: its head has {model.num_classes} classes; the suite scores ImageNet-1k "
        "classifiers (1000 classes): use the model's 1000-class fine-tuned version")
  return model


def _keras_preset(preset, name, files: _Files, config) -> HubModel:
  if not files.exists("task.json"):
    raise errors.UserError(f"{preset}: a keras_hub backbone without a classifier task "
                           "(no task.json); save the ImageClassifier with save_to_preset")
  task = files.json("task.json")
  task_class = str(task.get("class_name", ""))
  task_config = task.get("config") or {}
  if not task_class.endswith("ImageClassifier") or "num_classes" not in task_config:
    raise errors.UserError(f"{preset}: task.json holds a {task_class or 'task'}, not an "
                           "ImageClassifier; the suite evaluates image classifiers")
  if not files.exists("image_converter.json"):
    raise errors.UserError(f"{preset}: no image_converter.json, so nothing says how the "
                           "model wants its images; save the classifier with its "
                           "preprocessor (ImageClassifier(..., preprocessor=...))")
  converter = files.json("image_converter.json").get("config") or {}
  preprocessing = converter_preprocessing(converter, where=f"{preset}/image_converter.json")
  activation = task_config.get("activation")
  return HubModel(
      preset=preset, kind=KERAS_PRESET, name=name, preprocessing=preprocessing,
      num_classes=int(task_config["num_classes"]),
      output="probabilities" if activation == "softmax" else "logits",
      published_match=None,
      details={"format": KERAS_PRESET, "preset": preset, "task": task_class,
               "image_converter": {k: converter.get(k) for k in (
                   "image_size", "scale", "offset", "interpolation", "antialias",
                   "crop_to_aspect_ratio", "pad_to_aspect_ratio")}})


def converter_preprocessing(converter: dict, where: str) -> Preprocessing:
  """A keras_hub ImageConverter's config as the `Preprocessing` that gives the
  same model input: Keras's ``Resizing`` (centre crop to the aspect ratio,
  odd pixel below / right, no clamp), then ``x * scale + offset``."""
  size = converter.get("image_size")
  if not size or len(size) != 2 or size[0] != size[1] or not size[0]:
    raise errors.UserError(f"{where}: image_size {size!r}; the suite feeds square images "
                           "of a fixed size")
  if converter.get("pad_to_aspect_ratio"):
    raise errors.UserError(f"{where}: pad_to_aspect_ratio is not supported; the suite "
                           "crops to the aspect ratio or squashes")
  if converter.get("interpolation") not in ("bilinear", "bicubic", "nearest"):
    raise errors.UserError(f"{where}: interpolation {converter.get('interpolation')!r} is "
                           "not supported (bilinear, bicubic, nearest)")
  scale, offset = _per_channel(converter.get("scale"), 1.0), _per_channel(converter.get("offset"), 0.0)
  if any(s == 0 for s in scale):
    raise errors.UserError(f"{where}: a scale of 0 erases the image")
  # x * scale + offset == (x - mean) / std with std = 1 / scale, mean = -offset / scale.
  return Preprocessing(
      input_size=int(size[0]), crop_fraction=1.0, resize_method=converter["interpolation"],
      mean=tuple(-o / s for o, s in zip(offset, scale)), std=tuple(1.0 / s for s in scale),
      antialias=bool(converter.get("antialias", False)),
      crop_mode="center" if converter.get("crop_to_aspect_ratio", True) else "squash",
      center_rounding="down", clip=False)


def _per_channel(value, default: float) -> Tuple[float, float, float]:
  if value is None:
    return (default,) * 3
  if isinstance(value, (int, float)):
    return (float(value),) * 3
  values = tuple(float(v) for v in value)
  return values if len(values) == 3 else (values[0],) * 3


def _timm(preset, name, config) -> HubModel:
  cfg = config.get("pretrained_cfg") or {}
  where = f"{preset}/config.json"
  if "input_size" not in cfg:
    raise errors.UserError(f"{where}: pretrained_cfg has no input_size, so nothing says how "
                           "the model wants its images; save the folder with timm's "
                           "save_for_hf / push_to_hf_hub")
  size = cfg["input_size"][-2:]
  if size[0] != size[1]:
    raise errors.UserError(f"{where}: input_size {cfg['input_size']} is not square")
  crop_mode = cfg.get("crop_mode", "center")
  if crop_mode not in ("center", "squash"):
    raise errors.UserError(f"{where}: crop_mode {crop_mode!r} (timm pads the image) is not "
                           "supported; center and squash are")
  crop_pct = float(cfg.get("crop_pct") or 0.875)  # timm's default when unset
  interpolation = cfg.get("interpolation", "bilinear")
  # keras_hub's timm converter resizes other interpolations bilinearly: so does the suite.
  resize = interpolation if interpolation in _TIMM_INTERPOLATIONS else "bilinear"
  mean = tuple(255.0 * float(m) for m in cfg.get("mean", (0.485, 0.456, 0.406)))
  std = tuple(255.0 * float(s) for s in cfg.get("std", (0.229, 0.224, 0.225)))
  preprocessing = Preprocessing(
      input_size=int(size[0]), crop_fraction=min(crop_pct, 1.0), resize_method=resize,
      mean=mean, std=std, antialias=True, crop_mode=crop_mode)
  architecture = str(config["architecture"])
  match = published.match_timm(architecture, cfg.get("tag"), int(size[0]))
  return HubModel(
      preset=preset, kind=TIMM, name=f"{architecture}.{cfg['tag']}" if cfg.get("tag") else name,
      preprocessing=preprocessing,
      num_classes=int(config.get("num_classes", cfg.get("num_classes", 1000))),
      output="logits", published_match=match,
      details={"format": TIMM, "preset": preset, "architecture": architecture,
               "tag": cfg.get("tag"),
               "pretrained_cfg": {k: cfg.get(k) for k in (
                   "input_size", "crop_pct", "crop_mode", "interpolation", "mean", "std")},
               "published_row": match.describe()})


def _transformers(preset, name, files: _Files, config) -> HubModel:
  architectures = config.get("architectures") or []
  if not any("ForImageClassification" in a for a in architectures):
    raise errors.UserError(f"{preset}: a Transformers {config.get('model_type')} model "
                           f"({', '.join(architectures) or 'no architectures'}), not "
                           "...ForImageClassification; the suite evaluates image classifiers")
  where = f"{preset}/preprocessor_config.json"
  if not files.exists("preprocessor_config.json"):
    raise errors.UserError(f"{preset}: no preprocessor_config.json, so nothing says how the "
                           "model wants its images; save the image processor beside the model")
  processor = files.json("preprocessor_config.json")
  size = processor.get("size", config.get("image_size"))
  if isinstance(size, int):
    size = {"height": size, "width": size}
  crop = processor.get("crop_size") if processor.get("do_center_crop") else None
  if isinstance(crop, int):
    crop = {"height": crop, "width": crop}
  if "shortest_edge" in (size or {}):
    # Shorter side to size, then a centre crop of crop_size: a centre square.
    if not crop or crop["height"] != crop["width"]:
      raise errors.UserError(f"{where}: resizing the shortest edge needs a square crop_size")
    input_size, crop_fraction, crop_mode = crop["height"], crop["height"] / size["shortest_edge"], "center"
  elif size and "height" in size and size["height"] == size["width"]:
    # Resized to height x width (aspect ratio not kept), then optionally cropped.
    input_size, crop_fraction, crop_mode = size["height"], 1.0, "squash"
    if crop:
      input_size, crop_fraction = crop["height"], crop["height"] / size["height"]
  else:
    raise errors.UserError(f"{where}: size {size!r} is not supported (a square "
                           "height/width or shortest_edge with crop_size)")
  resample = _PIL_RESAMPLE.get(processor.get("resample", 2))
  if resample is None:
    raise errors.UserError(f"{where}: resample {processor.get('resample')!r} is not "
                           "supported (0 nearest, 2 bilinear, 3 bicubic)")
  rescale = float(processor.get("rescale_factor", 1 / 255)) if processor.get("do_rescale", True) else 1.0
  mean = processor.get("image_mean", (0.5, 0.5, 0.5)) if processor.get("do_normalize", True) else (0.0,) * 3
  std = processor.get("image_std", (0.5, 0.5, 0.5)) if processor.get("do_normalize", True) else (1.0,) * 3
  preprocessing = Preprocessing(
      input_size=int(input_size), crop_fraction=min(float(crop_fraction), 1.0),
      resize_method=resample, mean=tuple(float(m) / rescale for m in _per_channel(mean, 0.0)),
      std=tuple(float(s) / rescale for s in _per_channel(std, 1.0)), antialias=True,
      crop_mode=crop_mode)
  labels = config.get("id2label") or {}
  return HubModel(
      preset=preset, kind=TRANSFORMERS, name=name, preprocessing=preprocessing,
      num_classes=len(labels) if labels else int(config.get("num_labels", 0)),
      output="logits", published_match=None,
      details={"format": TRANSFORMERS, "preset": preset, "model_type": config.get("model_type"),
               "architectures": architectures,
               "image_processor": {k: processor.get(k) for k in (
                   "size", "do_center_crop", "crop_size", "resample", "rescale_factor",
                   "image_mean", "image_std")}})


def build(model: HubModel):
  """The Keras classifier (backbone and head; images go in preprocessed).

  keras_hub's own image converter of the loaded model is checked against
  `HubModel.preprocessing` (size, scale, offset), so the two cannot drift.
  """
  require_installed(f"--model={model.preset}")
  import keras_hub  # pylint: disable=g-import-not-at-top
  try:
    classifier = keras_hub.models.ImageClassifier.from_preset(model.preset)
  except errors.UserError:
    raise
  except Exception as e:  # pylint: disable=broad-except  # keras_hub raises many kinds
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    if not os.path.isdir(model.preset) and _is_network_error(e):
      raise errors.UserError(f"--model={model.preset}: {_cache_help(model.preset)} "
                             f"({type(e).__name__})") from None
    raise errors.DamagedInputError(
        f"{model.preset}: keras_hub could not load it as an ImageClassifier ({type(e).__name__}: "
        f"{reason}); check the folder's files or download it again") from None
  _check_converter(model, classifier)
  return classifier


def _is_network_error(error: BaseException) -> bool:
  """A download that failed for want of a network (anywhere in the chain of
  causes: keras_hub re-raises kagglehub's and huggingface_hub's errors)."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    name = type(error).__name__
    if (isinstance(error, (ConnectionError, TimeoutError)) or "Connect" in name
        or "Timeout" in name or name == "LocalEntryNotFoundError"):
      return True
    error = error.__cause__ or error.__context__
  return False


def _check_converter(model: HubModel, classifier) -> None:
  converter = getattr(getattr(classifier, "preprocessor", None), "image_converter", None)
  if converter is None or model.kind != KERAS_PRESET:
    return  # timm and Transformers: the suite applies the checkpoint's own files
  expected = converter_preprocessing(converter.get_config(), where=model.preset)
  if expected != model.preprocessing:
    raise errors.DamagedInputError(
        f"{model.preset}: image_converter.json says {model.preprocessing} but the loaded "
        f"converter says {expected}; save the preset again")



def keras_hub_preprocessing(model: HubModel) -> Preprocessing:
  """What keras_hub's own ``predict`` does to images for this model
  (``--preprocessing=keras_hub``): a Keras preset's converter as it is; for
  timm, keras_hub's timm converter, which keeps size, mean / std and
  interpolation but not ``crop_pct`` / ``crop_mode`` (the whole centre square,
  no antialias)."""
  if model.kind == KERAS_PRESET:
    return model.preprocessing
  if model.kind == TIMM:
    spec = model.preprocessing
    return dataclasses.replace(spec, crop_fraction=1.0, crop_mode="center", antialias=False,
                               center_rounding="down", clip=False)
  raise errors.UserError(f"{model.preset}: keras_hub has no image converter for this "
                         "Transformers model; use its own preprocessing (drop --preprocessing)")
