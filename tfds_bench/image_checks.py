"""Checks on user-supplied image files, with errors that name the file and the fix.

Two layers, so that the happy path stays fast:

* ``check_image_file(path)``: a header-only check (PIL reads a few hundred
  bytes, no pixel is decoded) run on every file of an ``--image_folder``
  before anything is decoded. It refuses, naming the file:
  empty files, files that are not an image at all, formats TensorFlow cannot
  decode (TIFF, PSD, ... named ``.jpg``), and images with more than
  ``MAX_PIXELS`` pixels (decompression bombs, see below). CMYK and grayscale
  JPEGs and PNGs named ``.JPEG`` pass: the pipeline decodes them correctly by
  content (``tf.io.is_jpeg`` / ``decode_image``), to RGB.
  ``full_decode=True`` also decodes the pixels with PIL (catches truncated
  files; it decodes every image once more, so not the default).

* ``explain_decode_error(dataset, crop_fraction, error, start)``: a truncated
  or corrupt image only shows up when TensorFlow decodes it, inside a parallel
  ``tf.data`` map, as a bare ``InvalidArgumentError`` ("jpeg::Uncompress
  failed") that names no file. On that (rare) failure, this re-decodes the
  examples from ``start`` one at a time, eagerly, with the pipeline's own
  decode, finds the first one that fails and returns a ``DamagedInputError``
  naming it. It costs nothing until something fails.

Pixel limit. ``MAX_PIXELS`` = 89,478,485, PIL's ``Image.MAX_IMAGE_PIXELS``
default (a 24-bit image of 256 MiB). The pipeline casts the central crop to
float32 before resizing, so an image at the limit already needs ~0.25 GiB
decoded plus ~0.8 GiB of float32 crop per parallel decode; TensorFlow's own
limits are higher (JPEG: 2^29 bytes decoded; PNG: 2^31 - 1 bytes), and a
20000 x 20000 PNG of one colour is a ~1 MB file that would take ~5 GB. No
ImageNet-family test image comes near the limit (ImageNet val's largest is
under 20 MP). A caller who really has larger images passes ``max_pixels``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Optional

import PIL.Image

from tfds_bench import errors

# PIL's default decompression-bomb threshold: 1024 * 1024 * 1024 // 4 // 3.
MAX_PIXELS = 89_478_485
# Formats tf.io.decode_image reads (what PIL calls them).
TF_DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP")


@dataclasses.dataclass(frozen=True)
class ImageInfo:
  """What the header of an image file says."""
  path: str
  format: str
  mode: str
  width: int
  height: int


def _fix(path: str) -> str:
  return f"re-copy {path} from its source, or delete it"


def _too_large(path: str, what: str, max_pixels: int) -> str:
  return (f"image {path} is too large to decode safely: {what}, above the limit of "
          f"{max_pixels:,} pixels (PIL's decompression-bomb limit; decoding it could take many "
          "GB of memory): downscale it, or if it is genuine pass a larger max_pixels to "
          "tfds_bench.image_checks")


def check_image_file(path: str, *, max_pixels: int = MAX_PIXELS,
                     full_decode: bool = False) -> ImageInfo:
  """Refuses a file the pipeline could not (or should not) decode.

  Args:
    path: the image file.
    max_pixels: largest accepted width * height.
    full_decode: also decode the pixels with PIL (finds truncated data).

  Returns:
    The header's format, mode and size.

  Raises:
    errors.DamagedInputError: the message names the file, what is wrong and
      the fix.
  """
  path = os.fspath(path)
  try:
    size = os.path.getsize(path)
  except OSError as e:
    raise errors.DamagedInputError(f"cannot read image {path}: {e.strerror}") from None
  if size == 0:
    raise errors.DamagedInputError(f"image {path} is empty (0 bytes): {_fix(path)}")
  try:
    with warnings.catch_warnings():
      # Our own limit applies below; PIL only warns between its limit and
      # twice it (and raises DecompressionBombError above, handled below).
      warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
      with PIL.Image.open(path) as image:
        info = ImageInfo(path, str(image.format), image.mode, *image.size)
        if full_decode and info.width * info.height <= max_pixels:
          image.load()  # raises on truncated data (LOAD_TRUNCATED_IMAGES is off)
  except PIL.Image.DecompressionBombError as e:
    raise errors.DamagedInputError(_too_large(path, str(e).split(",")[0], max_pixels)) from None
  except PIL.UnidentifiedImageError:
    with open(path, "rb") as f:
      head = f.read(8)
    raise errors.DamagedInputError(
        f"{path} is not an image PIL or TensorFlow can read (starts with {head!r}): "
        f"{_fix(path)}, or convert it to JPEG or PNG") from None
  except (OSError, SyntaxError, ValueError, EOFError) as e:
    raise errors.DamagedInputError(
        f"image {path} is damaged ({type(e).__name__}: {e}), e.g. truncated by an "
        f"interrupted copy: {_fix(path)}") from None
  if info.format not in TF_DECODABLE_FORMATS:
    raise errors.DamagedInputError(
        f"image {path} is a {info.format} file, which TensorFlow cannot decode: convert it "
        f"to JPEG or PNG (e.g. PIL.Image.open(p).convert('RGB').save(p2, 'JPEG', quality=95))")
  if info.width * info.height > max_pixels:
    raise errors.DamagedInputError(_too_large(
        path, f"it claims {info.width} x {info.height} = {info.width * info.height:,} pixels",
        max_pixels))
  if info.width == 0 or info.height == 0:
    raise errors.DamagedInputError(f"image {path} has no pixels ({info.width} x {info.height}): "
                                   f"{_fix(path)}")
  return info


def _as_text(value) -> str:
  return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def find_undecodable(dataset, crop_fraction: float, start: int = 0,
                     limit: Optional[int] = None):
  """(index, file_name, TF error message) of the first example whose image the
  pipeline cannot decode, from ``start`` on; None if every one decodes.

  Decodes one example at a time, eagerly, with ``preprocessing.decode_and_crop``
  (the pipeline's own decode), so exactly what failed in the pipeline fails here.
  ``limit`` bounds how many examples are tried.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tfds_bench import preprocessing  # lazy: tensorflow
  examples = dataset.skip(start) if start else dataset
  if limit is not None:
    examples = examples.take(limit)
  for offset, example in enumerate(examples):
    try:
      preprocessing.decode_and_crop(example["image"], crop_fraction)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError,
            tf.errors.ResourceExhaustedError) as e:
      name = _as_text(example["file_name"].numpy()) if "file_name" in example else "?"
      return start + offset, name, e.message.split("[Op:")[0].strip()
  return None


def explain_decode_error(dataset, crop_fraction: float, error: Exception,
                         start: int = 0, limit: Optional[int] = None) -> Exception:
  """The error to raise instead of a pipeline error that names no image.

  Args:
    dataset: the examples (encoded ``image``, ``file_name``) given to
      ``input_pipeline.batches``.
    crop_fraction: the model's ``Preprocessing.crop_fraction``.
    error: what iterating the batched pipeline raised.
    start: examples already consumed without error (the failing one comes
      at or after this index, since batches are produced in order).
    limit: how many examples from ``start`` to try (e.g. twice the batch
      size: a deterministic pipeline raises when the batch holding the bad
      example is fetched), so that an error from elsewhere does not cost a
      decode of the whole rest of the dataset. None: no bound.

  Returns:
    A ``DamagedInputError`` naming the first image that does not decode, or
    ``error`` itself when every image decodes (the failure was elsewhere).
  """
  found = find_undecodable(dataset, crop_fraction, start, limit)
  if found is None:
    return error
  index, name, message = found
  return errors.DamagedInputError(
      f"image {name!r} (example {index}) cannot be decoded: {message}. The file is "
      "truncated or corrupt (e.g. an interrupted copy or download): re-copy it from its "
      "source, or delete it")
