"""Writes the dummy `<name>.tar.gz` of every `bench_model_vs_human` config.

Usage (from the repository root):

  /work/main/.venv/bin/python tests/tools/make_model_vs_human_dummy_data.py

Each tarball has the release's name and layout (`tfds_bench.release.
model_vs_human`): `<name>/dnn/session-1/<trial>_<code>_s01_<condition>_
<category>_<nn>_<image id>` for the session sets, `<name>/<category>/<image
id>` for edge, silhouette and cue-conflict; two tiny PNGs per condition (one
of them grayscale, which the builder converts to RGB). Byte-reproducible.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Dict

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import make_builder_dummy_data as dummy  # pylint: disable=g-import-not-at-top,wrong-import-position
from tfds_bench.release import model_vs_human as mvh  # pylint: disable=wrong-import-position

OUT = dummy.BUILDERS / "bench_model_vs_human" / "dummy_data"
IMAGES_PER_CONDITION = 2


def members(dataset: mvh.Dataset, seed: int) -> Dict[str, bytes]:
  """Member name -> PNG bytes, in the release layout."""
  out = {}
  k = 0
  for condition in dataset.conditions:
    for i in range(IMAGES_PER_CONDITION):
      category = mvh.CATEGORIES[(seed + k) % 16]
      png = dummy.encode(dummy.image_array(seed * 100 + k, size=8), "PNG",
                         "L" if i == 1 else None)
      if dataset.layout == mvh.CLASS_FOLDERS:
        if dataset.name == mvh.CUE_CONFLICT:
          texture = mvh.CATEGORIES[(seed + 3 * k + 1) % 16]
          image_id = f"{category}{k + 1}-{texture}{i + 1}.png"
        else:
          image_id = f"{category}{k + 1}.png"
        out[f"{dataset.name}/{category}/{image_id}"] = png
      else:
        image_id = f"n0{seed:02d}{k:05d}_{k + 1}.png"
        out[f"{dataset.name}/dnn/session-1/{k + 1:04d}_x_s01_{condition}_{category}_10_"
            f"{image_id}"] = png
      k += 1
  return out


def write_all(out: pathlib.Path = OUT):
  written = []
  for seed, dataset in enumerate(mvh.DATASETS, start=1):
    path = out / dataset.archive_name
    dummy.write_tar(path, members(dataset, seed), compress=True)
    written.append(path)
  return written


if __name__ == "__main__":
  for written_path in write_all():
    print(f"{written_path.stat().st_size:8d}  {written_path.name}")
