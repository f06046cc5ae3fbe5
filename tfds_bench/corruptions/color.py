"""Colour conversions of the corruptions: skimage's HSV, OpenCV's grey.

Float64 (HSV) and float32 (grey) as the references; ``nz``/``six`` arguments
make them usable inside XLA (`no_contract`; a division by 6 passed in as a
tensor).
"""

from __future__ import annotations

import functools
import threading

import tensorflow as tf

from tfds_bench.corruptions import ops
from tfds_bench.corruptions.xla_exact import negzero
from tfds_bench.corruptions.xla_exact import no_contract
from tfds_bench.corruptions.xla_exact import operand
from tfds_bench.corruptions.xla_exact import xla_function


def rgb_to_hsv(rgb: tf.Tensor, six=None) -> tf.Tensor:
  """skimage.color.rgb2hsv, float64.

  Differs from tf.image.rgb_to_hsv in tie-breaking: skimage assigns the hue
  for red, then green, then blue maxima, so blue wins ties, then green.
  """
  r, g, b = tf.unstack(rgb, axis=-1)
  v = tf.reduce_max(rgb, axis=-1)
  delta = v - tf.reduce_min(rgb, axis=-1)  # np.ptp
  one, zero = tf.ones_like(v), tf.zeros_like(v)
  safe_delta = tf.where(delta == 0., one, delta)
  safe_v = tf.where(v == 0., one, v)
  s = tf.where(delta == 0., zero, delta / safe_v)
  # skimage's three hue formulas, selected before the division: one division
  # per pixel instead of three, the same value for the selected one.
  blue, green = b == v, g == v
  ratio = tf.where(blue, r - g, tf.where(green, b - r, g - b)) / safe_delta
  h = tf.where(blue, 4. + ratio, tf.where(green, 2. + ratio, ratio))
  # Inside XLA `six` is a tensor argument, so the division stays a division.
  h = ops.divide_exact(h, 6.) if six is None else h / six
  # numpy's h % 1: h is in [-1/6, 5/6] (|ratio| <= 1), where that is h + 1
  # below 0 (-0. stays -0., as fmod keeps it) -- without fmod, which XLA
  # calls per element (it doubled the round trip's time).
  h = tf.where(h < 0., h + 1., h)
  h = tf.where(delta == 0., zero, h)
  return tf.stack([h, s, v], axis=-1)


def hsv_to_rgb(hsv: tf.Tensor, nz=None) -> tf.Tensor:
  """skimage.color.hsv2rgb, float64 (`nz`: inside XLA, see `no_contract`).

  For hue in [0, 1] (rgb2hsv's range, and `rgb_to_hsv`'s), where skimage's
  ``floor(h * 6) % 6`` is the sextant 0..5 (h * 6 == 6 is sextant 0).
  """
  h, s, v = tf.unstack(hsv, axis=-1)
  h6 = no_contract(h * 6., nz)
  hi = tf.floor(h6)
  f = h6 - hi
  p = v * (1. - s)
  q = v * (1. - no_contract(f * s, nz))
  t = v * (1. - no_contract((1. - f) * s, nz))
  # hi is 0..6 here: the % 6 without fmod (see rgb_to_hsv).
  hi = tf.cast(tf.where(hi >= 6., hi - 6., hi), tf.int32)

  def pick(*by_hi):  # skimage's choose over hi = 0..5, as selects
    out = by_hi[5]
    for k in range(4, -1, -1):
      out = tf.where(hi == k, by_hi[k], out)
    return out

  return tf.stack([pick(v, q, p, p, t, v), pick(t, v, v, q, p, p),
                   pick(p, p, t, v, v, q)], axis=-1)


def gray_cv2(x: tf.Tensor, nz=None) -> tf.Tensor:
  """cv2.cvtColor(x, COLOR_RGB2GRAY) for float32 [B, H, W, 3]."""
  r, g, b = tf.unstack(x, axis=-1)
  return (no_contract(r * 0.299, nz) + no_contract(g * 0.587, nz) +
          no_contract(b * 0.114, nz))[..., tf.newaxis]


def hsv_adjust(images: tf.Tensor, channel: int, scale: float, offset: float) -> tf.Tensor:
  """uint8 -> skimage HSV, ``hsv[channel] = clip(hsv[channel] * scale + offset, 0, 1)`` -> uint8.

  ``np.uint8(np.clip(hsv2rgb(hsv), 0, 1) * 255)``: brightness (V += c) and
  saturate (S = S * c0 + c1). A pixel's output depends on its colour alone,
  so this is a lookup in the table of all 2^24 colours that the float64
  computation makes (`hsv_adjust_table`): the same bytes for a fraction of the
  per-image work; a table is built once per process and setting (the first
  build also compiles its program).
  """
  images = tf.convert_to_tensor(images)
  table = hsv_adjust_table(channel, scale, offset)
  batch = images.shape[0]
  if batch is None or batch < 2:
    return _lookup_rgb_xla(images, table)
  # Two lookups a graph can run at once: a lookup that starts cold waits on
  # memory, and two in flight wait half as long per image.
  half = batch // 2
  return tf.concat([_lookup_rgb_xla(images[:half], table),
                    _lookup_rgb_xla(images[half:], table)], 0)


def hsv_adjust_table(channel: int, scale: float, offset: float) -> tf.Tensor:
  """`hsv_adjust` of every colour: int32 ``[2^24]``, the output RGB bytes (and a 0 byte)
  of colour ``(r << 16) | (g << 8) | b``, bitcast. Computed eagerly, also when
  called while tracing (the trace captures the table). The last two settings
  are kept (64 MB each); concurrent first calls compute a table once.
  """
  with _TABLES_LOCK:
    return _hsv_adjust_table(channel, scale, offset)


_TABLES_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _hsv_adjust_table(channel: int, scale: float, offset: float) -> tf.Tensor:
  with tf.init_scope():
    # scale and offset are run-time operands: one program for all severities.
    args = (tf.constant(6., tf.float64), negzero(), channel,
            None if scale == 1 else operand(scale), operand(offset))
    # 2^20 colours per call: its float64 intermediates stay a sixteenth of
    # what all 2^24 at once would hold; one compiled program for every part.
    return tf.concat([_hsv_adjust_table_part_xla(tf.constant(first, tf.int32), *args)
                      for first in range(0, 1 << 24, _TABLE_PART)], 0)


_TABLE_PART = 1 << 20


@xla_function
def _hsv_adjust_table_part_xla(first, six, nz, channel, scale, offset):
  """The table's entries ``first .. first + _TABLE_PART``: those colours as a
  [16, 256, 256, 3] image (r, g, b) through the same per-pixel program, packed."""
  code = first + tf.range(_TABLE_PART, dtype=tf.int32)
  colours = tf.cast(tf.stack([code // 65536, code // 256 % 256, code % 256], -1), tf.uint8)
  out = _hsv_adjust_xla(tf.reshape(colours, [16, 256, 256, 3]), six, nz, channel, scale, offset)
  return tf.reshape(tf.bitcast(tf.pad(out, [[0, 0], [0, 0], [0, 0], [0, 1]]), tf.int32),
                    [_TABLE_PART])


@xla_function
def _lookup_rgb_xla(images, table):
  x = tf.cast(images, tf.int32)
  index = (x[..., 0] * 256 + x[..., 1]) * 256 + x[..., 2]
  return tf.bitcast(tf.gather(table, index), tf.uint8)[..., :3]


@xla_function
def _hsv_adjust_xla(images, six, nz, channel, scale, offset):
  hsv = rgb_to_hsv(ops.to_unit(images), six)
  chans = tf.unstack(hsv, axis=-1)
  adj = chans[channel]
  if scale is not None:
    adj = no_contract(adj * scale, nz)
  chans[channel] = tf.clip_by_value(adj + offset, 0., 1.)
  return ops.unit_to_uint8(hsv_to_rgb(tf.stack(chans, axis=-1), nz))
