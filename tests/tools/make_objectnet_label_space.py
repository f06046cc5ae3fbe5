"""Writes tfds_bench/data/label_spaces/objectnet.json from ObjectNet's mappings.

Usage (from the repository root), MAPPINGS being a folder that holds the
`objectnet-1.0/mappings/` files of the released zip (or the same files as
copied in mlfoundations/wise-ft `src/datasets/objectnet_metadata/`):

  /work/main/.venv/bin/python tests/tools/make_objectnet_label_space.py MAPPINGS

The derivation is the one the authors' files imply:

* `objectnet_to_imagenet_1k.json`: ObjectNet class name -> the ImageNet-1k
  class names it covers, joined by "; " (113 classes);
* `imagenet_to_label_2012_v2`: one ImageNet class name per line, line i being
  ILSVRC2012_ID i + 1 (the devkit's order, starting with "kit fox");
* `pytorch_to_imagenet_2012_id.json`: class index in the sorted-wnid order
  (PyTorch's, TFDS's, Keras') -> line of `imagenet_to_label_2012_v2`.

Classes are written in code-point order of their names, which is also the
order of the authors' ObjectNet ids (`objectnet_id_overlap.json` in
abarbu/objectnet-template-tensorflow).
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Dict, List

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUT = REPO_ROOT / "tfds_bench" / "data" / "label_spaces" / "objectnet.json"

TITLE = ("ObjectNet 1.0: the 113 ObjectNet classes that overlap ImageNet-1k, "
         "each with the ImageNet-1k classes that count as it")
SOURCE = (
    "ObjectNet class -> ImageNet class names: objectnet-1.0/mappings/"
    "objectnet_to_imagenet_1k.json of the released zip, identical (git blob "
    "48b8d26e) to abarbu/objectnet-template-tensorflow mapping_files/"
    "additional_mappping_files/objectnet_to_imagenet_1k.json at commit "
    "ec2a85264193ced71431e47e9ff7dae15150f6b5 (repository licence MIT, "
    "ObjectNet team); names -> sorted-wnid indices through objectnet-1.0/"
    "mappings/imagenet_to_label_2012_v2 and pytorch_to_imagenet_2012_id.json "
    "as copied in mlfoundations/wise-ft src/datasets/objectnet_metadata/ at "
    "commit 58b7a4b343b09dc06606aa929c2ef51accced8d1 (files of the ObjectNet "
    "release: ObjectNet licence, CC BY 4.0 with two added clauses). The "
    "result equals the template's mapping_files/imagenet_id_to_objectnet_id."
    "json (same commit). Order: class names in code-point order, which is the "
    "authors' ObjectNet id order.")


def derive(mappings: pathlib.Path) -> Dict[str, List[int]]:
  """ObjectNet class name -> sorted ImageNet-1k indices (sorted-wnid order)."""
  objectnet_to_names = json.loads(
      (mappings / "objectnet_to_imagenet_1k.json").read_text(encoding="utf-8"))
  lines = (mappings / "imagenet_to_label_2012_v2").read_text(
      encoding="utf-8").splitlines()
  index_to_line = json.loads(
      (mappings / "pytorch_to_imagenet_2012_id.json").read_text(
          encoding="utf-8"))
  line_to_index = {line: int(index) for index, line in index_to_line.items()}
  name_to_indices: Dict[str, List[int]] = {}
  for line, name in enumerate(lines):
    name_to_indices.setdefault(name.strip(), []).append(line_to_index[line])
  derived = {}
  for objectnet_name, joined in objectnet_to_names.items():
    indices = []
    for imagenet_name in joined.split("; "):
      found = name_to_indices[imagenet_name]
      if len(found) != 1:  # "crane" names two classes; no ObjectNet class uses it.
        raise ValueError(f"ImageNet name {imagenet_name!r} is ambiguous")
      indices.append(found[0])
    derived[objectnet_name] = sorted(indices)
  return derived


def label_space(derived: Dict[str, List[int]]) -> dict:
  return {
      "name": "objectnet",
      "title": TITLE,
      "source": SOURCE,
      "classes": [{"name": name, "imagenet_indices": derived[name]}
                  for name in sorted(derived)],
  }


def dumps(space: dict) -> str:
  """JSON with one class per line (reviewable diffs)."""
  head = {k: v for k, v in space.items() if k != "classes"}
  lines = [json.dumps(head, indent=1)[:-2] + ',\n "classes": [']
  lines.append(",\n".join("  " + json.dumps(c) for c in space["classes"]))
  lines.append(" ]\n}\n")
  return "\n".join(lines)


def main(argv: List[str]) -> None:
  if len(argv) != 2:
    raise SystemExit(__doc__)
  space = label_space(derive(pathlib.Path(argv[1])))
  OUTPUT.parent.mkdir(parents=True, exist_ok=True)
  OUTPUT.write_text(dumps(space), encoding="utf-8")
  print(f"{len(space['classes'])} classes -> {OUTPUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
  main(sys.argv)
