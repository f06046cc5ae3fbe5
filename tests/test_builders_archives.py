"""Archive reading of the ImageNetV2/-Sketch/-A/-R/-O builders, end to end.

Builds small archives in a temporary folder, prepares the builders from them
with TFDS (no network: archives come from manual_dir) and checks labels,
conversions and the errors on damaged, unsafe or missing input. The rows
recorded for the real archives are set aside here (`_no_recorded_rows`), so
the hand-made archives are read as unverified manual_dir files;
tests/test_tfds_native.py covers download and verification.
"""

import io
import pathlib
import sys
import tarfile
import time

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_bench import archives
from tfds_bench import label_spaces
from tfds_bench import labels
from tfds_bench.errors import DamagedInputError
from tfds_bench.errors import MissingArchiveError
# Importing the package registers the builders with TFDS.
import tfds_bench.builders  # pylint: disable=unused-import
from tfds_bench.builders.bench_imagenet_o import bench_imagenet_o_dataset_builder

sys.path.insert(0, str(pathlib.Path(__file__).parent / "tools"))
import make_builder_dummy_data as dummy  # pylint: disable=g-import-not-at-top

V2_TOP = "imagenetv2-matched-frequency-format-val"
V2_ARCHIVE = "imagenetv2-matched-frequency.tar.gz"
A_WNIDS = label_spaces.get("imagenet_a").class_names


@pytest.fixture(autouse=True)
def _no_recorded_rows(monkeypatch):
  for name in tfds_bench.builders.BUILDER_NAMES:
    monkeypatch.setattr(tfds.builder_cls(name), "url_infos", {})


def _prepare(name, tmp_path, manual_dir):
  """Prepares builder `name` from manual_dir; returns the builder."""
  builder = tfds.builder(name, data_dir=tmp_path / "data")
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  return builder


def _examples(builder):
  return list(tfds.as_numpy(builder.as_dataset(split="test")))


def _a_archive(manual_dir, members):
  """Writes `imagenet-a.tar`: README.txt plus `members` under imagenet-a/."""
  full = {"imagenet-a/README.txt": b"The ImageNet-A dataset.\n"}
  full.update({f"imagenet-a/{name}": data for name, data in members.items()})
  dummy.write_tar(manual_dir / "imagenet-a.tar", full)


# (a) ImageNetV2: every class folder 0..999 is class int(folder) -------------


def test_imagenet_v2_all_1000_folders_map_to_their_integer(tmp_path):
  manual_dir = tmp_path / "manual"
  image = dummy.jpeg(0, size=8)
  members = {f"{V2_TOP}/{c}/{c:040x}.jpeg": image for c in range(1000)}
  dummy.write_tar(manual_dir / V2_ARCHIVE, members, compress=True)

  builder = _prepare("bench_imagenet_v2/matched-frequency", tmp_path,
                     manual_dir)

  assert builder.info.splits["test"].num_examples == 1000
  labels_by_folder = {}
  for example in _examples(builder):
    folder = example["file_name"].decode().split("/")[0]
    labels_by_folder[folder] = int(example["label"])
  assert len(labels_by_folder) == 1000
  assert all(label == int(folder) for folder, label in labels_by_folder.items())
  # And the wnid names follow the sorted-wnid order.
  assert builder.info.features["label"].int2str(10) == labels.wnids()[10]


@pytest.mark.parametrize("folder", ["1000", "010", "abc", "-1"])
def test_imagenet_v2_unexpected_folder_is_an_error_naming_the_member(
    tmp_path, folder):
  manual_dir = tmp_path / "manual"
  members = {f"{V2_TOP}/0/a.jpeg": dummy.jpeg(0, 8),
             f"{V2_TOP}/{folder}/b.jpeg": dummy.jpeg(1, 8)}
  dummy.write_tar(manual_dir / V2_ARCHIVE, members)
  with pytest.raises(DamagedInputError, match=f"{folder}/b.jpeg"):
    _prepare("bench_imagenet_v2/matched-frequency", tmp_path, manual_dir)


# (b) Conversions: CMYK, grayscale, PNG named .jpg ---------------------------


def test_non_rgb_jpeg_members_are_converted_with_the_right_label(tmp_path):
  manual_dir = tmp_path / "manual"
  arrays = {k: dummy.image_array(k) for k in range(4)}
  members = {
      f"{A_WNIDS[0]}/rgb.jpg": dummy.encode(arrays[0]),
      f"{A_WNIDS[1]}/cmyk.jpg": dummy.encode(arrays[1], mode="CMYK"),
      f"{A_WNIDS[2]}/gray.jpg": dummy.encode(arrays[2], mode="L"),
      f"{A_WNIDS[3]}/png.jpg": dummy.encode(arrays[3], image_format="PNG"),
  }
  _a_archive(manual_dir, members)

  builder = _prepare("bench_imagenet_a", tmp_path, manual_dir)

  by_name = {ex["file_name"].decode(): ex for ex in _examples(builder)}
  assert sorted(by_name) == sorted(members)
  for k, (name, original) in enumerate(members.items()):
    example = by_name[name]
    wnid = A_WNIDS[k]
    assert example["label"] == labels.index_of_wnid(wnid)
    assert example["label_200"] == k
    image = example["image"]
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    expected = arrays[k]
    if "gray" in name:
      expected = np.repeat(
          np.asarray(PIL.Image.fromarray(arrays[k]).convert("L"))[..., None],
          3, axis=-1)
    # JPEG round trips: close, not equal.
    assert np.abs(image.astype(int) - expected.astype(int)).mean() < 8, name
  # The RGB JPEG is stored byte for byte as released.
  assert archives.ensure_rgb_jpeg(members[f"{A_WNIDS[0]}/rgb.jpg"], "x") is (
      members[f"{A_WNIDS[0]}/rgb.jpg"])


# (b) Damaged members ---------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "zero_bytes", "not_an_image"])
def test_damaged_member_is_an_error_naming_archive_and_member(tmp_path, damage):
  manual_dir = tmp_path / "manual"
  good = dummy.jpeg(0)
  bad = {"truncated": good[:len(good) // 2], "zero_bytes": b"",
         "not_an_image": b"<html>404</html>"}[damage]
  bad_name = f"{A_WNIDS[1]}/bad image.jpg"
  _a_archive(manual_dir, {f"{A_WNIDS[0]}/good.jpg": good, bad_name: bad})
  with pytest.raises(DamagedInputError) as raised:
    _prepare("bench_imagenet_a", tmp_path, manual_dir)
  assert bad_name in str(raised.value)
  assert "imagenet-a.tar" in str(raised.value)


def test_unknown_wnid_folder_is_an_error_naming_the_member(tmp_path):
  manual_dir = tmp_path / "manual"
  not_in_a = next(w for w in labels.wnids() if w not in A_WNIDS)
  _a_archive(manual_dir, {f"{A_WNIDS[0]}/good.jpg": dummy.jpeg(0),
                          f"{not_in_a}/x.jpg": dummy.jpeg(1)})
  with pytest.raises(DamagedInputError, match=f"{not_in_a}/x.jpg"):
    _prepare("bench_imagenet_a", tmp_path, manual_dir)


@pytest.mark.parametrize("name", [
    "imagenet-a/other.txt",              # Unexpected file in the top folder.
    "imagenet-a/n01498041/sub/x.jpg",    # Too deep.
    "elsewhere/n01498041/x.jpg",         # Outside the top folder.
])
def test_unexpected_member_is_an_error_naming_it(tmp_path, name):
  manual_dir = tmp_path / "manual"
  dummy.write_tar(manual_dir / "imagenet-a.tar",
                  {"imagenet-a/n01498041/ok.jpg": dummy.jpeg(0),
                   name: dummy.jpeg(1)})
  with pytest.raises(DamagedInputError, match=name):
    _prepare("bench_imagenet_a", tmp_path, manual_dir)


def test_member_with_dotdot_is_refused_by_the_builder(tmp_path):
  manual_dir = tmp_path / "manual"
  evil = "imagenet-a/../../etc/x.jpg"
  dummy.write_tar(manual_dir / "imagenet-a.tar",
                  {"imagenet-a/n01498041/ok.jpg": dummy.jpeg(0),
                   evil: dummy.jpeg(1)}, with_folders=False)
  with pytest.raises(DamagedInputError, match=r"\.\./\.\./etc/x\.jpg"):
    _prepare("bench_imagenet_a", tmp_path, manual_dir)


# (c) Missing archive: fast, clear error ---------------------------------------


@pytest.mark.parametrize("name,file_name,url", [
    ("bench_imagenet_v2/matched-frequency", V2_ARCHIVE,
     "https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main/"
     "imagenetv2-matched-frequency.tar.gz"),
    ("bench_imagenet_v2/top-images", "imagenetv2-top-images.tar.gz",
     "imagenetv2-top-images.tar.gz"),
    ("bench_imagenet_a", "imagenet-a.tar",
     "https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar"),
    ("bench_imagenet_r", "imagenet-r.tar",
     "https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar"),
    ("bench_imagenet_o", "imagenet-o.tar",
     "https://people.eecs.berkeley.edu/~hendrycks/imagenet-o.tar"),
    ("bench_imagenet_sketch", "ImageNet-Sketch.zip",
     "https://drive.google.com/u/0/uc?id=1Mj0i5HBthqH1p_yeXzsg22gZduvgoNeA"),
])
@pytest.mark.parametrize("manual_dir_state", ["other_file", "empty", "absent"])
def test_missing_archive_fails_fast_naming_file_folder_and_url(
    tmp_path, name, file_name, url, manual_dir_state):
  manual_dir = tmp_path / "manual"
  if manual_dir_state != "absent":
    manual_dir.mkdir()
  if manual_dir_state == "other_file":
    (manual_dir / "something_else.tar").write_bytes(b"")
  start = time.monotonic()
  with pytest.raises(MissingArchiveError) as raised:
    _prepare(name, tmp_path, manual_dir)
  elapsed = time.monotonic() - start
  assert elapsed < 5, elapsed
  message = str(raised.value)
  assert file_name in message and url in message and str(manual_dir) in message
  assert isinstance(raised.value, FileNotFoundError)


# tfds_bench.archives directly -------------------------------------------------


@pytest.mark.parametrize("bad_name", ["/abs/x.jpg", "a/../../x.jpg", "..",
                                      "a\\b.jpg", "C:/x.jpg"])
def test_check_member_name_refuses_unsafe_names(bad_name):
  with pytest.raises(DamagedInputError, match="Refusing"):
    archives.check_member_name(bad_name, "arch.tar")


def test_check_member_name_normalises():
  assert archives.check_member_name("./a//b/./c.jpg", "x") == "a/b/c.jpg"


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "zip"])
def test_iter_members_in_archive_order_skips_folders_and_os_metadata(
    tmp_path, kind):
  members = {"top/b/2.jpg": b"2", "top/a/1.jpg": b"1",
             "top/a/._1.jpg": b"apple", "__MACOSX/top/x": b"m",
             "top/.DS_Store": b"d"}
  path = tmp_path / f"x.{kind}"
  if kind == "zip":
    dummy.write_zip(path, members)
  else:
    dummy.write_tar(path, members, compress=kind == "tar.gz")
  # Archive order, as TFDS's iteration reads it (deterministic).
  expected = [("top/b/2.jpg", b"2"), ("top/a/1.jpg", b"1")]
  assert list(archives.iter_members(path)) == expected


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "zip"])
def test_member_tfds_would_skip_silently_is_an_error(tmp_path, kind):
  # TFDS's iteration drops dot-files that are not OS metadata; nothing is
  # lost silently.
  members = {"top/a/1.jpg": b"1", "top/a/.hidden.jpg": b"h"}
  path = tmp_path / f"x.{kind}"
  if kind == "zip":
    dummy.write_zip(path, members)
  else:
    dummy.write_tar(path, members, compress=kind == "tar.gz")
  with pytest.raises(DamagedInputError, match=r"top/a/\.hidden\.jpg"):
    list(archives.iter_members(path))


def test_iter_members_refuses_links_and_duplicates(tmp_path):
  path = tmp_path / "links.tar"
  with tarfile.open(path, "w") as tar:
    info = tarfile.TarInfo("top/link.jpg")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    tar.addfile(info)
  with pytest.raises(DamagedInputError, match="top/link.jpg.*link"):
    list(archives.iter_members(path))
  path = tmp_path / "dup.tar"
  with tarfile.open(path, "w") as tar:
    for payload in (b"one", b"two"):
      info = tarfile.TarInfo("top/a.jpg")
      info.size = len(payload)
      tar.addfile(info, io.BytesIO(payload))
  with pytest.raises(DamagedInputError, match="twice"):
    list(archives.iter_members(path))


def test_truncated_archive_is_a_damaged_input_error(tmp_path):
  path = tmp_path / "cut.tar"
  dummy.write_tar(path, {"top/a/1.jpg": dummy.jpeg(0), "top/b/2.jpg":
                         dummy.jpeg(1)})
  path.write_bytes(path.read_bytes()[:1800])
  with pytest.raises(DamagedInputError, match="cut.tar"):
    list(archives.iter_members(path))


# Metadata and helpers ---------------------------------------------------------


@pytest.mark.parametrize("name,citation_key", [
    ("bench_imagenet_v2", "recht2019imagenet"),
    ("bench_imagenet_sketch", "wang2019learning"),
    ("bench_imagenet_a", "hendrycks2021nae"),
    ("bench_imagenet_r", "hendrycks2021many"),
    ("bench_imagenet_o", "hendrycks2021nae"),
])
def test_builder_metadata_is_found(name, citation_key):
  """README/CITATIONS are read from the builder folder (pkg_dir_path)."""
  builder_cls = tfds.builder_cls(name)
  assert builder_cls.pkg_dir_path.is_dir()
  metadata = builder_cls.get_metadata()
  assert citation_key in metadata.citation
  assert "manual_dir" in metadata.description
  assert builder_cls.VERSION == "1.0.0"


def test_imagenet_o_in_distribution_filter():
  o_indices = label_spaces.get("imagenet_o").imagenet_indices
  not_o = next(i for i in range(1000) if i not in set(o_indices))
  label = tf.constant([o_indices[0], not_o, o_indices[-1]])
  result = bench_imagenet_o_dataset_builder.in_distribution_filter(label)
  assert result.numpy().tolist() == [True, False, True]
