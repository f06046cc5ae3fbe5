"""ImageNet-C as released: configs, the release pipeline per image, archive layout.

The release (Hendrycks & Dietterich 2019) was made by hendrycks/robustness
`ImageNet-C/create_c/make_imagenet_c.py`: PIL `convert("RGB")` ->
torchvision `Resize(256)` (shorter side to 256, PIL bilinear) ->
`CenterCrop(224)` -> corruption on the 224x224 image -> `np.uint8` ->
`PIL.Image.save(quality=85, optimize=True)`. `release_preprocess` and
`corrupt_and_encode` replicate that with PIL itself and
`tfds_bench.corruptions.apply` for the corruption, with the per-image seed of
`tfds_bench.release.common.image_seed` (which does not depend on the
severity).

Used by the `bench_imagenet_c` and `bench_sample_c` builders and by
`corrupt_on_the_fly` (evaluation straight from the val images), so all three
produce the same pixels.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import PIL.Image

from tfds_bench import archives
from tfds_bench import corruptions
from tfds_bench import errors
from tfds_bench import threads
from tfds_bench.release import common

BUILDER_NAME = "bench_imagenet_c"
NAMES = corruptions.NAMES
TEST_NAMES = corruptions.TEST_NAMES
HELDOUT_NAMES = corruptions.HELDOUT_NAMES
SEVERITIES = corruptions.SEVERITIES

JPEG_QUALITY = 85
# Images per compiled call in `generate_images` (`corrupt_group`): a larger
# group pays the call's fixed cost over more images; past 16 the gain is
# small, and the peak memory stayed the same (2 threads, all 19 corruptions).
GROUP_SIZE = 32

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


# Corruptions a `Config` may name: ImageNet-C's, then ImageNet-C-bar's.
_CONFIG_NAMES = corruptions.NAMES + corruptions.C_BAR_NAMES


@dataclasses.dataclass(frozen=True, order=True)
class Config:
  """One config of a corruption set made with this pipeline, (corruption,
  severity), checked when made: ImageNet-C's 19 corruptions, or
  ImageNet-C-bar's 10 (`release.imagenet_c_bar` generates with the same
  pipeline).

  Orders as the papers list them: ImageNet-C's corruptions in `NAMES` order,
  then C-bar's, then severity.
  """
  corruption_index: int = dataclasses.field(init=False, repr=False)
  corruption: str
  severity: int

  def __post_init__(self):
    if self.corruption not in _CONFIG_NAMES or self.severity not in SEVERITIES:
      raise ValueError(
          f"({self.corruption!r}, {self.severity!r}) is not an ImageNet-C config; "
          f"expected a corruption of {', '.join(_CONFIG_NAMES)} and a severity 1..5")
    object.__setattr__(self, "corruption_index", _CONFIG_NAMES.index(self.corruption))

  @property
  def name(self) -> str:
    """The builder config name, `gaussian_noise_3`."""
    return f"{self.corruption}_{self.severity}"

  @classmethod
  def parse(cls, name: str) -> "Config":
    """`gaussian_noise_3` -> Config("gaussian_noise", 3); raises ValueError on others."""
    corruption, _, severity = name.rpartition("_")
    if corruption not in _CONFIG_NAMES or severity not in {str(s) for s in SEVERITIES}:
      raise ValueError(
          f"{name!r} is not an ImageNet-C config; expected <corruption>_<1..5> "
          f"with corruption one of {', '.join(_CONFIG_NAMES)}")
    return cls(corruption, int(severity))


ALL_CONFIGS = tuple(Config(c, s) for c in NAMES for s in SEVERITIES)  # ImageNet-C's 95


# --- the release pipeline, per image ------------------------------------------

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
  cropped = common.center_crop(common.resize_shorter_side(
      common.decode_rgb(image_bytes, where)))
  return np.asarray(cropped, dtype=np.uint8)


def _check_seed(seed: int) -> None:
  if not 0 <= seed < 2**31:
    raise ValueError(f"seed must be in [0, 2**31), got {seed}")


def encode_jpeg(image: np.ndarray) -> bytes:
  """PIL JPEG at quality 85 with optimised Huffman tables, as released."""
  buffer = io.BytesIO()
  PIL.Image.fromarray(np.asarray(image, dtype=np.uint8)).save(
      buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
  return buffer.getvalue()


def corrupt(image: np.ndarray, config: Config, seed: int, traced: bool = True) -> np.ndarray:
  """`tfds_bench.corruptions.apply` on one uint8 `[H, W, 3]` image, as numpy.

  ``traced``: runs one traced graph per (config, image size) with the seed
  as a tensor (`_corrupt_graph`): the same bytes as the eager call, without
  dispatching each op from Python for every image, and no retracing per seed;
  what a config of 50,000 images wants. ``traced=False`` dispatches the ops
  eagerly, seed as a tensor (same bytes): a config's graph costs about half a
  second to trace and start, more than a few images (the sample suite's 7 per
  config) cost op by op, and the eager path's XLA programs are shared by every
  severity whose parameters are run-time operands.
  """
  _check_seed(seed)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  seed_tensor = tf.constant(seed, tf.int64)
  if traced:
    out = _corrupt_graph(config)(image, seed_tensor)
  else:
    out = corruptions.apply(image, config.corruption, config.severity, seed_tensor)
  return np.asarray(out, dtype=np.uint8)


@functools.lru_cache(maxsize=None)
def _corrupt_graph(config: Config):
  """`corruptions.apply` for one config as a tf.function of (image, seed)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.function(
      lambda image, seed: corruptions.apply(image, config.corruption, config.severity, seed),
      autograph=False)


def corrupt_and_encode(image_bytes: bytes, file_name: str, config: Config,
                       base_seed: int = common.DEFAULT_BASE_SEED,
                       where: Optional[str] = None) -> bytes:
  """One ImageNet-C image from one ImageNet val image, as the release made it.

  Args:
    image_bytes: the encoded val image.
    file_name: its val file name (sets the seed, see `common.image_seed`).
    config: the corruption and severity.
    base_seed: see `common.image_seed`.
    where: what the bytes are, for error messages (default: `file_name`).

  Returns:
    The bytes of a 224x224 RGB JPEG (quality 85, optimize=True).
  """
  image = release_preprocess(image_bytes, where or file_name)
  corrupted = corrupt(image, config, common.image_seed(base_seed, file_name))
  return encode_jpeg(corrupted)


class SourceImage(NamedTuple):
  """One image to generate from: its key, encoded bytes, seed, and what it is."""
  key: str
  image_bytes: bytes
  seed: int
  where: str


def val_source_image(file_name: str, image_bytes: bytes, where: str,
                     base_seed: int = common.DEFAULT_BASE_SEED) -> SourceImage:
  """A val image to generate from, with its seed `common.image_seed(base_seed, file_name)`."""
  return SourceImage(file_name, image_bytes, common.image_seed(base_seed, file_name), where)


def generate_images(images: Iterable[SourceImage], config: Config,
                    workers: Optional[int] = None) -> Iterator[Tuple[str, bytes]]:
  """(key, release JPEG) of each source image, in order: the builders' generation.

  Each image gets `corrupt_and_encode`'s work, byte for byte
  (`test_imagenet_c.py` checks): the PIL release crop, the corruption with
  the image's seed, the PIL JPEG. The images go in groups of `GROUP_SIZE`
  (`corrupt_group`: one compiled call per group) to a pool of threads
  (`threads.map_in_order`; TensorFlow and Pillow release the GIL), so every
  core works. `benchmarks/imagenet_c_generation.py` measures the rate
  (latest figures in benchmarks/README.md).

  Args:
    images: `SourceImage`s, read lazily (an archive is streamed, never held).
    config: the corruption and severity.
    workers: threads (None: `threads.default_workers()`).

  Raises:
    DamagedInputError: an image is not readable; names its `where`. It, and
      an error from iterating ``images``, comes out after the images before it.
  """
  def generate(group: List[SourceImage]
               ) -> Tuple[List[Tuple[str, bytes]], Optional[errors.DamagedInputError]]:
    crops, damaged = [], None
    for source in group:
      try:
        crops.append(release_preprocess(source.image_bytes, source.where))
      except errors.DamagedInputError as e:
        damaged = e
        break
    done = group[:len(crops)]
    corrupted = corrupt_group(crops, [s.seed for s in done], config) if crops else []
    return [(s.key, encode_jpeg(image)) for s, image in zip(done, corrupted)], damaged

  def generated():
    for examples, damaged in threads.map_in_order(
        generate, threads.chunks(images, GROUP_SIZE), workers):
      yield from examples
      if damaged is not None:
        raise damaged

  return generated()


def corrupt_crops(crops: Iterable[Tuple[np.ndarray, int]], config: Config,
                  workers: Optional[int] = None) -> Iterator[np.ndarray]:
  """`corrupt` of each (release crop, seed), in order, as `generate_images` runs it.

  The corruption stage of `generate_images` alone (groups of `GROUP_SIZE`
  on its thread pool): what `benchmarks/corruption_speed.py` times as the
  builder path.
  """

  def corrupt_chunk(chunk):
    return corrupt_group([c for c, _ in chunk], [seed for _, seed in chunk], config)

  for corrupted in threads.map_in_order(corrupt_chunk, threads.chunks(crops, GROUP_SIZE), workers):
    yield from corrupted


def corrupt_group(images: Sequence[np.ndarray], seeds: Sequence[int],
                  config: Config) -> np.ndarray:
  """`corrupt` of each image with its own seed, as one compiled call; uint8 ``[N, H, W, 3]``.

  The same bytes per image as `corrupt` (a `tf.map_fn` of the same one-image
  graph), but the call's fixed cost (more than a cheap corruption's work on
  one image) is paid once per group, and the group's images run as
  parallel iterations.
  """
  for seed in seeds:
    _check_seed(seed)
  stacked = np.stack(images)
  graph = _corrupt_group_graph(config, stacked.shape[1], stacked.shape[2])
  return np.asarray(graph(stacked, np.asarray(seeds, np.int64)), dtype=np.uint8)


@functools.lru_cache(maxsize=None)
def _corrupt_group_graph(config: Config, height: int, width: int):
  """`corrupt_group`'s tf.function for one config and image size, any group length."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def corrupt_each(images, seeds):
    return tf.map_fn(lambda image_seed: corruptions.apply(
                         image_seed[0], config.corruption, config.severity, image_seed[1]),
                     (images, seeds), fn_output_signature=tf.uint8,
                     parallel_iterations=GROUP_SIZE)

  return tf.function(corrupt_each, autograph=False, input_signature=[
      tf.TensorSpec([None, height, width, 3], tf.uint8), tf.TensorSpec([None], tf.int64)])


# Val images per Beam element, each element one run of generate_images' thread
# pool (groups of `GROUP_SIZE`): 512 keep every core busy past the pool's
# start and end; the batch's val JPEGs are ~65 MB, and 50,000 images still
# make ~100 elements.
GENERATION_BATCH = 512


def generate_from_val_archive(val_archive, config: Config,
                              base_seed: int = common.DEFAULT_BASE_SEED
                              ) -> Iterator[Tuple[str, Dict[str, object]]]:
  """(key, example) of every image of the val tar, generated: the plain path
  of the builders that generate from it (ImageNet-C, ImageNet-C-bar)."""
  val_images = ((file_name, label, data, f"member {file_name!r} of {val_archive}")
                for file_name, label, data in common.iter_val_images(val_archive))
  return generate_examples(val_images, config, base_seed)


def beam_generation(beam, val_archive, config: Config,
                    base_seed: int = common.DEFAULT_BASE_SEED):
  """The same generation as a Beam PTransform (``beam``: the apache_beam
  module, which the builder imports lazily): batches of `GENERATION_BATCH`
  indexed val members, each generated by `generate_indexed_examples`. Every
  member is checked before Beam runs, so a bad archive fails fast."""
  entries = archives.index_uncompressed_tar(val_archive)
  for name, _, _ in entries:
    common.check_val_member(name, val_archive)
  return (beam.Create(sorted(entries))
          | beam.BatchElements(min_batch_size=GENERATION_BATCH, max_batch_size=GENERATION_BATCH)
          | beam.FlatMap(generate_indexed_examples, archive=str(val_archive), config=config,
                         base_seed=base_seed))


def generate_examples(val_images: Iterable[Tuple[str, int, bytes, str]], config: Config,
                      base_seed: int = common.DEFAULT_BASE_SEED
                      ) -> Iterator[Tuple[str, Dict[str, object]]]:
  """(key, example) of each val image, generated by `generate_images`.

  Args:
    val_images: (file name, label, encoded bytes, what it is for errors).
    config: the corruption and severity.
    base_seed: see `common.image_seed`.
  """
  labels_of = {}

  def sources():
    for file_name, label, data, where in val_images:
      labels_of[file_name] = label
      yield val_source_image(file_name, data, where, base_seed)

  for file_name, image in generate_images(sources(), config):
    yield file_name, {"image": image, "label": labels_of[file_name], "file_name": file_name}


def generate_indexed_examples(entries: Sequence[Tuple[str, int, int]], archive: str,
                              config: Config, base_seed: int = common.DEFAULT_BASE_SEED
                              ) -> Iterator[Tuple[str, Dict[str, object]]]:
  """`generate_examples` of indexed val-tar members (a Beam batch).

  A module-level function of picklable arguments, so that Beam workers can
  run it on a batch of `archives.index_uncompressed_tar` entries
  (`beam.BatchElements`); each worker seeks to its members.
  """
  def val_images():
    for name, offset, size in entries:
      file_name, label = common.check_val_member(name, archive)
      yield (file_name, label, archives.read_member_at(archive, offset, size, name),
             f"member {name!r} of {archive}")

  yield from generate_examples(val_images(), config, base_seed)


# --- the released archives ------------------------------------------------------

def iter_released_members(archive: os.PathLike | str,
                          config: Config) -> Iterator[Tuple[str, str, bytes]]:
  """Images of one config in a released archive: (wnid, file name, bytes).

  Released layout (no top folder): `<corruption>/<severity>/<wnid>/<file>`.
  Only this config's members are read (`archives.iter_selected_members`),
  so a config costs 1/15 or 1/20 of an uncompressed archive. Members of the
  archive's other corruptions and severities are passed over; any other
  member is an error naming it.

  Raises:
    DamagedInputError: an unexpected or unsafe member, or none of this
      config.
  """
  archive_name = os.path.basename(os.fspath(archive))
  expected_corruptions = ARCHIVE_CORRUPTIONS.get(archive_name, NAMES)
  prefix = f"{config.corruption}/{config.severity}/"
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
  for name, data in archives.iter_selected_members(archive, is_other_config):
    _, _, wnid, file_name = name.split("/")
    found += 1
    yield wnid, file_name, archives.ensure_rgb_jpeg(
        data, f"member {name!r} of {archive}")
  if not found:
    raise errors.DamagedInputError(
        f"{archive} has no images under {prefix!r}: is it the released "
        f"{archive_name} (which holds {', '.join(expected_corruptions)})?")


# --- on the fly ------------------------------------------------------------------

def _release_crop_and_seed(image_bytes: bytes, file_name: bytes, base_seed: int):
  """numpy side of `generate_on_the_fly`: PIL release crop, per-image seed."""
  name = file_name.decode()
  return (release_preprocess(image_bytes, name),
          np.int64(common.image_seed(base_seed, name)))


def corrupt_on_the_fly(dataset, config: Config,
                       base_seed: int = common.DEFAULT_BASE_SEED):
  """ImageNet val examples -> ImageNet-C examples, inside tf.data.

  Each element's ``image`` (encoded val image bytes) goes through exactly the
  builder's generation: PIL resize 256 / center crop 224 (`release_preprocess`,
  in a ``tf.numpy_function``), the corruption engine with the image's own seed
  (`common.image_seed`, as a tensor), and a JPEG quality-85 round trip;
  ``label`` and ``file_name`` pass through. The output ``image`` is the
  encoded JPEG, so the rest of the input pipeline is unchanged, and no
  corrupted copy of the val set is ever written to disk. ``config`` was
  checked when made; `corruptions.apply` checks it again.
  """
  return generate_on_the_fly(
      dataset, base_seed,
      lambda crop, seed: corruptions.apply(crop, config.corruption, config.severity, seed=seed))


def generate_on_the_fly(dataset, base_seed: int = common.DEFAULT_BASE_SEED,
                        corrupt_fn: Optional[Callable] = None):
  """`corrupt_on_the_fly`'s tf.data map; ``corrupt_fn(crop, seed)``, None = crop only.

  Crop only is the generation cost without a corruption
  (benchmarks/imagenet_c_on_the_fly.py's baseline row).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def generate(example):
    crop, seed = tf.numpy_function(
        lambda data, name: _release_crop_and_seed(data, name, base_seed),
        [example["image"], example["file_name"]], [tf.uint8, tf.int64], stateful=False)
    crop.set_shape([common.CROP_SIZE, common.CROP_SIZE, 3])
    seed.set_shape([])
    image = crop if corrupt_fn is None else corrupt_fn(crop, seed)
    out = {k: v for k, v in example.items() if k != "image"}
    # TF's libjpeg at quality 85 decodes to the same pixels as PIL's quality-85
    # file (optimize=True only changes the Huffman tables, which is lossless).
    out["image"] = tf.io.encode_jpeg(image, quality=JPEG_QUALITY)
    return out

  return dataset.map(generate, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
