"""Writes the dummy data of the five OpenOOD v1.5 builders (bench_openood_*).

Usage (from the repository root):

  /work/main/.venv/bin/python tests/tools/make_openood_dummy_data.py

Each builder's dummy_data/ holds, as a user's manual_dir would:
  * ``benchmark_imglist/imagenet/test_<set>.txt``: a short list in OpenOOD's
    format (``<relative path> -1``), deliberately not in archive order, so
    the tests can check that records follow the list;
  * the images in one released layout: NINCO's Zenodo ``NINCO_all.tar.gz``
    (``NINCO/NINCO_OOD_classes/<class>/...`` plus unit tests that are not
    listed), MOS's ``iNaturalist.tar.gz`` (``iNaturalist/images/...``), DTD's
    ``dtd-r1.0.1.tar.gz`` (``dtd/images/<class>/...``, labels/ and an
    unlisted image), OpenOOD's ``openimage_o.zip`` (the images without a top
    folder, as download.py unzips it into ``images_largescale/openimage_o/``)
    and, for SSB-hard, the folder download.py leaves
    (``images_largescale/ssb_hard/<wnid>/...``).
One image of each set is a PNG or GIF named like a JPEG or a grayscale JPEG
where the real sets have such files, so the conversion runs in the tests.
Archives are byte-reproducible.
"""

from __future__ import annotations

import pathlib
import shutil
import sys
from typing import Dict, List, Tuple

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import make_builder_dummy_data as dummy  # pylint: disable=g-import-not-at-top

BUILDERS = dummy.BUILDERS
LIST_FOLDER = "benchmark_imglist/imagenet"


def _image(seed: int, kind: str = "jpeg") -> bytes:
  if kind == "png":
    return dummy.encode(dummy.image_array(seed), "PNG")
  if kind == "gray":
    return dummy.jpeg(seed, mode="L")
  return dummy.jpeg(seed)


def _write_list(folder: pathlib.Path, list_file: str, paths: List[str]) -> None:
  path = folder / LIST_FOLDER / list_file
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(f"{p} -1\n" for p in paths))


# set name -> (listed relative paths in list order, kinds of their images)
LISTED: Dict[str, Tuple[List[str], List[str]]] = {
    "ssb_hard": (["ssb_hard/n11622368/n11622368_1120.JPEG",
                  "ssb_hard/n11622368/n11622368_1063.JPEG",
                  "ssb_hard/n04009552/n04009552_77.JPEG"],
                 ["jpeg", "png", "jpeg"]),
    "ninco": (["ninco/epithelantha_micromeris/epithelantha_micromeris_075_25230993.jpeg",
               "ninco/caracal/caracal_001.png",
               "ninco/caracal/caracal_000.jpg"],
              ["jpeg", "png", "gray"]),
    "inaturalist": (["inaturalist/images/98945524784c9c0171c4b8594588d6e1.jpg",
                     "inaturalist/images/00cabf289d4be9cbc1ee4244cfd235c8.jpg"],
                    ["jpeg", "jpeg"]),
    "textures": (["texture/banded/banded_0004.jpg",
                  "texture/banded/banded_0002.jpg",
                  "texture/zigzagged/zigzagged_0133.jpg"],
                 ["jpeg", "jpeg", "gray"]),
    "openimage_o": (["openimage_o/images/b85bd6c20e9c378a.jpg",
                     "openimage_o/images/6989a0fc56bff34d.jpg"],
                    ["jpeg", "png"]),
}
LIST_FILES = {"ssb_hard": "test_ssb_hard.txt", "ninco": "test_ninco.txt",
              "inaturalist": "test_inaturalist.txt", "textures": "test_textures.txt",
              "openimage_o": "test_openimage_o.txt"}


def _images(name: str, seed: int) -> Dict[str, bytes]:
  """rest-of-path (after the set's first component) -> bytes, sorted by path."""
  paths, kinds = LISTED[name]
  members = {p.split("/", 1)[1]: _image(seed + i, k)
             for i, (p, k) in enumerate(zip(paths, kinds))}
  return dict(sorted(members.items()))


def write_all() -> None:
  for name in LISTED:
    folder = BUILDERS / f"bench_openood_{name}" / "dummy_data"
    if folder.exists():
      shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _write_list(folder, LIST_FILES[name], LISTED[name][0])
  seed = 100

  # SSB-hard: the folder download.py leaves, images_largescale/ssb_hard/.
  for rest, data in _images("ssb_hard", seed).items():
    path = BUILDERS / "bench_openood_ssb_hard/dummy_data/images_largescale/ssb_hard" / rest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
  # An unlisted image next to them: folders are shared and never read whole.
  (BUILDERS / "bench_openood_ssb_hard/dummy_data/images_largescale/ssb_hard/"
   "n04009552/n04009552_78.JPEG").write_bytes(_image(seed + 50))

  # NINCO: Zenodo's NINCO_all.tar.gz; the unit tests are not in the list.
  members = {f"NINCO/NINCO_OOD_classes/{rest}": data
             for rest, data in _images("ninco", seed + 10).items()}
  members["NINCO/NINCO_OOD_unit_tests/Noise/noise_001.png"] = _image(seed + 51, "png")
  members["NINCO/NINCO_popular_datasets_subsamples/SSB_hard/ssb_0001.jpg"] = _image(seed + 52)
  dummy.write_tar(BUILDERS / "bench_openood_ninco/dummy_data/NINCO_all.tar.gz",
                  members, compress=True)

  # iNaturalist: MOS's iNaturalist.tar.gz.
  members = {f"iNaturalist/{rest}": data
             for rest, data in _images("inaturalist", seed + 20).items()}
  dummy.write_tar(BUILDERS / "bench_openood_inaturalist/dummy_data/iNaturalist.tar.gz",
                  members, compress=True)

  # Textures: DTD's release; OpenOOD lists 5,160 of its 5,640 images.
  members = {f"dtd/images/{rest}": data
             for rest, data in _images("textures", seed + 30).items()}
  members["dtd/images/banded/banded_0003.jpg"] = _image(seed + 53)
  members["dtd/labels/labels_joint_anno.txt"] = b"banded/banded_0002.jpg banded\n"
  members["dtd/imdb/imdb.mat"] = b"MATLAB 5.0 MAT-file (dummy)"
  dummy.write_tar(BUILDERS / "bench_openood_textures/dummy_data/dtd-r1.0.1.tar.gz",
                  dict(sorted(members.items())), compress=True)

  # OpenImage-O: OpenOOD's openimage_o.zip, exactly the listed images.
  dummy.write_zip(BUILDERS / "bench_openood_openimage_o/dummy_data/openimage_o.zip",
                  _images("openimage_o", seed + 40))


if __name__ == "__main__":
  write_all()
