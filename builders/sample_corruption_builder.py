"""The sample photos corrupted by a release pipeline: the base of `bench_sample_c` and `bench_sample_c_bar`.

One config holds every (corruption, severity, photo) of the subclass's
CONFIGS, made by tfds_bench's corruption engine through the release pipeline
of ImageNet-C, which ImageNet-C-bar shares (``tfds_bench.release.imagenet_c``:
resize 256, center crop 224, corrupt, JPEG quality 85): one preparation, one
forward pass. The example ``file_name`` is ``<corruption>_<severity>/<photo file
name>``; each photo's draws are seeded by its position in the sample.
"""

from __future__ import annotations

import concurrent.futures
import io
import multiprocessing
from typing import Tuple

import tensorflow_datasets as tfds

from tfds_bench import labels
from tfds_bench.release import imagenet_c
from tfds_bench.builders.bench_sample import bench_sample_dataset_builder as sample


def photo_png_bytes(photo: sample.SamplePhoto) -> bytes:
  """The sample photo as lossless PNG bytes (what release_preprocess decodes)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(sample.read_photo(photo)).save(buffer, format="PNG")
  return buffer.getvalue()


class SampleCorruptionBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """The sample photos under CONFIGS (subclasses set CONFIGS, HOMEPAGE, VERSION,
  RELEASE_NOTES, and ``pkg_dir_path`` / ``code_path`` as subset_builder's do)."""

  CONFIGS: Tuple[imagenet_c.Config, ...]
  HOMEPAGE: str
  ARCHIVE_NAMES = ()  # Reads nothing from manual_dir: everything ships with the package.

  @classmethod
  def num_examples(cls) -> int:
    return len(sample.PHOTOS) * len(cls.CONFIGS)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(224, 224, 3), encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(names=list(labels.wnids())),
            "file_name": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage=self.HOMEPAGE,
        # The split's size, known before generation, gives TFDS's progress
        # bar its total (TFDS replaces it with the counted one when done).
        split_dict=tfds.core.SplitDict([tfds.core.SplitInfo(
            name="test", shard_lengths=[self.num_examples()], num_bytes=0)]),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Everything is local.
    return {"test": self._generate_examples()}

  def _generate_examples(self):
    # The release pipeline of imagenet_c.corrupt_and_encode, with the photo's
    # position as its seed (its seeds come from val file numbers).
    crops = [(number, photo, imagenet_c.release_preprocess(photo_png_bytes(photo),
                                                           photo.file_name))
             for number, photo in enumerate(sample.PHOTOS, start=1)]

    def config_examples(config):
      examples = []
      for number, photo, crop in crops:
        key = f"{config.name}/{photo.file_name}"
        corrupted = imagenet_c.corrupt(crop, config, seed=number, traced=False)
        examples.append((key, {
            "image": imagenet_c.encode_jpeg(corrupted),
            "label": photo.label,
            "file_name": key,
        }))
      return examples

    # Seven photos per config: a traced graph per config would cost more than
    # its photos (`imagenet_c.corrupt`, traced=False), and compiling a
    # corruption's XLA programs, on one core, still does, so the configs run
    # on a thread per core. TFDS orders examples by key, so the order they
    # arrive in does not matter.
    with concurrent.futures.ThreadPoolExecutor(max_workers=multiprocessing.cpu_count()) as pool:
      for examples in pool.map(config_examples, self.CONFIGS):
        yield from examples
