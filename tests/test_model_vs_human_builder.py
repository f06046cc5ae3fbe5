"""bench_model_vs_human: every config's dummy tarball parses; bad layouts raise."""

import pathlib
import sys

import pytest

from tfds_bench.builders.bench_model_vs_human import bench_model_vs_human_dataset_builder as builder
from tfds_bench.errors import DamagedInputError
from tfds_bench.release import model_vs_human as mvh

sys.path.insert(0, str(pathlib.Path(__file__).parent / "tools"))
import make_builder_dummy_data as dummy  # pylint: disable=g-import-not-at-top
import make_model_vs_human_dummy_data as mvh_dummy  # pylint: disable=g-import-not-at-top

DUMMY = builder.Builder.pkg_dir_path / "dummy_data"


def _examples(path, dataset):
  return list(builder.Builder._generate_examples(None, path, dataset))  # pylint: disable=protected-access


def test_dummy_data_is_reproducible(tmp_path):
  for path in mvh_dummy.write_all(tmp_path):
    assert path.read_bytes() == (DUMMY / path.name).read_bytes(), path.name


@pytest.mark.parametrize("name", mvh.NAMES)
def test_every_config_parses(name):
  dataset = mvh.get(name)
  examples = _examples(DUMMY / dataset.archive_name, dataset)
  assert len(examples) == 2 * len(dataset.conditions)
  assert sorted({e["condition"] for _, e in examples}) == sorted(dataset.conditions)
  for key, example in examples:
    assert key == example["file_name"]
    assert (example["texture_category"] >= 0) == (name == mvh.CUE_CONFLICT)


def test_unexpected_member_and_empty_archive(tmp_path):
  dataset = mvh.get("contrast")
  path = tmp_path / "contrast.tar.gz"
  dummy.write_tar(path, {"contrast/session-1/0001_x_s01_c50_dog_10_a.png": dummy.encode(
      dummy.image_array(0, 8), "PNG")}, compress=True)
  with pytest.raises(DamagedInputError, match="expected 'contrast/dnn/session-<k>/<image>'"):
    _examples(path, dataset)
  dummy.write_tar(path, {"contrast/dnn/session-1/0001_x_s01_c77_dog_10_a.png": b"x"},
                  compress=True)
  with pytest.raises(DamagedInputError, match="condition 'c77'"):
    _examples(path, dataset)
  dummy.write_tar(path, {"contrast/dnn/session-1/0001_x_s01_c50_dog_10_a.png": b"x"},
                  compress=True)
  with pytest.raises(DamagedInputError, match="not a readable image"):
    _examples(path, dataset)
  dummy.write_tar(path, {"contrast/dnn/README": b""}, compress=True, with_folders=False)
  with pytest.raises(DamagedInputError, match="Unexpected"):
    _examples(path, dataset)
  dummy.write_tar(path, {}, compress=True)
  with pytest.raises(DamagedInputError, match="holds no images"):
    _examples(path, dataset)
