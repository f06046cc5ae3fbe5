"""The 17 model-vs-human datasets (Geirhos et al.), one config each, read from
the release tarballs `<name>.tar.gz` in manual_dir.

12 parametric distortions (colour, contrast, eidolonI/II/III, false-colour,
high-pass, low-pass, phase-scrambling, power-equalisation, rotation,
uniform-noise) and 5 non-parametric sets (sketch, stylized, edge,
silhouette, cue-conflict), each with lab data from human observers
(`tfds_bench.human_data`). Layouts and file names: `tfds_bench.release.
model_vs_human`.

Features: `image` (PNG as released; a non-RGB one is converted to RGB PNG,
losslessly), `file_name` (`session-<k>/<file>` or `<category>/<file>`, the
key `--predictions` files use), `condition` (as the file names write it;
`0` for the non-parametric sets), `category` (one of the 16, the shape
category on cue-conflict), `texture_category` (cue-conflict's texture
category index, -1 elsewhere), `image_id` (what human trials are matched on).
"""

import dataclasses
import io

from etils import epath
import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from tfds_bench import archives
from tfds_bench.errors import DamagedInputError
from tfds_bench.release import model_vs_human as mvh


@dataclasses.dataclass
class ModelVsHumanConfig(tfds.core.BuilderConfig):
  """One of the 17 datasets."""
  dataset: str = ""


def _make_configs():
  return [ModelVsHumanConfig(
      name=d.name, dataset=d.name,
      description=(f"{d.description}; {len(d.conditions)} condition(s), read from "
                   f"{d.archive_name}.")) for d in mvh.DATASETS]


def rgb_png(data: bytes, where: str) -> bytes:
  """The PNG as released if it is RGB, else converted to RGB PNG (lossless)."""
  try:
    with PIL.Image.open(io.BytesIO(data)) as image:
      image_format, mode = image.format, image.mode
      image.load()
      if image_format == "PNG" and mode == "RGB":
        return data
      out = io.BytesIO()
      image.convert("RGB").save(out, format="PNG")
      return out.getvalue()
  except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError, EOFError) as e:
    raise DamagedInputError(f"{where} is not a readable image ({type(e).__name__}: {e}); "
                            "the archive is damaged, download it again.") from e


class Builder(tfds.core.GeneratorBasedBuilder):
  """model-vs-human's 17 out-of-distribution datasets."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release, read from the v0.1 release tarballs."}
  BUILDER_CONFIGS = _make_configs()
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
  Download the config's tarball, unextracted and unrenamed, from
  {mvh.RELEASE_URL.format(name="<name>")}
  (e.g. cue-conflict.tar.gz) and put it in manual_dir: `<manual_dir>/<name>.tar.gz`.
  """
  # The archives this builder reads (README tables are checked against it).
  ARCHIVE_NAMES = tuple(d.archive_name for d in mvh.DATASETS)
  # README.md, CITATIONS.bib and checksums.tsv live next to this file; TFDS's
  # inference from the module name fails under setup.py's package_dir mapping
  # in editable installs (docs/architecture.md, "Installed layout").
  pkg_dir_path = epath.Path(__file__).parent
  # TFDS reads (and --register_checksums writes) checksums.tsv next to
  # code_path, which it infers wrongly under the mapping too.
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(None, None, 3), encoding_format="png"),
            "file_name": tfds.features.Text(),
            "image_id": tfds.features.Text(),
            "condition": tfds.features.Text(),
            "category": tfds.features.ClassLabel(names=mvh.CATEGORIES),
            "texture_category": tfds.features.Scalar(dtype=np.int64),
        }),
        supervised_keys=("image", "category"),
        homepage="https://github.com/bethgelab/model-vs-human",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    dataset = mvh.get(self.builder_config.dataset)
    # No checksum is published: read from manual_dir, verified once a row is
    # recorded in checksums.tsv (README, "Verifying").
    archive = archives.get_archive(dl_manager, self.url_infos,
                                   mvh.RELEASE_URL.format(name=dataset.name),
                                   dataset.archive_name)
    return {"test": self._generate_examples(archive, dataset)}

  def _generate_examples(self, archive: epath.Path, dataset: mvh.Dataset):
    count = 0
    for name, data in archives.iter_members(archive):
      where = f"member {name!r} of {archive}"
      file_name = _file_name(dataset, name, where)
      try:
        info = mvh.file_info(dataset, file_name)
      except ValueError as e:
        raise DamagedInputError(f"{where}: {e}. Is this the released archive?") from None
      count += 1
      yield file_name, {
          "image": rgb_png(data, where),
          "file_name": file_name,
          "image_id": info.image_id,
          "condition": info.condition,
          "category": info.category,
          "texture_category": (mvh.CATEGORY_INDEX[info.texture]
                               if info.texture is not None else -1),
      }
    if not count:
      raise DamagedInputError(f"{archive} holds no images. Is this the released archive?")


def _file_name(dataset: mvh.Dataset, member: str, where: str) -> str:
  """The example's file name from the member path; unexpected paths raise."""
  parts = member.split("/")
  if dataset.layout == mvh.SESSIONS:
    ok = (len(parts) == 4 and parts[0] == dataset.name and parts[1] == "dnn"
          and parts[2].startswith("session-"))
    expected = f"{dataset.name}/dnn/session-<k>/<image>"
  else:
    ok = len(parts) == 3 and parts[0] == dataset.name
    expected = f"{dataset.name}/<category>/<image>"
  if not ok:
    raise DamagedInputError(f"Unexpected {where}: expected '{expected}'. "
                            "Is this the released archive?")
  return "/".join(parts[-2:])
