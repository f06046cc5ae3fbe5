"""TFDS-native data: recorded checksums verified, any filesystem.

Offline: the network fetch of TFDS's downloader is replaced by a copy of the
shipped dummy archive; everything around it (manual_dir pick-up, caching,
size and sha256 verification) is TFDS's own download manager.
"""

import contextlib
import hashlib
import shutil
import subprocess
import sys
from unittest import mock

from etils import epath
from etils.epath import backend as epath_backend
from etils.epath import gpath
from etils.epath import register as epath_register
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import checksums as tfds_checksums
from tensorflow_datasets.core.download import downloader as tfds_downloader
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

import tfds_bench.builders  # pylint: disable=unused-import  # registers builders
from tfds_bench import errors
from tfds_bench.builders.bench_imagenet_o import bench_imagenet_o_dataset_builder
from tfds_bench.builders.bench_imagenet_v2 import bench_imagenet_v2_dataset_builder

V2 = bench_imagenet_v2_dataset_builder.Builder
V2_CONFIG = V2.builder_configs["matched-frequency"]
V2_DUMMY = V2.pkg_dir_path / "dummy_data" / V2_CONFIG.archive_name
O_BUILDER = bench_imagenet_o_dataset_builder.Builder
O_DUMMY = O_BUILDER.pkg_dir_path / "dummy_data" / O_BUILDER.ARCHIVE_NAME


def _url_info(path: epath.Path) -> tfds_checksums.UrlInfo:
  data = path.read_bytes()
  return tfds_checksums.UrlInfo(size=len(data),
                                checksum=hashlib.sha256(data).hexdigest(),
                                filename=path.name)


@contextlib.contextmanager
def _network_serving(archive: epath.Path):
  """Replaces the HTTP fetch of TFDS's downloader; yields the URLs asked for."""
  fetched = []

  def fetch(downloader, url, destination_path, verify=True):
    del verify
    fetched.append(url)
    out = epath.Path(destination_path) / archive.name
    out.write_bytes(archive.read_bytes())
    return tfds_downloader.DownloadResult(path=out, url_info=_url_info(out))

  with mock.patch.object(tfds_downloader._Downloader, "_sync_download", fetch):  # pylint: disable=protected-access
    yield fetched


def _prepare(name, data_dir, manual_dir=None):
  builder = tfds.builder(name, data_dir=str(data_dir))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=None if manual_dir is None else str(manual_dir)))
  return builder


def test_recorded_rows_are_those_tfds_records():
  # The URLs our builders download are the rows TFDS 4.9.10's own builders
  # record (copied into our checksums.tsv), with the released file names.
  for config in V2.BUILDER_CONFIGS:
    assert V2.url_infos[config.archive_url].filename == config.archive_name
  assert V2.url_infos[V2_CONFIG.archive_url].size == 1264079360


def test_v2_downloads_the_recorded_url_and_verifies_it(tmp_path):
  # With the dummy archive's size and sha256 as the recorded row, the mocked
  # download of the recorded URL is verified and prepared.
  dummy_row = {V2_CONFIG.archive_url: _url_info(V2_DUMMY)}
  with mock.patch.object(V2, "url_infos", dummy_row), \
       _network_serving(V2_DUMMY) as fetched:
    builder = _prepare("bench_imagenet_v2/matched-frequency", tmp_path / "data")
  assert fetched == [V2_CONFIG.archive_url]
  assert builder.info.splits["test"].num_examples == 8


def test_v2_download_not_matching_the_recorded_checksum_fails(tmp_path):
  # The real recorded row: the (dummy) bytes served do not match it.
  with _network_serving(V2_DUMMY) as fetched, \
       pytest.raises(NonMatchingChecksumError, match="wrong checksum"):
    _prepare("bench_imagenet_v2/matched-frequency", tmp_path / "data")
  assert fetched == [V2_CONFIG.archive_url]


def test_wrong_file_of_the_right_name_in_manual_dir_fails_checksum(tmp_path):
  manual_dir = tmp_path / "manual"
  manual_dir.mkdir()
  shutil.copy(V2_DUMMY, manual_dir)
  with _network_serving(V2_DUMMY) as fetched, \
       pytest.raises(NonMatchingChecksumError) as raised:
    _prepare("bench_imagenet_v2/matched-frequency", tmp_path / "data",
             manual_dir)
  assert fetched == []  # Picked up from manual_dir, never downloaded.
  assert str(manual_dir / V2_CONFIG.archive_name) in str(raised.value)


def test_right_file_in_manual_dir_is_verified_and_used(tmp_path):
  manual_dir = tmp_path / "manual"
  manual_dir.mkdir()
  shutil.copy(V2_DUMMY, manual_dir)
  dummy_row = {V2_CONFIG.archive_url: _url_info(V2_DUMMY)}
  with mock.patch.object(V2, "url_infos", dummy_row), \
       _network_serving(V2_DUMMY) as fetched:
    builder = _prepare("bench_imagenet_v2/matched-frequency", tmp_path / "data",
                       manual_dir)
  assert fetched == []
  assert builder.info.splits["test"].num_examples == 8


def test_unrecorded_archive_is_read_from_manual_dir_then_verified_once_recorded(
    tmp_path):
  manual_dir = tmp_path / "manual"
  manual_dir.mkdir()
  shutil.copy(O_DUMMY, manual_dir)
  # No row published for imagenet-o.tar: read as it is, nothing downloaded.
  with _network_serving(O_DUMMY) as fetched:
    builder = _prepare("bench_imagenet_o", tmp_path / "data", manual_dir)
  assert fetched == [] and builder.info.splits["test"].num_examples == 5
  # Once a (here: wrong) row is recorded, TFDS verifies the copy.
  wrong_row = {O_BUILDER.ARCHIVE_URL: tfds_checksums.UrlInfo(
      size=1, checksum="0" * 64, filename=O_BUILDER.ARCHIVE_NAME)}
  with mock.patch.object(O_BUILDER, "url_infos", wrong_row), \
       pytest.raises(NonMatchingChecksumError):
    _prepare("bench_imagenet_o", tmp_path / "data2", manual_dir)


def test_unrecorded_archive_missing_from_manual_dir_names_file_and_url(tmp_path):
  (tmp_path / "manual").mkdir()
  with pytest.raises(errors.MissingArchiveError) as raised:
    _prepare("bench_imagenet_o", tmp_path / "data", tmp_path / "manual")
  message = str(raised.value)
  assert O_BUILDER.ARCHIVE_NAME in message and O_BUILDER.ARCHIVE_URL in message
  assert str(tmp_path / "manual") in message


@contextlib.contextmanager
def _ram_filesystem():
  """Lets epath reach TensorFlow's in-memory `ram://` filesystem.

  tf.io.gfile has `ram://`; epath only maps gs/s3/az/hf onto it, so this
  (test only) adds `ram` to those tables. A read that bypasses epath /
  tf.io.gfile (builtin open, os.path, tarfile on a name) cannot see it.
  """
  with mock.patch.object(gpath, "_URI_PREFIXES", gpath._URI_PREFIXES + ("ram://",)), \
       mock.patch.object(gpath, "_URI_SCHEMES", gpath._URI_SCHEMES | {"ram"}), \
       mock.patch.dict(gpath._URI_MAP_ROOT, {"ram://": "/ram/"}), \
       mock.patch.dict(gpath._PREFIX_TO_BACKEND, {"ram": epath_backend.tf_backend}), \
       mock.patch.dict(epath_register._URI_PREFIXES_TO_CLS, {"ram://": gpath.PosixGPath}):  # pylint: disable=protected-access
    yield


@pytest.mark.parametrize("name, archive", [
    ("bench_imagenet_o", O_DUMMY),
    ("bench_imagenet_v2/matched-frequency", V2_DUMMY),
])
def test_builder_prepares_from_a_non_local_filesystem(name, archive, tmp_path):
  # manual_dir on TensorFlow's in-memory filesystem (read: as it is for O,
  # verified by TFDS for V2). data_dir, written by TFDS alone, stays local:
  # TFDS renames its incomplete folder when done, which `ram://` cannot.
  rows = {V2_CONFIG.archive_url: _url_info(V2_DUMMY)}
  root = f"ram://{tmp_path.name}"
  with _ram_filesystem(), mock.patch.object(V2, "url_infos", rows), \
       _network_serving(archive) as fetched:
    manual = epath.Path(f"{root}/manual")
    manual.mkdir(parents=True)
    (manual / archive.name).write_bytes(archive.read_bytes())
    builder = _prepare(name, tmp_path / "data", manual)
    assert fetched == []
    examples = list(tfds.as_numpy(builder.as_dataset(split="test")))
    assert len(examples) == builder.info.splits["test"].num_examples > 0


def _python(code: str) -> str:
  result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, check=True, timeout=300)
  return result.stdout.strip()


def test_import_tfds_bench_alone_loads_neither_tfds_nor_tensorflow():
  assert _python(
      "import sys, tfds_bench; print('tensorflow_datasets' in sys.modules, "
      "'tensorflow' in sys.modules)") == "False False"


IMPORT_ORDERS = (
    "import tfds_bench; import tensorflow_datasets as tfds",
    "import tensorflow_datasets as tfds; import tfds_bench",
    # The builders' shared module imported first (it imports TFDS itself).
    "from tfds_bench.builders import subset_builder; import tensorflow_datasets as tfds",
)


def test_import_tfds_bench_registers_every_builder():
  # What a notebook does, and what `tfds build --imports=tfds_bench` does
  # (import the module, then look the builder up by name), in each import
  # order; one fresh interpreter per order, side by side.
  procs = [subprocess.Popen(
      [sys.executable, "-c",
       f"{imports}; print(*sorted(n for n in tfds.list_builders("
       "with_community_datasets=False) if n.startswith('bench_')), "
       "tfds.builder('bench_imagenet_v2/matched-frequency').info.config_name)"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for imports in IMPORT_ORDERS]
  try:
    outputs = [p.communicate(timeout=300) for p in procs]
  finally:
    for p in procs:
      p.kill()
  folders = sorted(p.parent.name for p in V2.pkg_dir_path.parent.glob(
      "bench_*/*_dataset_builder.py"))
  for imports, proc, (stdout, stderr) in zip(IMPORT_ORDERS, procs, outputs):
    assert proc.returncode == 0, f"{imports}: {stderr[-2000:]}"
    assert stdout.split() == folders + ["matched-frequency"], imports
