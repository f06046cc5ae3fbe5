"""Per-model image preprocessing, in TF ops.

A model declares a ``Preprocessing``; the input pipeline applies it and never
guesses. The geometry is the TF reference ImageNet eval transform (used by the
EfficientNet / EfficientNet-Lite and TPU ResNet code): take the central square
of side ``crop_fraction * min(height, width)``, then resize it to
``input_size`` x ``input_size``. With ``crop_fraction = 224 / 256`` this is the
familiar "resize to 256, center crop 224" up to interpolation. The
``Preprocessing`` record and its presets are TF-free, in `preprocessing_spec.py`.
"""

from __future__ import annotations

import tensorflow as tf

from tfds_bench.preprocessing_spec import PRESETS, Preprocessing  # pylint: disable=unused-import  # re-exported


def center_crop_window(height, width, crop_fraction: float):
  """[offset_y, offset_x, size, size] of the central square crop (int32)."""
  shorter = tf.minimum(height, width)
  size = tf.cast(tf.cast(shorter, tf.float32) * crop_fraction, tf.int32)
  size = tf.maximum(size, 1)
  offset_y = (height - size + 1) // 2
  offset_x = (width - size + 1) // 2
  return tf.stack([offset_y, offset_x, size, size])


def decode_and_crop(image_bytes: tf.Tensor, crop_fraction: float) -> tf.Tensor:
  """Decodes an encoded image to uint8 RGB and takes the central crop.

  JPEGs are decoded with ``INTEGER_ACCURATE`` (bit-identical to PIL/libjpeg's
  default) and only the crop window is decoded. Other formats (PNG, GIF, BMP)
  go through ``decode_image``; grayscale and RGBA become RGB.
  """
  def decode_jpeg():
    shape = tf.io.extract_jpeg_shape(image_bytes)
    window = center_crop_window(shape[0], shape[1], crop_fraction)
    return tf.io.decode_and_crop_jpeg(image_bytes, window, channels=3,
                                      dct_method="INTEGER_ACCURATE")

  def decode_other():
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    window = center_crop_window(tf.shape(image)[0], tf.shape(image)[1], crop_fraction)
    return tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])

  image = tf.cond(tf.io.is_jpeg(image_bytes), decode_jpeg, decode_other)
  image.set_shape([None, None, 3])
  return image


def resize_and_normalize(crop: tf.Tensor, spec: Preprocessing) -> tf.Tensor:
  """uint8 crop [H, W, 3] -> float32 model input [S, S, 3]."""
  size = (spec.input_size, spec.input_size)
  image = tf.image.resize(tf.cast(crop, tf.float32), size, method=spec.resize_method,
                          antialias=spec.antialias and spec.resize_method != "nearest")
  # Bicubic overshoots; real pixels live in [0, 255].
  image = tf.clip_by_value(image, 0.0, 255.0)
  image = (image - tf.constant(spec.mean, tf.float32)) / tf.constant(spec.std, tf.float32)
  if spec.channel_order == "BGR":
    image = image[..., ::-1]
  return image


def preprocess(image_bytes: tf.Tensor, spec: Preprocessing) -> tf.Tensor:
  """Encoded image bytes -> float32 model input."""
  return resize_and_normalize(decode_and_crop(image_bytes, spec.crop_fraction), spec)


def preprocess_array(image, spec: Preprocessing) -> tf.Tensor:
  """uint8 image array [H, W, 3] (already decoded) -> float32 model input."""
  image = tf.convert_to_tensor(image, tf.uint8)
  window = center_crop_window(tf.shape(image)[0], tf.shape(image)[1], spec.crop_fraction)
  crop = tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])
  return resize_and_normalize(crop, spec)
