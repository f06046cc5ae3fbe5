"""ImageNet-C: the release pipeline per image, archive reading, and scoring.

Shared by the `bench_imagenet_c` builder (which generates ImageNet-C from the
ImageNet validation archive when the released archives are not at hand) and by
on-the-fly evaluation, so that both produce exactly the same pixels.

The release (Hendrycks & Dietterich 2019) was made by hendrycks/robustness
`ImageNet-C/create_c/make_imagenet_c.py`: PIL `convert("RGB")` ->
torchvision `Resize(256)` (shorter side to 256, PIL bilinear) ->
`CenterCrop(224)` -> corruption on the 224x224 image -> `np.uint8` ->
`PIL.Image.save(quality=85, optimize=True)`. `release_preprocess` and
`corrupt_and_encode` replicate that with PIL itself (PIL is the reference's
resize and encoder; no TF re-implementation to drift from it) and
`tfds_bench.corruptions.apply` for the corruption.

Randomness: the release drew from numpy's global stream, which cannot be
reproduced; here each image gets its own seed, `image_seed(base_seed,
file_name)`, so a generated set is reproducible and any subset of images can be
generated independently (in parallel, on Beam). The corruption module mixes the
corruption's name into the seed; the seed does not depend on the severity.

Scoring (`score_imagenet_c`): top-1 error per `<corruption>_<severity>`, per
corruption (mean over severities), mCE and relative mCE normalised by AlexNet
(`tfds_bench.metrics.corruption`), and the clean error they are relative to.

This module imports TensorFlow and `tfds_bench.benchmarks` lazily: scoring
saved predictions never loads TensorFlow, and `benchmarks` may import this
module to add the `imagenet_c` row without an import cycle.
"""

from __future__ import annotations

import io
import os
import tarfile
from typing import (TYPE_CHECKING, Callable, Dict, Iterator, List,
                    Mapping, Optional, Sequence, Tuple)

import numpy as np
import PIL.Image

from tfds_bench import archives
from tfds_bench import errors
from tfds_bench import labels
from tfds_bench.corruptions import HELDOUT_NAMES, NAMES, SEVERITIES, TEST_NAMES

if TYPE_CHECKING:  # Only for annotations; see the module doc on lazy imports.
  from tfds_bench.benchmarks import Result, Source
  from tfds_bench.predictions import Predictions

BENCHMARK_ID = "imagenet_c"
BUILDER_NAME = "bench_imagenet_c"

# Release pipeline constants (make_imagenet_c.py).
RESIZE_SHORTER_SIDE = 256
CROP_SIZE = 224
JPEG_QUALITY = 85

# The Zenodo record holding the released archives, and the archive (category)
# of each corruption. Contents as listed by the release's users (e.g. noise.tar
# 21 GB: gaussian_noise, shot_noise, impulse_noise); md5 sums in the builder's
# checksums.tsv.
ZENODO_RECORD = "https://zenodo.org/record/2235448"
ARCHIVE_CORRUPTIONS: Dict[str, Tuple[str, ...]] = {
    "noise.tar": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur.tar": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather.tar": ("snow", "frost", "fog", "brightness"),
    "digital.tar": ("contrast", "elastic_transform", "pixelate",
                    "jpeg_compression"),
    "extra.tar": ("speckle_noise", "gaussian_blur", "spatter", "saturate"),
}
ARCHIVE_OF: Dict[str, str] = {
    c: archive for archive, names in ARCHIVE_CORRUPTIONS.items() for c in names}

VAL_ARCHIVE_NAME = "ILSVRC2012_img_val.tar"
VAL_ARCHIVE_URL = "https://image-net.org/challenges/LSVRC/2012/2012-downloads.php"
NUM_VAL_IMAGES = 50_000

# Seeds: image_seed = base_seed * _SEEDS_PER_BASE + file number. The
# corruption module keeps 31 bits of the seed, so the result must stay below
# 2**31 for distinct images to get distinct draws.
DEFAULT_BASE_SEED = 0
_SEEDS_PER_BASE = 100_000
MAX_BASE_SEED = (2**31 - 1 - NUM_VAL_IMAGES) // _SEEDS_PER_BASE


def config_name(corruption: str, severity: int) -> str:
  """`gaussian_noise`, 3 -> `gaussian_noise_3` (the builder config name)."""
  return f"{corruption}_{severity}"


def parse_config_name(name: str) -> Tuple[str, int]:
  """`gaussian_noise_3` -> (`gaussian_noise`, 3); raises on unknown names."""
  corruption, _, severity = name.rpartition("_")
  if corruption not in NAMES or severity not in {str(s) for s in SEVERITIES}:
    raise ValueError(
        f"{name!r} is not an ImageNet-C config; expected <corruption>_<1..5> "
        f"with corruption one of {', '.join(NAMES)}")
  return corruption, int(severity)


# --- the release pipeline, per image ------------------------------------------

def image_seed(base_seed: int, file_name: str) -> int:
  """The corruption seed of one val image: `base_seed * 100000 + number`.

  Deterministic in (base seed, file number) only, so generation is
  reproducible and parallelisable, and distinct images get distinct seeds.

  Args:
    base_seed: 0..MAX_BASE_SEED (21474); 0 is what the builder uses.
    file_name: an ImageNet val file name (`ILSVRC2012_val_00000001.JPEG`,
      optionally with folders in front).

  Returns:
    A seed in [0, 2**31).
  """
  if not 0 <= base_seed <= MAX_BASE_SEED:
    raise ValueError(f"base_seed must be in 0..{MAX_BASE_SEED}, got {base_seed}")
  return base_seed * _SEEDS_PER_BASE + labels.val_file_number(file_name)


def resize_shorter_side(image: PIL.Image.Image, size: int) -> PIL.Image.Image:
  """torchvision `Resize(size)` on a PIL image: shorter side to `size`.

  torchvision computes the longer side as `int(size * long / short)`
  (truncation) and calls PIL's `resize` with bilinear interpolation.
  """
  width, height = image.size
  if width <= height:
    new_width, new_height = size, int(size * height / width)
  else:
    new_width, new_height = int(size * width / height), size
  if (new_width, new_height) == (width, height):
    return image
  return image.resize((new_width, new_height), PIL.Image.Resampling.BILINEAR)


def _center_crop(image: PIL.Image.Image, size: int) -> PIL.Image.Image:
  """torchvision `CenterCrop(size)`: offsets `int(round((dim - size) / 2))`.

  Python 3's round() rounds halves to even, as torchvision's does.
  """
  width, height = image.size
  top = int(round((height - size) / 2.0))
  left = int(round((width - size) / 2.0))
  return image.crop((left, top, left + size, top + size))


def decode_rgb(image_bytes: bytes, where: str = "image") -> PIL.Image.Image:
  """PIL decode and ``convert("RGB")`` (CMYK and grayscale images too).

  Raises:
    DamagedInputError: the bytes are not a readable image; names ``where``.
  """
  try:
    with PIL.Image.open(io.BytesIO(image_bytes)) as image:
      return image.convert("RGB")
  except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError,
          EOFError) as e:
    raise errors.DamagedInputError(
        f"{where} is not a readable image ({type(e).__name__}: {e}); the "
        "archive is damaged, download it again.") from e


def release_preprocess(image_bytes: bytes, where: str = "image") -> np.ndarray:
  """Decodes an ImageNet image the way the release did, before corrupting.

  PIL decode, `convert("RGB")` (CMYK and grayscale images too),
  Resize(256) on the shorter side with PIL bilinear, CenterCrop(224).

  Args:
    image_bytes: the encoded image (an `ILSVRC2012_img_val.tar` member).
    where: what the bytes are, for the error message.

  Returns:
    uint8 `[224, 224, 3]`.

  Raises:
    DamagedInputError: the bytes are not a readable image.
  """
  cropped = _center_crop(resize_shorter_side(decode_rgb(image_bytes, where), RESIZE_SHORTER_SIDE),
                         CROP_SIZE)
  return np.asarray(cropped, dtype=np.uint8)


def encode_jpeg(image: np.ndarray) -> bytes:
  """PIL JPEG at quality 85 with optimised Huffman tables, as released."""
  buffer = io.BytesIO()
  PIL.Image.fromarray(np.asarray(image, dtype=np.uint8)).save(
      buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
  return buffer.getvalue()


def corrupt(image: np.ndarray, corruption: str, severity: int,
            seed: int) -> np.ndarray:
  """`tfds_bench.corruptions.apply` on one uint8 `[H, W, 3]` image, as numpy."""
  from tfds_bench import corruptions  # pylint: disable=g-import-not-at-top
  return np.asarray(corruptions.apply(image, corruption, severity, seed),
                    dtype=np.uint8)


def corrupt_and_encode(image_bytes: bytes, file_name: str, corruption: str,
                       severity: int, base_seed: int = DEFAULT_BASE_SEED,
                       where: Optional[str] = None) -> bytes:
  """One ImageNet-C image from one ImageNet val image, as the release made it.

  Args:
    image_bytes: the encoded val image.
    file_name: its val file name (sets the seed, see `image_seed`).
    corruption: one of `tfds_bench.corruptions.NAMES`.
    severity: 1..5.
    base_seed: see `image_seed`.
    where: what the bytes are, for error messages (default: `file_name`).

  Returns:
    The bytes of a 224x224 RGB JPEG (quality 85, optimize=True).
  """
  image = release_preprocess(image_bytes, where or file_name)
  corrupted = corrupt(image, corruption, severity,
                      image_seed(base_seed, file_name))
  return encode_jpeg(corrupted)


# --- reading the archives ---------------------------------------------------------

def check_val_member(name: str, archive: os.PathLike | str) -> Tuple[str, int]:
  """(file name, label) of a flat `ILSVRC2012_img_val.tar` member; or raises."""
  try:
    number = labels.val_file_number(name)
  except ValueError:
    number = 0
  if "/" in name or not 1 <= number <= NUM_VAL_IMAGES:
    raise errors.DamagedInputError(
        f"Unexpected member {name!r} in {archive}: expected only "
        "ILSVRC2012_val_00000001.JPEG .. ILSVRC2012_val_00050000.JPEG. Is this "
        f"the released {VAL_ARCHIVE_NAME}?")
  return name, int(labels.val_labels()[number - 1])


def iter_val_images(archive: os.PathLike | str
                    ) -> Iterator[Tuple[str, int, bytes]]:
  """(file name, label, encoded bytes) of every member of the val archive."""
  for name, data in archives.iter_members(archive):
    file_name, label = check_val_member(name, archive)
    yield file_name, label, data


class NotPlainTarError(errors.DamagedInputError):
  """The archive is not an uncompressed tar, so it cannot be indexed."""


def index_uncompressed_tar(archive: os.PathLike | str
                           ) -> List[Tuple[str, int, int]]:
  """(member name, data offset, size) of the regular files of a plain tar.

  Lets a reader (or a Beam worker) read single members by seeking
  (`read_member_at`) instead of streaming the whole archive. Only headers are
  read.

  Raises:
    NotPlainTarError: not an uncompressed tar.
    DamagedInputError: an unsafe or duplicate member, or a truncated tar.
  """
  entries = []
  try:
    with tarfile.open(archive, mode="r:") as tar:
      for member in tar:
        if member.isdir():
          continue
        name = archives.check_member_name(member.name, archive)
        if not member.isfile():
          raise errors.DamagedInputError(
              f"Refusing member {member.name!r} of {archive}: only regular "
              "files and folders are expected.")
        if archives.is_os_metadata(name):
          continue
        entries.append((name, member.offset_data, member.size))
      # tarfile takes a tar cut at a header boundary for a shorter complete
      # one; a complete tar has an all-zero block after the last member.
      tar.fileobj.seek(tar.offset)
      if tar.fileobj.read(tarfile.BLOCKSIZE) != tarfile.NUL * tarfile.BLOCKSIZE:
        raise errors.DamagedInputError(
            f"{archive} is truncated (no end-of-archive marker after "
            f"{len(entries)} files): download it again.")
  except tarfile.ReadError as e:
    raise NotPlainTarError(
        f"Cannot index {archive} ({e}): it is not an uncompressed tar as "
        "released.") from e
  seen = set()
  for name, _, _ in entries:
    if name in seen:
      raise errors.DamagedInputError(
          f"Member {name!r} occurs twice in {archive}; refusing to guess "
          "which copy is meant.")
    seen.add(name)
  return entries


def read_member_at(archive: os.PathLike | str, offset: int, size: int,
                   name: str) -> bytes:
  """The `size` bytes at `offset` of an archive (one indexed tar member)."""
  with open(archive, "rb") as f:
    f.seek(offset)
    data = f.read(size)
  if len(data) != size:
    raise errors.DamagedInputError(
        f"Member {name!r} of {archive} is truncated ({len(data)} of {size} "
        "bytes): the archive is damaged, download it again.")
  return data


def iter_released_members(archive: os.PathLike | str, corruption: str,
                          severity: int) -> Iterator[Tuple[str, str, bytes]]:
  """Images of one config in a released archive: (wnid, file name, bytes).

  Released layout (no top folder): `<corruption>/<severity>/<wnid>/<file>`.
  An uncompressed tar (as released) is read header by header and only this
  config's members are read, so a config costs 1/15 or 1/20 of the archive;
  other archives are streamed with `tfds_bench.archives`. Members of the
  archive's other corruptions and severities are passed over; any other
  member is an error naming it.

  Raises:
    DamagedInputError: an unexpected or unsafe member, or none of this
      config.
  """
  archive_name = os.path.basename(os.fspath(archive))
  expected_corruptions = ARCHIVE_CORRUPTIONS.get(archive_name, NAMES)
  prefix = f"{corruption}/{severity}/"
  severities = {str(s) for s in SEVERITIES}

  def is_other_config(name: str) -> bool:
    parts = name.split("/")
    if (len(parts) != 4 or parts[0] not in expected_corruptions
        or parts[1] not in severities):
      raise errors.DamagedInputError(
          f"Unexpected member {name!r} in {archive}: expected "
          f"'<corruption>/<severity>/<wnid>/<file>' with corruption one of "
          f"{', '.join(expected_corruptions)}. Is this the released "
          f"{archive_name}?")
    return not name.startswith(prefix)

  found = 0
  for name, data in _iter_selected_members(archive, is_other_config):
    _, _, wnid, file_name = name.split("/")
    found += 1
    yield wnid, file_name, archives.ensure_rgb_jpeg(
        data, f"member {name!r} of {archive}")
  if not found:
    raise errors.DamagedInputError(
        f"{archive} has no images under {prefix!r}: is it the released "
        f"{archive_name} (which holds {', '.join(expected_corruptions)})?")


def _iter_selected_members(archive: os.PathLike | str,
                           skip: Callable[[str], bool]
                           ) -> Iterator[Tuple[str, bytes]]:
  """Members for which `skip(name)` is False, reading only their data."""
  try:
    entries = index_uncompressed_tar(archive)
  except NotPlainTarError:
    # Compressed tar or zip: stream it (reads every member's data).
    for name, data in archives.iter_members(archive):
      if not skip(name):
        yield name, data
    return
  # Sorted like tfds_bench.archives does for plain tars.
  for name, offset, size in sorted(entries):
    if not skip(name):
      yield name, read_member_at(archive, offset, size, name)


def generate_example(entry: Tuple[str, int, int], archive: str,
                     corruption: str, severity: int,
                     base_seed: int = DEFAULT_BASE_SEED
                     ) -> Tuple[str, Dict[str, object]]:
  """(key, example) of one generated image from an indexed val-tar member.

  A module-level function of picklable arguments, so that Beam workers can
  run it (`entry` comes from `index_uncompressed_tar`).
  """
  name, offset, size = entry
  file_name, label = check_val_member(name, archive)
  data = read_member_at(archive, offset, size, name)
  image = corrupt_and_encode(data, file_name, corruption, severity, base_seed,
                             where=f"member {name!r} of {archive}")
  return file_name, {"image": image, "label": label, "file_name": file_name}


# --- scoring ------------------------------------------------------------------

# Figures `score_imagenet_c` reports, for the benchmark table's `metrics`.
METRICS = ("mce", "relative_mce", "clean_error", "clean_top1")


def _top1_error(benchmark: str, what: str, predictions: "Predictions"
                ) -> Tuple[float, int]:
  """(top-1 error, n) of labelled predictions; raises on missing labels."""
  label = np.asarray(predictions.label)
  if len(label) == 0:
    raise errors.UserError(f"{benchmark}: no predictions for {what}")
  if (label < 0).any():
    raise errors.UserError(
        f"{benchmark}: {int((label < 0).sum())} of {len(label)} images of "
        f"{what} have no label")
  top1 = np.asarray(predictions.top5)[:, 0]
  return float(np.mean(top1 != label)), len(label)


def score_imagenet_c(predictions_by_config: Mapping[str, "Predictions"],
                     clean: "Predictions",
                     benchmark: str = BENCHMARK_ID) -> List["Result"]:
  """ImageNet-C figures from per-config predictions and clean predictions.

  Reported (values are fractions; `n` as stated):
    * `error/<corruption>_<severity>`: top-1 error; n = images of the config.
    * `error/<corruption>`: mean of the 5 severities' errors (only when all
      5 are given); n = image evaluations averaged over (sum over severities,
      250,000 for a full corruption).
    * `mce`, `relative_mce`: over the 15 test corruptions, AlexNet-normalised
      with the shipped numbers (`tfds_bench.metrics.mce` / `relative_mce`;
      only when all 15 x 5 configs are given); n = corrupted-image
      evaluations they average over (750,000 in full; the clean images are
      counted in `clean_error`'s n instead).
    * `clean_error`, `clean_top1`: of `clean`, which relative mCE uses;
      n = its images.

  Args:
    predictions_by_config: `{"<corruption>_<severity>": Predictions}`.
    clean: predictions on the clean images (ImageNet val) of the same files.
    benchmark: benchmark name written into the results.

  Returns:
    `tfds_bench.benchmarks.Result` rows.

  Raises:
    UserError: unknown config, missing labels, or a config whose images are
      not the clean set's images.
  """
  from tfds_bench import metrics  # pylint: disable=g-import-not-at-top
  from tfds_bench.benchmarks import Result  # pylint: disable=g-import-not-at-top

  clean_error, clean_n = _top1_error(benchmark, "the clean images", clean)
  clean_files = set(np.asarray(clean.file_name).astype(str).tolist())
  per_config: Dict[str, Dict[int, Tuple[float, int]]] = {}
  results = []
  for name in sorted(predictions_by_config, key=_config_sort_key):
    try:
      corruption, severity = parse_config_name(name)
    except ValueError as e:
      raise errors.UserError(f"{benchmark}: {e}") from None
    predictions = predictions_by_config[name]
    files = set(np.asarray(predictions.file_name).astype(str).tolist())
    if files != clean_files:
      raise errors.UserError(
          f"{benchmark}: {name} has {len(files)} images, "
          f"{len(files - clean_files)} of them not among the "
          f"{len(clean_files)} clean images (and {len(clean_files - files)} "
          "clean images missing): errors relative to the clean error need the "
          "same images")
    error, n = _top1_error(benchmark, name, predictions)
    per_config.setdefault(corruption, {})[severity] = (error, n)
    results.append(Result(benchmark, f"error/{name}", error, n))

  complete: Dict[str, List[float]] = {}
  for corruption in NAMES:
    by_severity = per_config.get(corruption, {})
    if set(by_severity) != set(SEVERITIES):
      continue
    severity_errors = [by_severity[s][0] for s in SEVERITIES]
    complete[corruption] = severity_errors
    results.append(Result(benchmark, f"error/{corruption}",
                          float(np.mean(severity_errors)),
                          sum(by_severity[s][1] for s in SEVERITIES)))

  if all(c in complete for c in TEST_NAMES):
    n = sum(per_config[c][s][1] for c in TEST_NAMES for s in SEVERITIES)
    test_errors = {c: complete[c] for c in TEST_NAMES}
    results.append(Result(benchmark, "mce", metrics.mce(test_errors), n))
    results.append(Result(benchmark, "relative_mce",
                          metrics.relative_mce(test_errors, clean_error), n))
  results.append(Result(benchmark, "clean_error", clean_error, clean_n))
  results.append(Result(benchmark, "clean_top1", 1.0 - clean_error, clean_n))
  return results


def _config_sort_key(name: str):
  # Paper order of corruptions, then severity; unknown names last (they raise).
  try:
    corruption, severity = parse_config_name(name)
  except ValueError:
    return (len(NAMES), 0, name)
  return (NAMES.index(corruption), severity, name)


def imagenet_c_sources(corruptions: Sequence[str] = NAMES,
                       severities: Sequence[int] = SEVERITIES
                       ) -> Tuple["Source", ...]:
  """`benchmarks.Source` rows, one per `bench_imagenet_c/<corruption>_<s>`."""
  from tfds_bench.benchmarks import Source  # pylint: disable=g-import-not-at-top
  sources = []
  for corruption in corruptions:
    if corruption not in NAMES:
      raise ValueError(f"unknown corruption {corruption!r}; known: {', '.join(NAMES)}")
    for severity in severities:
      if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of 1..5, got {severity!r}")
      builder = f"{BUILDER_NAME}/{config_name(corruption, severity)}"
      sources.append(Source(
          key=f"{builder}:test", builder=builder, split="test",
          manual_files=(f"{ARCHIVE_OF[corruption]} (ImageNet-C release, "
                        f"{ZENODO_RECORD}) or, to generate it, "
                        f"{VAL_ARCHIVE_NAME}")))
  return tuple(sources)


def benchmark_scorer(sources: Sequence["Source"], benchmark: str = BENCHMARK_ID
                     ) -> Callable[..., List["Result"]]:
  """`Benchmark.score` for sources `(clean val source,) + sources`.

  The returned function receives one Predictions per source, in order: the
  clean ImageNet val predictions first, then one per ImageNet-C config; and
  optionally the table's scoring context, which it does not need.
  """
  names = [s.builder.split("/", 1)[1] for s in sources]

  def score(predictions: Sequence["Predictions"],
            context: object = None) -> List["Result"]:
    del context  # Everything needed is in the predictions.
    if len(predictions) != len(names) + 1:
      raise ValueError(
          f"{benchmark}: expected {len(names) + 1} predictions (clean + "
          f"{len(names)} configs), got {len(predictions)}")
    clean, *corrupted = predictions
    return score_imagenet_c(dict(zip(names, corrupted)), clean, benchmark)

  return score


__all__ = [
    "ARCHIVE_CORRUPTIONS", "ARCHIVE_OF", "BENCHMARK_ID", "CROP_SIZE",
    "HELDOUT_NAMES", "JPEG_QUALITY", "METRICS", "NAMES", "TEST_NAMES",
    "VAL_ARCHIVE_NAME", "benchmark_scorer", "config_name", "corrupt",
    "corrupt_and_encode", "encode_jpeg", "image_seed", "imagenet_c_sources",
    "iter_released_members", "iter_val_images", "parse_config_name",
    "release_preprocess", "score_imagenet_c",
]


# --- on the fly ------------------------------------------------------------------

def _release_crop_and_seed(image_bytes: bytes, file_name: bytes, base_seed: int):
  """numpy side of `corrupt_on_the_fly`: PIL release crop, per-image seed."""
  name = file_name.decode()
  return (release_preprocess(image_bytes, name),
          np.int64(image_seed(base_seed, name)))


def corrupt_on_the_fly(dataset, corruption: str, severity: int,
                       base_seed: int = DEFAULT_BASE_SEED):
  """ImageNet val examples -> ImageNet-C examples, inside tf.data.

  Each element's ``image`` (encoded val image bytes) goes through exactly the
  builder's generation: PIL resize 256 / center crop 224 (`release_preprocess`,
  in a ``tf.numpy_function``), the corruption engine with the image's own seed
  (`image_seed`, as a tensor), and a JPEG quality-85 round trip; ``label`` and
  ``file_name`` pass through. The output ``image`` is the encoded JPEG, so
  the rest of the input pipeline is unchanged, and no corrupted copy of the
  val set is ever written to disk.
  """
  from tfds_bench import corruptions  # pylint: disable=g-import-not-at-top
  parse_config_name(config_name(corruption, severity))  # validates both
  return _generate_on_the_fly(
      dataset, base_seed,
      lambda crop, seed: corruptions.apply(crop, corruption, severity, seed=seed))


def _generate_on_the_fly(dataset, base_seed: int, corrupt: Optional[Callable] = None):
  """`corrupt_on_the_fly`'s tf.data map; ``corrupt(crop, seed)`` None = crop only.

  Crop only is the generation cost without a corruption
  (benchmarks/imagenet_c_on_the_fly.py's baseline row).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def generate(example):
    crop, seed = tf.numpy_function(
        lambda data, name: _release_crop_and_seed(data, name, base_seed),
        [example["image"], example["file_name"]], [tf.uint8, tf.int64], stateful=False)
    crop.set_shape([CROP_SIZE, CROP_SIZE, 3])
    seed.set_shape([])
    image = crop if corrupt is None else corrupt(crop, seed)
    out = {k: v for k, v in example.items() if k != "image"}
    # TF's libjpeg at quality 85 decodes to the same pixels as PIL's quality-85
    # file (optimize=True only changes the Huffman tables, which is lossless).
    out["image"] = tf.io.encode_jpeg(image, quality=JPEG_QUALITY)
    return out

  return dataset.map(generate, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
