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


def center_crop_window(height, width, crop_fraction: float, crop_mode: str = "center",
                       center_rounding: str = "up"):
  """[offset_y, offset_x, crop_height, crop_width] of the central crop (int32).

  See `Preprocessing` for ``crop_mode`` and ``center_rounding``.
  """
  def side(length):
    return tf.maximum(tf.cast(tf.cast(length, tf.float32) * crop_fraction, tf.int32), 1)

  if crop_mode == "squash":
    crop_height, crop_width = side(height), side(width)
  else:
    crop_height = crop_width = side(tf.minimum(height, width))
  extra = 1 if center_rounding == "up" else 0
  offset_y = (height - crop_height + extra) // 2
  offset_x = (width - crop_width + extra) // 2
  return tf.stack([offset_y, offset_x, crop_height, crop_width])


def crop_window(height, width, spec: Preprocessing):
  """`center_crop_window` of a model's ``Preprocessing``."""
  return center_crop_window(height, width, spec.crop_fraction, spec.crop_mode,
                            spec.center_rounding)


def decode_and_crop(image_bytes: tf.Tensor, crop_fraction) -> tf.Tensor:
  """Decodes an encoded image to uint8 RGB and takes the central crop.

  JPEGs are decoded with ``INTEGER_ACCURATE`` (bit-identical to PIL/libjpeg's
  default) and only the crop window is decoded. Other formats (PNG, GIF, BMP)
  go through ``decode_image``; grayscale and RGBA become RGB.
  ``crop_fraction``: a float (a centre square, `center_crop_window`'s
  defaults) or a model's ``Preprocessing`` (its crop mode and rounding too).
  """
  if isinstance(crop_fraction, Preprocessing):
    window_of = lambda h, w: crop_window(h, w, crop_fraction)  # pylint: disable=unnecessary-lambda-assignment
  else:
    window_of = lambda h, w: center_crop_window(h, w, crop_fraction)  # pylint: disable=unnecessary-lambda-assignment

  def decode_jpeg():
    shape = tf.io.extract_jpeg_shape(image_bytes)
    window = window_of(shape[0], shape[1])
    return tf.io.decode_and_crop_jpeg(image_bytes, window, channels=3,
                                      dct_method="INTEGER_ACCURATE")

  def decode_other():
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    window = window_of(tf.shape(image)[0], tf.shape(image)[1])
    return tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])

  image = tf.cond(tf.io.is_jpeg(image_bytes), decode_jpeg, decode_other)
  image.set_shape([None, None, 3])
  return image


def resize_and_normalize(crop: tf.Tensor, spec: Preprocessing) -> tf.Tensor:
  """uint8 crop [H, W, 3] -> float32 model input [S, S, 3]."""
  size = (spec.input_size, spec.input_size)
  image = tf.image.resize(tf.cast(crop, tf.float32), size, method=spec.resize_method,
                          antialias=spec.antialias and spec.resize_method != "nearest")
  if spec.clip:
    # Bicubic overshoots; real pixels live in [0, 255].
    image = tf.clip_by_value(image, 0.0, 255.0)
  image = (image - tf.constant(spec.mean, tf.float32)) / tf.constant(spec.std, tf.float32)
  if spec.channel_order == "BGR":
    image = image[..., ::-1]
  return image


def preprocess(image_bytes: tf.Tensor, spec: Preprocessing) -> tf.Tensor:
  """Encoded image bytes -> float32 model input."""
  return resize_and_normalize(decode_and_crop(image_bytes, spec), spec)


def preprocess_array(image, spec: Preprocessing) -> tf.Tensor:
  """uint8 image array [H, W, 3] (already decoded) -> float32 model input."""
  image = tf.convert_to_tensor(image, tf.uint8)
  window = crop_window(tf.shape(image)[0], tf.shape(image)[1], spec)
  crop = tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])
  return resize_and_normalize(crop, spec)
