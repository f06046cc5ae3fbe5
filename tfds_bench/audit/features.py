"""Featurising images for the near-duplicate audit: thumbnails and embeddings.

`featurize` turns a tf.data dataset of encoded images into `Features` blocks
(64x64 thumbnails, and l2-normalised model embeddings when given an
`Embedder`); `reblock` regroups them into reference blocks. TensorFlow is
imported only inside the functions that run it (the model registry loads it
only to build a model).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Iterator, List, Optional, Sequence

import numpy as np

from tfds_bench import errors, models
from tfds_bench.audit import search


@dataclasses.dataclass
class Features:
  """One block of featurised images.

  Attributes:
    file_name: str [B].
    thumbnail: uint8 [B, 64, 64, 3] (SSIM and the contact sheet).
    embedding: float32 [B, D] l2-normalised, or None without a model.
  """
  file_name: np.ndarray
  thumbnail: np.ndarray
  embedding: Optional[np.ndarray]

  def __len__(self) -> int:
    return len(self.file_name)

  def pixels(self) -> np.ndarray:
    """float32 [B, 32*32*3]: 2x2 means of the thumbnail, zero mean, unit l2 norm.

    A flat image (standard deviation under one grey level) maps to about
    the zero vector, at distance ~1 from every textured image.
    """
    t = self.thumbnail.astype(np.float32) / 255.0
    b = len(t)
    factor = search.SSIM_SIDE // search.PIXEL_SIDE
    side = search.PIXEL_SIDE
    t = t.reshape(b, side, factor, side, factor, 3).mean(axis=(2, 4)).reshape(b, -1)
    t -= t.mean(axis=1, keepdims=True)
    floor = math.sqrt(t.shape[1]) / 255.0
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), floor)

  @staticmethod
  def concatenate(parts: Sequence["Features"]) -> "Features":
    embedding = None
    if parts and parts[0].embedding is not None:
      embedding = np.concatenate([p.embedding for p in parts])
    return Features(np.concatenate([p.file_name for p in parts]),
                    np.concatenate([p.thumbnail for p in parts]), embedding)


@dataclasses.dataclass
class Embedder:
  """A Keras model cut at its penultimate layer, with the model's preprocessing."""
  model: object
  preprocessing: object

  @classmethod
  def from_registry(cls, name: str = "efficientnet", layer: str = search.EMBEDDING_LAYER,
                    model=None) -> "Embedder":
    """``tfds_bench.models`` entry ``name`` cut at ``layer``.

    ``model`` may pass the already built Keras model of that entry (saves a
    rebuild).
    """
    import keras  # pylint: disable=g-import-not-at-top
    spec = models.get(name)
    model = model if model is not None else spec.build(None)
    try:
      output = model.get_layer(layer).output
    except ValueError:
      raise errors.UserError(f"model {name!r} has no layer {layer!r} to take "
                             "embeddings from") from None
    return cls(keras.Model(model.inputs, output, name=f"{model.name}_{layer}"),
               spec.preprocessing)


def _decode_full(image_bytes):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def decode_jpeg():
    return tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE")

  def decode_other():
    return tf.io.decode_image(image_bytes, channels=3, expand_animations=False)

  image = tf.cond(tf.io.is_jpeg(image_bytes), decode_jpeg, decode_other)
  image.set_shape([None, None, 3])
  return image


def featurize(dataset, embedder: Optional[Embedder] = None,
              batch_size: int = 64) -> Iterator[Features]:
  """Examples with encoded ``image`` and ``file_name`` -> Features per batch.

  The thumbnail is the WHOLE image squashed to 64x64 (area resize), like the
  reference's ``scaled_256``; the embedding sees the model's own
  preprocessing (center crop, resize, normalise).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tfds_bench import preprocessing  # lazy: tensorflow

  def prepare(example):
    image = _decode_full(example["image"])
    thumbnail = tf.image.resize(tf.cast(image, tf.float32),
                                (search.SSIM_SIDE, search.SSIM_SIDE), method="area")
    out = {"file_name": example["file_name"],
           "thumbnail": tf.cast(tf.round(tf.clip_by_value(thumbnail, 0, 255)), tf.uint8)}
    if embedder is not None:
      spec = embedder.preprocessing
      window = preprocessing.crop_window(tf.shape(image)[0], tf.shape(image)[1], spec)
      crop = tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])
      out["model_input"] = preprocessing.resize_and_normalize(crop, spec)
    return out

  batched = (dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
             .batch(batch_size).prefetch(tf.data.AUTOTUNE))
  for batch in batched:
    embedding = None
    if embedder is not None:
      raw = np.asarray(embedder.model(batch["model_input"], training=False))
      embedding = search.l2_normalize(raw.reshape(len(raw), -1))
    names = np.array([n.decode("utf-8") for n in batch["file_name"].numpy()], dtype=object)
    yield Features(names, batch["thumbnail"].numpy(), embedding)


def reblock(batches: Iterable[Features], block_size: int) -> Iterator[Features]:
  """Regroups feature batches into blocks of ``block_size`` (the last may be short)."""
  pending: List[Features] = []
  count = 0
  for batch in batches:
    pending.append(batch)
    count += len(batch)
    while count >= block_size:
      merged = Features.concatenate(pending)
      head = Features(merged.file_name[:block_size], merged.thumbnail[:block_size],
                      None if merged.embedding is None else merged.embedding[:block_size])
      tail = Features(merged.file_name[block_size:], merged.thumbnail[block_size:],
                      None if merged.embedding is None else merged.embedding[block_size:])
      yield head
      pending, count = ([tail] if len(tail) else []), len(tail)
  if count:
    yield Features.concatenate(pending)
