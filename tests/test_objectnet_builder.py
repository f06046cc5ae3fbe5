"""bench_objectnet on bad input: each fails with one line naming the file and the fix.

Small encrypted zips in the released layout are written to a temporary folder
with the dummy-data tool (Info-ZIP's `zip -P`); the builder's example
generator is run on them directly, or the builder is prepared with TFDS where
the manual_dir lookup is what is tested.
"""

import json
import pathlib
import re
import struct
import sys
import zipfile

import pytest
import tensorflow_datasets as tfds

from tfds_bench import archives
from tfds_bench.errors import DamagedInputError
from tfds_bench.errors import MissingArchiveError
from tfds_bench.builders.bench_objectnet import bench_objectnet_dataset_builder as objectnet

sys.path.insert(0, str(pathlib.Path(__file__).parent / "tools"))
import make_builder_dummy_data as dummy  # pylint: disable=g-import-not-at-top

ONE_IMAGE = {"chair": ("Chair", [(8, 8, "RGBA")])}


def _zip(tmp_path, members, password=dummy.OBJECTNET_PASSWORD):
  path = tmp_path / objectnet.ARCHIVE_NAME
  dummy.write_encrypted_zip(path, members, password)
  return path


def _members(images=None):
  return dummy.objectnet_members(dummy.objectnet_label_space(),
                                 ONE_IMAGE if images is None else images)


def _generate(tmp_path, archive):
  builder = objectnet.Builder(data_dir=tmp_path / "data")
  return list(builder._generate_examples(archive))  # pylint: disable=protected-access


def test_a_good_zip_gives_the_cropped_image_and_its_label(tmp_path):
  examples = dict(_generate(tmp_path, _zip(tmp_path, _members())))
  (key, example), = examples.items()
  assert key == example["file_name"] == "chair/000000000000001.png"
  assert example["label"] == objectnet.label_space_class_names().index("Chair")
  assert example["image"].shape == (4, 4, 3)
  assert not (example["image"] == dummy.OBJECTNET_BORDER_RGB).all(-1).any()


def test_a_folder_missing_from_the_mapping_is_named(tmp_path):
  members = _members()
  members["objectnet-1.0/images/not_a_folder/abc.png"] = dummy.objectnet_png(
      7, 8, 8, "RGBA")
  with pytest.raises(DamagedInputError) as raised:
    _generate(tmp_path, _zip(tmp_path, members))
  message = str(raised.value)
  assert "\n" not in message
  assert "'not_a_folder'" in message
  assert "objectnet-1.0/images/not_a_folder/abc.png" in message
  assert "mappings/folder_to_objectnet_label.json" in message
  assert "use the released objectnet-1.0.zip" in message


def test_a_label_space_class_missing_from_the_mapping_is_named(tmp_path):
  members = _members()
  mapping_member = "objectnet-1.0/mappings/folder_to_objectnet_label.json"
  members[mapping_member] = b'{"chair": "Chair"}'
  with pytest.raises(DamagedInputError,
                     match=r"class\(es\) of tfds_bench/data/label_spaces/"
                     r"objectnet\.json are not classes of member "
                     r"'objectnet-1\.0/mappings/folder_to_objectnet_label\.json'"):
    _generate(tmp_path, _zip(tmp_path, members))


@pytest.mark.parametrize("member", [
    "objectnet-1.0/mappings/folder_to_objectnet_label.json",
    "objectnet-1.0/mappings/objectnet_to_imagenet_1k.json"])
def test_a_missing_mapping_file_is_named(tmp_path, member):
  members = _members()
  del members[member]
  with pytest.raises(DamagedInputError,
                     match=f"has no member '{re.escape(member)}'"):
    _generate(tmp_path, _zip(tmp_path, members))


OVERLAP = "objectnet-1.0/mappings/objectnet_to_imagenet_1k.json"


def test_an_overlap_class_missing_from_the_label_space_file_is_named(tmp_path):
  members = _members()
  overlap = json.loads(members[OVERLAP])
  overlap["Squeegee"] = "squeegee"
  members[OVERLAP] = json.dumps(overlap).encode()
  with pytest.raises(DamagedInputError) as raised:
    _generate(tmp_path, _zip(tmp_path, members))
  message = str(raised.value)
  assert "\n" not in message
  assert message.startswith(f"Class 'Squeegee' of member '{OVERLAP}' of ")
  assert "is missing from tfds_bench/data/label_spaces/objectnet.json" in message
  assert "make_objectnet_label_space.py rebuilds it" in message


def test_a_label_space_class_missing_from_the_overlap_file_is_named(tmp_path):
  members = _members()
  overlap = json.loads(members[OVERLAP])
  del overlap["Wok"]
  members[OVERLAP] = json.dumps(overlap).encode()
  with pytest.raises(DamagedInputError,
                     match=r"Class 'Wok' of tfds_bench/data/label_spaces/"
                     f"objectnet\\.json is not in member '{re.escape(OVERLAP)}'"):
    _generate(tmp_path, _zip(tmp_path, members))


def test_a_wrong_password_is_named(tmp_path):
  archive = _zip(tmp_path, _members(), password="not-the-password")
  # ZipCrypto's one check byte passes 1 wrong password in 256; then the CRC
  # check fails instead. Either way the first member read (a mapping file) is
  # named, and the password is mentioned.
  with pytest.raises(DamagedInputError,
                     match=r"^(The password does not open|Cannot read) member "
                     r"'objectnet-1\.0/mappings/[^']+' of .*objectnet-1\.0\.zip"
                     r".*password"):
    _generate(tmp_path, archive)


def test_an_unexpected_member_is_named(tmp_path):
  members = _members()
  members["objectnet-1.0/extra.txt"] = b"x"
  with pytest.raises(DamagedInputError,
                     match=r"Unexpected member 'objectnet-1\.0/extra\.txt'"):
    _generate(tmp_path, _zip(tmp_path, members))


def test_an_image_without_room_for_the_border_is_named(tmp_path):
  members = _members({"chair": ("Chair", [(4, 9, "RGB")])})
  with pytest.raises(DamagedInputError, match=r"chair/000000000000001\.png.* "
                     r"4x9 pixels, too small"):
    _generate(tmp_path, _zip(tmp_path, members))


def test_an_aes_encrypted_member_is_refused(tmp_path):
  # WinZip AES writes compression method 99 in both headers; zipfile lists
  # such a member but cannot read it.
  archive = tmp_path / objectnet.ARCHIVE_NAME
  with zipfile.ZipFile(archive, "w") as zf:
    zf.writestr("objectnet-1.0/README", b"x")
  data = bytearray(archive.read_bytes())
  for signature, method_offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
    at = data.index(signature) + method_offset
    data[at:at + 2] = struct.pack("<H", 99)
  archive.write_bytes(bytes(data))
  with pytest.raises(DamagedInputError, match=r"'objectnet-1\.0/README' of .* "
                     r"is AES-encrypted"):
    archives.EncryptedZip(archive, objectnet.PASSWORD)


def test_a_file_that_is_not_a_zip_is_named(tmp_path):
  archive = tmp_path / objectnet.ARCHIVE_NAME
  archive.write_bytes(b"not a zip")
  with pytest.raises(DamagedInputError, match=r"objectnet-1\.0\.zip.* not a zip"):
    _generate(tmp_path, archive)


def test_a_missing_zip_names_the_file_and_the_folder(tmp_path):
  manual_dir = tmp_path / "manual"
  manual_dir.mkdir()
  (manual_dir / "other.zip").write_bytes(b"")
  builder = objectnet.Builder(data_dir=tmp_path / "data")
  with pytest.raises(MissingArchiveError,
                     match=r"objectnet-1\.0\.zip is needed: download it from "
                     r"https://objectnet\.dev/.*Looked in .*manual"):
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))


def test_readme_and_citation_are_found_in_the_builder_folder():
  metadata = objectnet.Builder.get_metadata()
  assert "barbu2019objectnet" in metadata.citation
  description = " ".join(metadata.description.split())
  assert "<manual_dir>/objectnet-1.0.zip" in description
  assert "may never be used to tune the parameters of any model" in description
  assert objectnet.Builder.ARCHIVE_NAMES == ("objectnet-1.0.zip",)
