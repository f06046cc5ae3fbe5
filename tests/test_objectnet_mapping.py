"""tfds_bench/data/label_spaces/objectnet.json against the ObjectNet authors' files.

The expected values below are written out by hand from the authors' files, not
from our JSON: the ObjectNet class ids and ImageNet indices from
abarbu/objectnet-template-tensorflow (commit ec2a852)
`mapping_files/imagenet_id_to_objectnet_id.json` with the class names of
`mapping_files/additional_mappping_files/objectnet_id_overlap.json`, and the
ImageNet class names from `objectnet_to_imagenet_1k.json` (the release's
`mappings/` file, same git blob in that repository).
"""

import csv
import json
from importlib import resources

import pytest

# ObjectNet class -> (authors' ObjectNet id, ImageNet indices whose key maps to
# that id in imagenet_id_to_objectnet_id.json, the ImageNet names listed for it
# in objectnet_to_imagenet_1k.json, first synonym of each).
HAND_CHECKED = {
    "Alarm clock": (1, [409, 530], ["analog clock", "digital clock"]),
    "Banana": (4, [954], ["banana"]),
    "Bicycle": (17, [444, 671], ["bicycle-built-for-two", "mountain bike"]),
    "Chair": (52, [423, 559, 765],
              ["barber chair", "folding chair", "rocking chair"]),
    "Pen": (182, [418, 563, 749], ["ballpoint", "fountain pen", "quill"]),
    "Skirt": (231, [601, 655, 689], ["hoopskirt", "miniskirt", "overskirt"]),
    "Tie": (273, [457, 906], ["bow tie", "Windsor tie"]),
    "Toilet paper roll": (276, [999], ["toilet tissue"]),
    "Wok": (310, [909], ["wok"]),
}


def _data(name: str):
  return resources.files("tfds_bench").joinpath("data").joinpath(name)


@pytest.fixture(scope="module")
def space():
  with _data("label_spaces").joinpath("objectnet.json").open(
      "r", encoding="utf-8") as f:
    return json.load(f)


def test_the_file_has_113_classes_with_disjoint_imagenet_indices(space):
  assert space["name"] == "objectnet"
  assert space["title"] and "objectnet-template-tensorflow" in space["source"]
  classes = space["classes"]
  assert len(classes) == 113
  names = [c["name"] for c in classes]
  assert len(set(names)) == 113
  # The stated order: code-point order of the names (= the authors' id order).
  assert names == sorted(names)
  seen = {}
  for c in classes:
    assert c["imagenet_indices"], c["name"]
    for index in c["imagenet_indices"]:
      assert isinstance(index, int) and 0 <= index <= 999, (c["name"], index)
      assert index not in seen, (index, seen.get(index), c["name"])
      seen[index] = c["name"]
  assert len(seen) == 125


@pytest.mark.parametrize("name", sorted(HAND_CHECKED))
def test_hand_checked_classes_equal_the_authors_mapping(space, name):
  by_name = {c["name"]: c["imagenet_indices"] for c in space["classes"]}
  _, indices, _ = HAND_CHECKED[name]
  assert sorted(by_name[name]) == indices


def test_class_order_is_the_authors_objectnet_id_order(space):
  names = [c["name"] for c in space["classes"]]
  ids = [HAND_CHECKED[n][0] for n in names if n in HAND_CHECKED]
  assert ids == sorted(ids)


def test_indices_are_sorted_wnid_indices_by_name():
  # The authors' indices are PyTorch's, i.e. sorted-wnid order: the names of
  # our own class table at those indices are the names they list.
  with _data("imagenet1k_classes.tsv").open("r", encoding="utf-8") as f:
    table = {int(r["index"]): r["name"] for r in csv.DictReader(f, delimiter="\t")}
  for name, (_, indices, imagenet_names) in HAND_CHECKED.items():
    assert sorted(table[i] for i in indices) == sorted(imagenet_names), name
