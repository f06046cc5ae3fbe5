"""OpenOOD v1.5's image lists (tfds_bench.openood_lists) and the bench_openood_*
builders on bad input: a list naming a missing image, an archive holding an
image the list does not name, malformed lists.

The builders' own tests (builders/bench_openood_*/..._test.py) prepare each
dummy_data/ as it is; here a copy is altered in a temporary folder.
"""

import gzip
import hashlib
import importlib.resources
import pathlib
import shutil
import sys
import zipfile

import pytest
import tensorflow_datasets as tfds

from tfds_bench import errors, openood_lists
from tfds_bench.builders.bench_openood_ninco import bench_openood_ninco_dataset_builder as ninco
from tfds_bench.builders.bench_openood_openimage_o import (
    bench_openood_openimage_o_dataset_builder as openimage_o)
from tfds_bench.builders.bench_openood_ssb_hard import (
    bench_openood_ssb_hard_dataset_builder as ssb_hard)

sys.path.insert(0, str(pathlib.Path(__file__).parent / "tools"))
import make_builder_dummy_data as dummy  # pylint: disable=g-import-not-at-top


def _shipped(file_name):
  folder = importlib.resources.files("tfds_bench") / openood_lists.SHIPPED_FOLDER
  return gzip.decompress((folder / f"{file_name}.gz").read_bytes())


@pytest.mark.parametrize("name", sorted(openood_lists.OOD_SETS))
def test_shipped_ood_lists_are_openood_v1_5(name):
  spec = openood_lists.OOD_SETS[name]
  assert hashlib.sha256(_shipped(spec.list_file)).hexdigest() == spec.list_sha256
  image_list = openood_lists.ood_list(name)
  assert len(image_list.paths) == spec.count
  assert set(image_list.labels) == {-1}
  assert all(p.startswith(spec.prefix + "/") for p in image_list.paths)


def test_shipped_id_list_is_45000_val_images():
  assert hashlib.sha256(_shipped(openood_lists.ID_LIST)).hexdigest() == (
      openood_lists.ID_LIST_SHA256)
  names = openood_lists.id_val_file_names()
  assert len(names) == len(set(names)) == 45_000
  assert all(n.startswith("ILSVRC2012_val_000") and n.endswith(".JPEG") for n in names)
  assert sorted(openood_lists.OOD_SETS) == sorted(
      ["ssb_hard", "ninco", "inaturalist", "textures", "openimage_o"])


@pytest.mark.parametrize("text, match", [
    ("ninco/a.jpg -1\nninco/a.jpg -1\n", "listed twice"),
    ("ninco/a.jpg\n", "is not '<relative path> <label>'"),
    ("ninco/a.jpg x\n", "not an integer"),
    ("ninco/../a.jpg -1\n", "not a safe relative path"),
    ("/ninco/a.jpg -1\n", "not a safe relative path"),
    ("texture/a.jpg -1\n", "not under 'ninco/'"),
])
def test_malformed_list_is_refused(text, match):
  with pytest.raises(errors.DamagedInputError, match=match):
    openood_lists.parse(text, "test_ninco.txt", prefix="ninco")


def test_wrong_count_is_refused():
  with pytest.raises(errors.DamagedInputError, match="lists 1 images, OpenOOD v1.5's lists 2"):
    openood_lists.parse("ninco/a.jpg -1\n", "test_ninco.txt", prefix="ninco", count=2)


def _copy_dummy(builder_module, tmp_path) -> pathlib.Path:
  manual_dir = tmp_path / "manual"
  shutil.copytree(builder_module.Builder.pkg_dir_path / "dummy_data", manual_dir)
  return manual_dir


def _append_to_list(manual_dir: pathlib.Path, builder_module, line: str) -> None:
  spec = openood_lists.OOD_SETS[builder_module.Builder.OOD_SET]
  path = manual_dir / openood_lists.MANUAL_LIST_FOLDER / spec.list_file
  path.write_text(path.read_text() + line + "\n")


def _prepare(builder_module, manual_dir, tmp_path):
  builder = builder_module.Builder(data_dir=str(tmp_path / "data"))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
  return builder


def test_list_naming_an_image_missing_from_the_archive_fails_naming_it(tmp_path):
  manual_dir = _copy_dummy(ninco, tmp_path)
  _append_to_list(manual_dir, ninco, "ninco/caracal/caracal_999.jpg -1")
  with pytest.raises(errors.DamagedInputError,
                     match=r"1 of the 4 images .* 'ninco/caracal/caracal_999.jpg'"):
    _prepare(ninco, manual_dir, tmp_path)


def test_list_naming_an_image_missing_from_the_folder_fails_naming_it(tmp_path):
  manual_dir = _copy_dummy(ssb_hard, tmp_path)
  (manual_dir / "images_largescale/ssb_hard/n11622368/n11622368_1063.JPEG").unlink()
  with pytest.raises(errors.DamagedInputError,
                     match="'ssb_hard/n11622368/n11622368_1063.JPEG'"):
    _prepare(ssb_hard, manual_dir, tmp_path)


def test_unlisted_image_in_an_archive_made_for_the_list_fails_naming_it(tmp_path):
  manual_dir = _copy_dummy(openimage_o, tmp_path)
  with zipfile.ZipFile(manual_dir / "openimage_o.zip", "a") as zf:
    zf.writestr("images/0000000000000000.jpg", dummy.jpeg(7))
  with pytest.raises(errors.DamagedInputError,
                     match="'images/0000000000000000.jpg' .* is not in"):
    _prepare(openimage_o, manual_dir, tmp_path)


def test_no_images_in_manual_dir_names_what_is_needed(tmp_path):
  manual_dir = tmp_path / "manual"
  (manual_dir / "unrelated").mkdir(parents=True)
  (manual_dir / "unrelated/file.txt").write_text("x")
  with pytest.raises(errors.MissingArchiveError, match="NINCO_all.tar.gz, ninco.zip"):
    _prepare(ninco, manual_dir, tmp_path)
