"""sha256 digests of the engine's outputs, to prove a speed change kept every byte.

Run before and after a change and compare the two files:

  python tests/tools/corruption_digests.py --out before.json
  python tests/tools/corruption_digests.py --out after.json
  python tests/tools/corruption_digests.py --compare before.json after.json

Covers `corruptions.apply` for all 19 corruptions x 5 severities on two
sample photos (release crop), with Python-int and tensor seeds, on a batch
and on a single image, the builders' `release.imagenet_c.corrupt` and
`corrupt_group` (which must give the single image's bytes), and
`perturbations.sequence` for all 14 ImageNet-P perturbations (and the noise
difficulties).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys


def _digest(x) -> str:
  import numpy as np  # pylint: disable=g-import-not-at-top
  return hashlib.sha256(np.ascontiguousarray(np.asarray(x, np.uint8)).tobytes()).hexdigest()


def _images():
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from tfds_bench.builders.bench_sample import bench_sample_dataset_builder as sample  # pylint: disable=g-import-not-at-top
  from tfds_bench.release import common  # pylint: disable=g-import-not-at-top
  resized = [common.resize_shorter_side(Image.fromarray(sample.read_photo(p)))
             for p in sample.PHOTOS[:2]]
  crops = np.stack([np.asarray(common.center_crop(r), np.uint8) for r in resized])
  return crops, np.asarray(resized[0], np.uint8)


def compute() -> dict:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tfds_bench import corruptions  # pylint: disable=g-import-not-at-top
  from tfds_bench.corruptions import perturbations  # pylint: disable=g-import-not-at-top
  from tfds_bench.release import imagenet_c  # pylint: disable=g-import-not-at-top
  crops, resized = _images()
  out = {}
  for name in corruptions.NAMES:
    for severity in corruptions.SEVERITIES:
      for seed in (0, 7, 123456):
        out[f"{name}/{severity}/batch/int{seed}"] = _digest(
            corruptions.apply(crops, name, severity, seed))
      for seed in (0, 7, 2**31 - 1):
        out[f"{name}/{severity}/batch/tensor{seed}"] = _digest(
            corruptions.apply(crops, name, severity, tf.constant(seed, tf.int64)))
      out[f"{name}/{severity}/single/int5"] = _digest(
          corruptions.apply(crops[1], name, severity, 5))
      out[f"{name}/{severity}/single/tensor5"] = _digest(
          corruptions.apply(crops[1], name, severity, tf.constant(5, tf.int32)))
      out[f"{name}/{severity}/builder/int5"] = _digest(
          imagenet_c.corrupt(crops[1], imagenet_c.Config(name, severity), 5))
      # The second image of a group (seed 5 after another image's seed 9).
      out[f"{name}/{severity}/group/int5"] = _digest(
          imagenet_c.corrupt_group(crops, [9, 5], imagenet_c.Config(name, severity))[1])
    print(name, file=sys.stderr, flush=True)
  for name in perturbations.NAMES:
    difficulties = (1, 2, 3) if name in perturbations.NOISE_NAMES else (1,)
    for difficulty in difficulties:
      out[f"p/{name}/{difficulty}/seed3"] = _digest(
          perturbations.sequence(resized, name, seed=3, difficulty=difficulty))
    print("p", name, file=sys.stderr, flush=True)
  return out


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", help="write the digests (JSON) here")
  parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
  args = parser.parse_args()
  if args.compare:
    before, after = (json.load(open(p)) for p in args.compare)
    differing = sorted(k for k in before if k in after and before[k] != after[k])
    missing = sorted(k for k in before if k not in after)
    # The builders' paths (one image, or the second of a group; seed 5) must
    # give the eager call's bytes.
    for path in ("/builder/", "/group/"):
      differing += sorted(k for k in after if path in k
                          and after[k] != before[k.replace(path, "/single/")])
    print(f"{len(before)} digests; {len(differing)} differ; {len(missing)} missing after")
    for k in differing + missing:
      print("  ", k)
    return 1 if differing or missing else 0
  digests = compute()
  with open(args.out, "w") as f:
    json.dump(digests, f, indent=1, sort_keys=True)
  print(f"{len(digests)} digests -> {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
