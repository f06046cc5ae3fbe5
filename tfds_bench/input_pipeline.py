"""tfds.load -> decode -> model preprocessing -> batch -> prefetch.

Every batch has exactly ``batch_size`` rows: the final partial batch is padded
and its padding rows carry ``mask == 0``, so no example is ever dropped and a
metric that honours the mask counts each real example exactly once. Order is
deterministic (files read in order, ``deterministic=True`` maps).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

from absl import logging
from etils import epath
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_bench import errors, image_checks, labels, predictions
import tfds_bench.builders  # pylint: disable=unused-import  # registers our builders with TFDS
from tfds_bench.preprocessing import Preprocessing, preprocess
from tfds_bench.release import common as release_common

IMAGE_KEY = "image"
MASK_KEY = "mask"
# The example's position in its whole source: the only key of an example that
# identifies it inside a replica step (no strings there; docs/architecture.md,
# "Scaling out"). File names stay on the host and are joined back by it.
EXAMPLE_ID_KEY = predictions.EXAMPLE_ID
PASSED_THROUGH = ("label", "file_name", EXAMPLE_ID_KEY)


def load_split(name: str, split: str, data_dir: Optional[str] = None,
               manual_dir: Optional[str] = None, show_progress: bool = False
               ) -> tf.data.Dataset:
  """Prepares (if needed) and reads a TFDS split with images left encoded.

  Never touches the network: builders that need files read them from
  ``manual_dir``; a builder that would download fails with a UserError.
  Preparation holds a lock file in the data_dir, so two runs sharing one
  data_dir prepare a dataset once: the second waits and reuses it.
  ``show_progress``: TFDS's preparation progress bars on stderr.
  """
  builder = _builder(name, data_dir)
  if not _is_prepared(builder):
    with _preparation_lock(builder):
      if _is_prepared(builder):
        # Another run prepared it while this one waited for the lock: a new
        # builder reads what that run wrote.
        builder = _builder(name, data_dir)
      else:
        _prepare(builder, name, manual_dir, show_progress)
  return builder.as_dataset(
      split=split, shuffle_files=False,
      decoders={IMAGE_KEY: tfds.decode.SkipDecoding()},
      read_config=tfds.ReadConfig(try_autocache=False))


def with_example_ids(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """Examples with ``example_id``, their position in ``dataset`` (kept if present)."""
  if EXAMPLE_ID_KEY in dataset.element_spec:
    return dataset
  return dataset.enumerate().map(lambda i, example: {**example, EXAMPLE_ID_KEY: i})


def file_names(dataset: tf.data.Dataset) -> np.ndarray:
  """The ``file_name`` of every example, in order, read on the host (images untouched)."""
  names = dataset.map(lambda example: example["file_name"])
  return np.array([n.decode() for n in names.as_numpy_iterator()], dtype=str)


def service_slice(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """The slice of ``dataset`` a tf.data service worker makes (`batches(data_service=)`).

  Apply it before the costly maps (decode, on-the-fly corruption): each
  worker replaces the placeholders by (its count, its index), so every
  example is made by one worker only.
  """
  hint = tf.data.experimental.SHARD_HINT
  return dataset.shard(hint, hint)


# Under the data_dir: one lock file per dataset version being prepared.
LOCK_FOLDER = ".tfds_bench_locks"


def _is_prepared(builder) -> bool:
  # TFDS's is_prepared() logs a WARNING ("Variant folder ... has no
  # dataset_info.json") each time the answer is no, which on a first run reads
  # like damage; it is asked only once that file exists.
  return (epath.Path(builder.data_dir) / "dataset_info.json").exists() and builder.is_prepared()


def _builder(name: str, data_dir: Optional[str]):
  try:
    return tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise errors.UserError(f"no TFDS dataset {name!r}: {str(e).splitlines()[0]}") from None


@contextlib.contextmanager
def _preparation_lock(builder) -> Iterator[None]:
  """An exclusive lock on preparing ``builder``'s dataset, held across processes.

  TFDS has none: two runs preparing the same dataset each write an
  ``incomplete.*`` folder and the second rename fails with FileExistsError.
  The lock files live in ``<data_dir>/.tfds_bench_locks/``, outside the
  dataset folders TFDS reads; flock is released by the kernel if the holder
  dies, so a killed run never leaves a stale lock.
  """
  version_dir = epath.Path(builder.data_dir)
  lock_dir = epath.Path(builder.data_dir_root) / LOCK_FOLDER
  lock_dir.mkdir(parents=True, exist_ok=True)
  relative = version_dir.relative_to(builder.data_dir_root)
  lock_path = lock_dir / (str(relative).replace(os.sep, "-") + ".lock")
  with open(lock_path, "a") as lock_file:
    try:
      fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      logging.warning("waiting for another run preparing %s in %s (lock %s)",
                    builder.name, version_dir.parent, lock_path)
      fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock_file, fcntl.LOCK_UN)


def _remove_abandoned_preparations(builder) -> None:
  """Deletes ``incomplete.*`` folders a killed preparation left (TFDS removes its
  own on an exception, not on SIGKILL); called with the preparation lock held,
  so none of them belongs to a live run."""
  version_dir = epath.Path(builder.data_dir)
  for leftover in version_dir.parent.glob(f"incomplete.*_{version_dir.name}"):
    leftover.rmtree(missing_ok=True)


# The archives TFDS's own builders read from manual_dir (ours name theirs in
# ARCHIVE_NAMES): imagenet2012's validation split needs the val tar alone.
_TFDS_BUILDER_ARCHIVES = {"imagenet2012": (release_common.VAL_ARCHIVE_NAME,)}


def archive_names(builder) -> Tuple[str, ...]:
  """The archives a builder reads from manual_dir, as their files are named."""
  names = getattr(type(builder), "ARCHIVE_NAMES", None)
  return tuple(names) if names else _TFDS_BUILDER_ARCHIVES.get(builder.name, ())


def _missing_archive(name: str, builder, manual_dir: Optional[str], what: str) -> errors.UserError:
  archives = archive_names(builder)
  needed = (" or ".join(archives) if len(archives) <= 2 else
            f"{', '.join(archives[:3])}, ... ({len(archives)} files)") if archives else (
                "its archives (see its README / TFDS's docs)")
  where = f"--manual_dir={manual_dir}" if manual_dir else "a folder passed as --manual_dir"
  return errors.MissingArchiveError(
      f"{name}: {what}; put {needed} (unextracted, as downloaded) in {where}")


def _prepare(builder, name: str, manual_dir: Optional[str], show_progress: bool) -> None:
  _remove_abandoned_preparations(builder)
  config = tfds.download.DownloadConfig(
      manual_dir=manual_dir,
      # Offline: never try to download (TFDS would retry for minutes).
      download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS)
  tfds.display_progress_bar(show_progress)
  # TFDS prints "Downloading and preparing dataset <size> ..." and "...
  # downloaded and prepared" to stdout, where the table goes, although our
  # builders download nothing; no public switch silences them, so they are
  # caught here. Its progress bars (stderr) still show.
  tfds_stdout = io.StringIO()
  try:
    with contextlib.redirect_stdout(tfds_stdout):
      builder.download_and_prepare(download_config=config)
  except errors.UserError:
    raise
  except AssertionError as e:
    # TFDS signals a missing / empty manual_dir with an AssertionError.
    raise _missing_archive(name, builder, manual_dir,
                           str(e).strip().splitlines()[0].split(". Create it")[0]) from None
  except tf.errors.NotFoundError as e:
    # A manual_dir without the archive TFDS's own builder opens (imagenet2012).
    raise _missing_archive(name, builder, manual_dir,
                           f"{e.message.strip().splitlines()[0]} (not found)") from None


def dataset_size(dataset: tf.data.Dataset) -> Optional[int]:
  """Number of examples when tf.data knows it; None when unknown or infinite."""
  size = int(dataset.cardinality())
  return size if size >= 0 else None


def _pad_rows(tensor: tf.Tensor, batch_size: int) -> tf.Tensor:
  missing = batch_size - tf.shape(tensor)[0]
  paddings = [[0, missing]] + [[0, 0]] * (tensor.shape.rank - 1)
  if tensor.dtype == tf.string:
    return tf.pad(tensor, paddings, constant_values="")
  # -1 is the "no label" value of every integer target.
  value = -1 if tensor.dtype.is_integer else 0
  return tf.pad(tensor, paddings, constant_values=tf.cast(value, tensor.dtype))


def pad_label_list(values: tf.Tensor, width: int) -> tf.Tensor:
  """Variable-length int label list -> fixed [width], padded with -1."""
  values = tf.cast(values, tf.int64)
  check = tf.debugging.assert_less_equal(
      tf.shape(values)[0], width, message=f"label list longer than the padding width {width}")
  # Inside tf.data the check must run before the pad, or the pad's own error
  # ("Paddings must be non-negative") may come first and hide the reason.
  with tf.control_dependencies([check]):
    return tf.pad(values, [[0, width - tf.shape(values)[0]]], constant_values=-1)


# Batches decoded ahead of the model: enough to hide a slow image.
PREFETCH_BATCHES = 2


def batches(dataset: tf.data.Dataset, preprocessing: Preprocessing, batch_size: int,
            label_lists: Optional[Mapping[str, int]] = None,
            data_service: Optional[str] = None) -> tf.data.Dataset:
  """Examples with an encoded ``image`` -> padded, masked, preprocessed batches.

  Args:
    dataset: examples (dicts) whose ``image`` is encoded bytes.
    preprocessing: the model's declared preprocessing.
    batch_size: rows per batch; the last batch is padded to it.
    label_lists: variable-length label features to carry as fixed-width
      -1-padded int tensors, e.g. ``{"real_label": 16}``.
    data_service: ``grpc://HOST:PORT`` of a tf.data service dispatcher
      (`tfds_bench.data_service`): decode, preprocessing and everything mapped
      before run on its workers, each on the slice `service_slice` marked
      (without one, every worker would make every example). Batches come
      back in no fixed order; ``example_id`` restores it.

  Returns:
    A dataset of dicts: ``image`` float32 [B, S, S, 3], ``mask`` float32 [B]
    (1 real, 0 padding), ``label`` and ``file_name`` when present, and the
    ``label_lists``, batched and padded.
  """
  if batch_size <= 0:
    raise errors.UserError(f"batch size must be positive, got {batch_size}")
  label_lists = dict(label_lists or {})

  def prepare(example: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    # Only what scoring reads travels on: other features (variable-length
    # ones included) would break batching for nothing.
    out = {k: example[k] for k in PASSED_THROUGH if k in example}
    out[IMAGE_KEY] = preprocess(example[IMAGE_KEY], preprocessing)
    out[MASK_KEY] = tf.constant(1.0, tf.float32)
    for key, width in label_lists.items():
      out[key] = pad_label_list(example[key], width)
    return out

  def pad(batch: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    return {k: _pad_rows(v, batch_size) for k, v in batch.items()}

  dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  dataset = dataset.batch(batch_size, drop_remainder=False)
  dataset = dataset.map(pad, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  # tf.data's autotuner off: with it on, end-to-end runs on 2 cores fell into
  # a mode (about every other run) where the model ran on one core, at a
  # fraction of its rate (Lite0; benchmarks/pipeline_throughput.py); with it
  # off, none in 30 runs. Without the autotuner, AUTOTUNE maps keep TF's starting
  # parallelism, which follows the core count.
  options = tf.data.Options()
  options.autotune.enabled = False
  dataset = dataset.with_options(options)
  if data_service:
    dataset = dataset.apply(tf.data.experimental.service.distribute(
        processing_mode=tf.data.experimental.service.ShardingPolicy.HINT,
        service=data_service))
  return dataset.prefetch(PREFETCH_BATCHES)


def keras_inputs(batched: tf.data.Dataset, target_key: str = "label") -> tf.data.Dataset:
  """(images, targets, sample_weight) triples for ``model.evaluate``.

  The mask is the sample weight, so padding rows count for nothing.
  """
  return batched.map(lambda b: (b[IMAGE_KEY], b[target_key], b[MASK_KEY]))


def folder_class_index(folder_name: str) -> int:
  """Class index of an image-folder subfolder: a wnid or an integer index.

  Integer folder names (ImageNetV2's ``0``..``999``) are class indices by
  VALUE: sorting them as strings (what ImageFolder and torchvision do) would
  scramble all but 12 classes.
  """
  if folder_name.isdigit():
    index = int(folder_name)
    if index >= labels.NUM_CLASSES:
      raise errors.UserError(f"class folder {folder_name!r}: an integer folder name must be "
                             f"a class index 0..{labels.NUM_CLASSES - 1}")
    return index
  try:
    return labels.index_of_wnid(folder_name)
  except KeyError as e:
    raise errors.UserError(f"class folder {folder_name!r}: {e.args[0]}") from None


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def folder_images(root: str) -> List[Tuple[str, int]]:
  """(``<folder>/<image>``, class index) of every image of an ImageNet-layout
  folder, sorted; fails on anything that would otherwise be left out.

  Files the pipeline cannot read as images (other types, nested folders) and
  images lying directly in ``root`` beside the class folders are errors
  naming them, so that no image silently drops out of ``n``.
  """
  if not os.path.isdir(root):
    raise errors.UserError(f"image folder not found: {root} (no such directory)")
  entries = [e for e in sorted(os.listdir(root)) if not e.startswith(".")]
  class_dirs = [d for d in entries if os.path.isdir(os.path.join(root, d))]
  loose = [e for e in entries if e not in class_dirs]
  if loose:
    raise errors.UserError(
        f"{len(loose)} file(s) lie directly in {root} beside the class folders, e.g. "
        f"{os.path.join(root, loose[0])}: move each into its class folder "
        f"{root}/<wnid or class index>/ (an image without a class folder has no label)")
  if not class_dirs:
    raise errors.UserError(f"{root} has no class subfolders; expected {root}/<wnid>/*.JPEG "
                           f"or {root}/<class index>/*.jpeg")
  images, skipped = [], []
  for d in class_dirs:
    class_index = folder_class_index(d)
    for f in sorted(os.listdir(os.path.join(root, d))):
      path = os.path.join(root, d, f)
      if f.startswith("."):
        continue
      if not f.lower().endswith(_IMAGE_SUFFIXES) or not os.path.isfile(path):
        skipped.append(path)
      else:
        image_checks.check_image_file(path)
        images.append((f"{d}/{f}", class_index))
  if skipped:
    raise errors.UserError(
        f"{len(skipped)} file(s) are not .jpg/.jpeg/.png images, e.g. {skipped[0]}: "
        "convert or remove them so that no image is silently left out")
  return images


def load_image_folder(root: str) -> tf.data.Dataset:
  """Examples of an ImageNet-layout folder, read in place.

  ``root/<wnid or class index>/<image>``; yields ``image`` (encoded),
  ``label`` (1000-class index) and ``file_name`` (``<folder>/<image>``, UTF-8).
  Nothing is written: TFDS's ImageFolder would need a temporary
  ``root/<split>/`` view that outlives the dataset.
  """
  root = os.path.abspath(os.path.expandvars(os.path.expanduser(root)))
  images = folder_images(root)
  if not images:
    raise errors.UserError(f"{root} has class folders but no images in them")
  file_names = [name for name, _ in images]
  dataset = tf.data.Dataset.from_tensor_slices({
      "path": [os.path.join(root, name) for name in file_names],
      "label": tf.constant([label for _, label in images], tf.int64),
      "file_name": file_names,
  })
  return dataset.map(lambda e: {IMAGE_KEY: tf.io.read_file(e["path"]), "label": e["label"],
                                "file_name": e["file_name"]})
