"""Per-example predictions: what a forward pass keeps, and what metrics read.

A model's 1000 scores per image are reduced, in the same TF step as the forward
pass, to a compact record: the 1000-way top-5, the max softmax probability,
and the same two in each label space the chosen benchmarks score in
(`tfds_bench.label_spaces`: ImageNet-A, -O and -R by argmax over their 200
classes' logits; model-vs-human's 16 categories by mean probability) and,
where a chosen row reads them, per-image OOD scores from the logits (max
logit, energy: `LOGIT_OOD_SCORES`). Metrics are then pure functions of these
arrays, so a model run and a saved ``--predictions`` file are scored by the
same code.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tfds_bench import errors, label_spaces, labels
from tfds_bench.metrics import openood as openood_metrics

TOP_K = 5
# Position of an example in its source, in ``Predictions.extras`` of a model
# run: shard files are merged back into source order by it.
EXAMPLE_ID = "example_id"
# |sum - 1| allowed for a row of saved probabilities (float16 keeps ~3 digits).
PROBABILITY_SUM_TOLERANCE = 1e-2
# Per-image OOD scores computed from the logits when a chosen row reads them
# (`Benchmark.ood_scores`); MSP is ``confidence``, kept for every run. Only
# for logits: from a probabilities model (or a ``probs`` file) the largest
# "logit" would be log MSP and the energy log 1 = 0, so they are not made.
LOGIT_OOD_SCORES = ("max_logit", "energy")


@dataclasses.dataclass
class Predictions:
  """Predictions for N examples, in dataset order.

  Attributes:
    file_name: str [N], unique.
    label: int64 [N] class index from the dataset, -1 where it has none.
    top5: int64 [N, 5] 1000-way class indices, best first.
    confidence: float64 [N] max softmax probability; NaN when unknown (a
      predictions file with top-5 indices only).
    space_top5: label space name -> int64 [N, k] the best classes of the
      space, best first, as the space's class indices (k = min(5, classes));
      only the spaces the scored benchmarks need.
    space_confidence: label space name -> float64 [N] the best class's score
      (max softmax over the subset's logits, or the highest mean probability).
    ood_scores: score name -> float64 [N], per-image OOD scores (higher =
      more in-distribution): the logit scores of `LOGIT_OOD_SCORES` where a
      scored row reads them, or any score a predictions file carries
      (``ood_score_<name>``).
    extras: other per-example targets carried from the dataset, e.g.
      ``real_label`` int64 [N, L] padded with -1.
  """
  file_name: np.ndarray
  label: np.ndarray
  top5: np.ndarray
  confidence: np.ndarray
  space_top5: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  space_confidence: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  ood_scores: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  extras: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

  def __len__(self) -> int:
    return len(self.file_name)

  @property
  def has_scores(self) -> bool:
    return bool(len(self)) and not np.isnan(self.confidence).any()

  def select(self, rows: np.ndarray) -> "Predictions":
    """The predictions of ``rows`` (bool mask or indices)."""
    return Predictions(
        file_name=self.file_name[rows], label=self.label[rows], top5=self.top5[rows],
        confidence=self.confidence[rows],
        space_top5={k: v[rows] for k, v in self.space_top5.items()},
        space_confidence={k: v[rows] for k, v in self.space_confidence.items()},
        ood_scores={k: v[rows] for k, v in self.ood_scores.items()},
        extras={k: v[rows] for k, v in self.extras.items()})

  @staticmethod
  def concatenate(parts) -> "Predictions":
    parts = list(parts)
    if not parts:
      raise ValueError("no predictions to concatenate")
    cat = lambda get: np.concatenate([get(p) for p in parts])
    first = parts[0]
    return Predictions(
        file_name=cat(lambda p: p.file_name), label=cat(lambda p: p.label),
        top5=cat(lambda p: p.top5), confidence=cat(lambda p: p.confidence),
        space_top5={k: cat(lambda p, k=k: p.space_top5[k]) for k in first.space_top5},
        space_confidence={k: cat(lambda p, k=k: p.space_confidence[k])
                           for k in first.space_confidence},
        ood_scores={k: cat(lambda p, k=k: p.ood_scores[k]) for k in first.ood_scores},
        extras={k: cat(lambda p, k=k: p.extras[k]) for k in first.extras})


def summarize_scores_tf(scores, spaces: Sequence[str] = (), ood_scores: Sequence[str] = ()):
  """TF: [B, 1000] log-probabilities or logits -> dict of compact predictions,
  with the top classes and confidence in each of the label ``spaces`` and
  the OOD scores ``ood_scores`` (names in `LOGIT_OOD_SCORES`; logits only).

  Ties go to the lower class index (``tf.math.top_k``'s documented rule, the
  same as a stable argsort of the negated scores).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  _check_space_scores(spaces)
  _check_ood_scores(ood_scores)
  scores = tf.cast(scores, tf.float32)
  probabilities = tf.nn.softmax(scores, axis=-1)
  out = {
      "top5": tf.math.top_k(scores, TOP_K).indices,
      "confidence": tf.reduce_max(probabilities, axis=-1),
      "finite": tf.reduce_all(tf.math.is_finite(scores), axis=-1),
  }
  for name in spaces:
    space = label_spaces.get(name)
    if space.scores == "logits":
      indices = tf.constant(np.concatenate(space.members), tf.int32)  # class order
      space_scores = tf.nn.softmax(tf.gather(scores, indices, axis=1), axis=-1)
    else:
      space_scores = tf.matmul(probabilities, tf.constant(space.member_matrix(), tf.float32))
    out[f"{name}/top5"] = tf.math.top_k(space_scores, _space_k(space)).indices
    out[f"{name}/confidence"] = tf.reduce_max(space_scores, axis=-1)
  logit_scores = {"max_logit": lambda: tf.reduce_max(scores, axis=-1),
                  "energy": lambda: tf.reduce_logsumexp(scores, axis=-1)}
  for name in ood_scores:
    out[OOD_SUMMARY_PREFIX + name] = logit_scores[name]()
  return out


# Summary keys of the OOD scores (`summarize_scores_tf` / `_np`).
OOD_SUMMARY_PREFIX = "ood_score/"


def _check_ood_scores(names: Sequence[str]) -> None:
  unknown = [n for n in names if n not in LOGIT_OOD_SCORES]
  if unknown:
    raise ValueError(f"unknown logit OOD score(s) {unknown}; known: {LOGIT_OOD_SCORES}")


def _space_k(space: label_spaces.LabelSpace) -> int:
  return min(TOP_K, space.num_classes)


def _check_space_scores(names: Sequence[str]) -> None:
  for name in names:
    if label_spaces.get(name).scores is None:
      raise ValueError(f"label space {name!r} declares no per-image scores ('scores')")


def _softmax(scores: np.ndarray) -> np.ndarray:
  shifted = scores - scores.max(axis=1, keepdims=True)
  exp = np.exp(shifted)
  return exp / exp.sum(axis=1, keepdims=True)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
  # Stable sort of the negated scores: ties go to the lower index, as top_k.
  return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def summarize_scores_np(scores: np.ndarray, spaces: Sequence[str] = (),
                        ood_scores: Sequence[str] = ()) -> Dict[str, np.ndarray]:
  """numpy twin of ``summarize_scores_tf`` for saved logits (the OOD scores
  from `metrics.openood.logit_scores`)."""
  _check_space_scores(spaces)
  _check_ood_scores(ood_scores)
  scores = np.asarray(scores, dtype=np.float64)
  probabilities = _softmax(scores)
  out = {"top5": _top_k(scores, TOP_K), "confidence": probabilities.max(axis=1)}
  for name in spaces:
    space = label_spaces.get(name)
    if space.scores == "logits":
      space_scores = _softmax(scores[:, np.concatenate(space.members)])  # class order
    else:
      space_scores = probabilities @ space.member_matrix()
    out[f"{name}/top5"] = _top_k(space_scores, _space_k(space))
    out[f"{name}/confidence"] = space_scores.max(axis=1)
  if ood_scores:
    from_logits = openood_metrics.logit_scores(scores)
    out.update({OOD_SUMMARY_PREFIX + name: from_logits[name] for name in ood_scores})
  return out


def from_summaries(file_name, label, summary: Dict[str, np.ndarray],
                   extras: Optional[Dict[str, np.ndarray]] = None) -> Predictions:
  return Predictions(
      file_name=np.asarray(file_name).astype(str),
      label=np.asarray(label, dtype=np.int64),
      top5=np.asarray(summary["top5"], dtype=np.int64),
      confidence=np.asarray(summary["confidence"], dtype=np.float64),
      space_top5={k[:-len("/top5")]: np.asarray(v, np.int64)
                  for k, v in summary.items() if k.endswith("/top5")},
      space_confidence={k[:-len("/confidence")]: np.asarray(v, np.float64)
                        for k, v in summary.items() if k.endswith("/confidence")},
      ood_scores={k[len(OOD_SUMMARY_PREFIX):]: np.asarray(v, np.float64)
                  for k, v in summary.items() if k.startswith(OOD_SUMMARY_PREFIX)},
      extras=dict(extras or {}))


# Keys of the compact arrays `save_npz` writes beside ``top5`` (a label
# space's as "space_<name>_top5" / "space_<name>_confidence", OOD scores as
# "ood_score_<name>", extras as "extra_<name>").
CONFIDENCE_KEY = "confidence"
EXTRA_PREFIX = "extra_"
OOD_SCORE_PREFIX = "ood_score_"
SPACE_PREFIX = "space_"
_SPACE_FIELDS = ("_top5", "_" + CONFIDENCE_KEY)


def space_key(space: str, field: str) -> str:
  """The npz key of a label space's ``top5`` or ``confidence`` array."""
  return f"{SPACE_PREFIX}{space}_{field}"


def _space_of_key(key: str) -> Optional[Tuple[str, str]]:
  """(space, field) of a `space_key`, else None."""
  if not key.startswith(SPACE_PREFIX):
    return None
  for field in _SPACE_FIELDS:
    if key.endswith(field):
      return key[len(SPACE_PREFIX):-len(field)], field[1:]
  return None


def npz_arrays(predictions: Predictions) -> Dict[str, np.ndarray]:
  """The arrays of the compact ``.npz`` that `load_npz` reads back exactly.

  ``file_name``, ``label``, ``top5`` and, when known, ``confidence``, each
  label space's top classes and confidence, the OOD scores and the extras
  (e.g. ReaL label lists). `tfds_bench.reports.write_predictions` saves them with every run.
  """
  arrays = {"file_name": predictions.file_name.astype(str), "label": predictions.label,
            "top5": predictions.top5}
  if predictions.has_scores:
    arrays[CONFIDENCE_KEY] = predictions.confidence
  for name, top5 in predictions.space_top5.items():
    arrays[space_key(name, "top5")] = top5
  for name, confidence in predictions.space_confidence.items():
    arrays[space_key(name, CONFIDENCE_KEY)] = confidence
  for name, values in predictions.ood_scores.items():
    arrays[OOD_SCORE_PREFIX + name] = values
  for name, values in predictions.extras.items():
    arrays[EXTRA_PREFIX + name] = values
  return arrays


def load_npz(path: str, spaces: Sequence[str] = (), ood_scores: Sequence[str] = ()
             ) -> Predictions:
  """Reads a saved predictions file (see README: ``--predictions``).

  The ``.npz`` holds ``file_name`` (str [N]) and one of ``logits`` /
  ``probs`` ([N, 1000] floats, rows summing to 1) or ``top5`` ([N, k] int, best
  first, k >= 5), optionally ``label`` (int [N]). With ``top5``, the compact
  arrays of `npz_arrays` are read too when present (``confidence``,
  ``space_<name>_top5``, ``space_<name>_confidence``, ``ood_score_<name>``,
  ``extra_<name>``). Wrong shapes, NaN/inf scores, duplicate or empty file
  names are errors naming the file. From scores, the top classes and
  confidence in each label space of ``spaces`` are computed (the ones the
  scored benchmarks need), and from ``logits`` the OOD scores ``ood_scores``
  (names in `LOGIT_OOD_SCORES`; from ``probs`` they are meaningless and not
  made).
  """
  if not os.path.isfile(path):
    raise errors.UserError(f"predictions file not found: {path}")
  try:
    data = np.load(path, allow_pickle=False)
  except (ValueError, OSError, EOFError) as e:
    raise errors.UserError(f"{path}: not a readable .npz predictions file (save one with "
                           "numpy.savez(path, file_name=..., logits=...))") from None
  if not isinstance(data, np.lib.npyio.NpzFile):
    raise errors.UserError(f"{path}: a single .npy array, not an .npz predictions file "
                           "(save one with numpy.savez(path, file_name=..., logits=...))")
  try:
    return _load_npz_arrays(path, data, spaces, ood_scores)
  except ValueError as e:
    if "allow_pickle" not in str(e):
      raise
    raise errors.UserError(
        f"{path}: holds an object (pickled) array, which is never loaded (it could run code): "
        "save file_name as a str array, np.array(names, dtype=str), and scores as numbers"
    ) from None


def _load_npz_arrays(path: str, data, spaces: Sequence[str],
                     ood_scores: Sequence[str]) -> "Predictions":
  with data:
    keys = set(data.files)
    if "file_name" not in keys:
      raise errors.UserError(f"{path}: no 'file_name' array (found: {sorted(keys)})")
    file_name = _file_names_as_text(path, np.asarray(data["file_name"]))
    n = len(file_name)
    if file_name.ndim != 1 or n == 0:
      raise errors.UserError(f"{path}: 'file_name' must be a non-empty 1-D array of str")
    if (np.char.str_len(file_name) == 0).any():
      raise errors.UserError(f"{path}: empty file name at index "
                             f"{int(np.flatnonzero(np.char.str_len(file_name) == 0)[0])}")
    unique, counts = np.unique(file_name, return_counts=True)
    if (counts > 1).any():
      raise errors.UserError(f"{path}: duplicate file names, e.g. {unique[counts > 1][0]!r}")
    score_keys = [k for k in ("logits", "probs", "top5") if k in keys]
    if len(score_keys) != 1:
      raise errors.UserError(f"{path}: needs exactly one of 'logits', 'probs', 'top5' "
                             f"(found: {score_keys or 'none'})")
    kind = score_keys[0]
    values = np.asarray(data[kind])
    label = np.asarray(data["label"], np.int64) if "label" in keys else np.full(n, -1, np.int64)
    compact = {k: np.asarray(data[k]) for k in keys if _is_compact_key(k)}
  if label.shape != (n,):
    raise errors.UserError(f"{path}: 'label' has shape {label.shape}, expected ({n},)")
  if values.ndim != 2 or values.shape[0] != n:
    raise errors.UserError(f"{path}: '{kind}' has shape {values.shape}, expected ({n}, ...) "
                           f"to match {n} file names")
  if kind == "top5":
    return _with_compact(path, _from_top_k(path, file_name, label, values), compact)
  if compact:
    raise errors.UserError(f"{path}: {sorted(compact)} go with 'top5' only, not with '{kind}'")
  if values.shape[1] != labels.NUM_CLASSES:
    raise errors.UserError(f"{path}: '{kind}' has {values.shape[1]} columns, expected 1000 "
                           "(drop a background class at index 0 first)")
  bad = ~np.isfinite(values).all(axis=1)
  if bad.any():
    raise errors.UserError(f"{path}: '{kind}' has NaN or inf scores for {bad.sum()} image(s), "
                           f"e.g. {file_name[bad][0]!r}")
  if kind == "probs":
    if (values < 0).any():
      raise errors.UserError(f"{path}: 'probs' has negative values; did you mean 'logits'?")
    # Probabilities sum to 1 per image; the tolerance allows float16 storage.
    row_sums = values.sum(axis=1)
    off = np.abs(row_sums - 1.0) > PROBABILITY_SUM_TOLERANCE
    if off.any():
      raise errors.UserError(
          f"{path}: 'probs' rows must sum to 1, but {off.sum()} do not, e.g. "
          f"{file_name[off][0]!r} sums to {row_sums[off][0]:.4g}; save softmax outputs as "
          "'probs', or raw scores as 'logits'")
    values = np.log(np.maximum(values, np.finfo(np.float64).tiny))
    ood_scores = ()
  return from_summaries(file_name, label, summarize_scores_np(values, spaces, ood_scores))


def _file_names_as_text(path: str, file_name: np.ndarray) -> np.ndarray:
  """str file names; a bytes array is UTF-8 (numpy's astype(str) reads ASCII only)."""
  if file_name.dtype.kind != "S":
    return file_name.astype(str)
  try:
    return np.char.decode(file_name, "utf-8")
  except UnicodeDecodeError:
    raise errors.UserError(f"{path}: 'file_name' holds bytes that are not UTF-8; save the "
                           "names as a str array, np.array(names, dtype=str)") from None


def _from_top_k(path, file_name, label, top_k) -> Predictions:
  if not np.issubdtype(top_k.dtype, np.integer):
    raise errors.UserError(f"{path}: 'top5' must hold integer class indices, got {top_k.dtype}")
  if top_k.min() < 0 or top_k.max() >= labels.NUM_CLASSES:
    raise errors.UserError(f"{path}: 'top5' has class indices outside 0..999")
  if top_k.shape[1] < TOP_K:
    # Padded, a k < 5 array would be reported as "top5" while being top-k.
    raise errors.UserError(
        f"{path}: 'top5' has {top_k.shape[1]} column(s), so top-5 accuracy cannot be "
        f"computed from it: save the {TOP_K} best classes per image, best first, or "
        "'logits' / 'probs'")
  return Predictions(file_name=file_name, label=label, top5=top_k[:, :TOP_K].astype(np.int64),
                     confidence=np.full(len(file_name), np.nan))


def _is_compact_key(key: str) -> bool:
  return (key == CONFIDENCE_KEY or key.startswith(EXTRA_PREFIX)
          or key.startswith(OOD_SCORE_PREFIX) or _space_of_key(key) is not None)


def _with_compact(path: str, predictions: Predictions,
                  compact: Dict[str, np.ndarray]) -> Predictions:
  """``predictions`` with the compact arrays of `save_npz`, shapes checked."""
  n = len(predictions)
  for key, values in compact.items():
    if values.shape[:1] != (n,):
      raise errors.UserError(f"{path}: '{key}' has shape {values.shape}, expected ({n}, ...)")
  if CONFIDENCE_KEY in compact:
    predictions.confidence = compact[CONFIDENCE_KEY].astype(np.float64)
  for key, values in compact.items():
    space = _space_of_key(key)
    if space is None:
      continue
    name, field = space
    if name not in label_spaces.names():
      raise errors.UserError(f"{path}: '{key}' names no known label space; known: "
                             f"{', '.join(label_spaces.names())}")
    if field == "top5":
      predictions.space_top5[name] = values.astype(np.int64)
    else:
      predictions.space_confidence[name] = values.astype(np.float64)
  for key, values in compact.items():
    if not key.startswith(OOD_SCORE_PREFIX):
      continue
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.number):
      raise errors.UserError(f"{path}: '{key}' must hold one number per image, got "
                             f"{values.dtype} of shape {values.shape}")
    if not np.isfinite(values).all():
      raise errors.UserError(f"{path}: '{key}' has NaN or inf values")
    predictions.ood_scores[key[len(OOD_SCORE_PREFIX):]] = values.astype(np.float64)
  predictions.extras.update({k[len(EXTRA_PREFIX):]: v for k, v in compact.items()
                             if k.startswith(EXTRA_PREFIX)})
  return predictions
