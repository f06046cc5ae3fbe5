"""bench_sample_c: the sample photos under all 19 ImageNet-C corruptions x 5 severities.

Made with tfds_bench's corruption engine through exactly the ImageNet-C release
pipeline (``tfds_bench.release.imagenet_c.corrupt_and_encode``: resize 256, center
crop 224, corrupt, JPEG quality 85), so ``bench_main --model=efficientnet``
shows a corruption figure with no data on the machine. One config holds every
(corruption, severity, photo): one preparation, one forward pass. The example
``file_name`` is ``<corruption>_<severity>/<photo file name>``.
"""

from __future__ import annotations

import concurrent.futures
import io
import multiprocessing

from etils import epath
import tensorflow_datasets as tfds

from tfds_bench import corruptions, labels
from tfds_bench.release import imagenet_c
from tfds_bench.builders.bench_sample import bench_sample_dataset_builder as sample


def photo_png_bytes(photo: sample.SamplePhoto) -> bytes:
  """The sample photo as lossless PNG bytes (what release_preprocess decodes)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(sample.read_photo(photo)).save(buffer, format="PNG")
  return buffer.getvalue()


NUM_EXAMPLES = len(sample.PHOTOS) * len(corruptions.NAMES) * len(corruptions.SEVERITIES)


class Builder(tfds.core.GeneratorBasedBuilder):
  """Sample photos corrupted as ImageNet-C was made."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "7 photos x 19 corruptions x 5 severities."}
  ARCHIVE_NAMES = ()  # Reads nothing from manual_dir: everything ships with the package.
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(224, 224, 3), encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(names=list(labels.wnids())),
            "file_name": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage="https://github.com/hendrycks/robustness",
        # The split's size, known before generation, gives TFDS's progress
        # bar its total (TFDS replaces it with the counted one when done).
        split_dict=tfds.core.SplitDict([tfds.core.SplitInfo(
            name="test", shard_lengths=[NUM_EXAMPLES], num_bytes=0)]),
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
      for examples in pool.map(config_examples, imagenet_c.ALL_CONFIGS):
        yield from examples
