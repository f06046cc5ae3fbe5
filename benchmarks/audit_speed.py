"""Speed and memory of the near-duplicate audit's blocked top-k search.

Times `tfds_bench.audit.blocked_top_k` on random l2-normalised features (the
embedding dimension of EfficientNet-Lite0's ``avg_pool``, 1280, by default),
streaming reference blocks as the audit does, and reports pairs/s and the peak
RSS of the process (``resource.getrusage``; Linux reports KiB). In the same run
it times the brute-force baseline (`brute_force_top_k`: the full distance
matrix, then a sort) on a smaller size that fits in memory, and prints the
speed ratio. It then extrapolates the blocked search linearly in pairs to the
ImageNetV2-style audit, 50,000 test x 1,281,167 ImageNet train images, for
the embedding search and the pixel search (3,072-d): an EXTRAPOLATION, not a
measurement, and it excludes decoding and featurising the images.

  python benchmarks/audit_speed.py [--queries 5000 --references 100000]
"""

import argparse
import resource
import time

import numpy as np

from tfds_bench import audit

IMAGENET_TRAIN = 1281167
AUDIT_TEST = 50000


def _random_features(rng, rows, dim, block=8192):
  out = np.empty((rows, dim), np.float32)
  for start in range(0, rows, block):
    chunk = rng.standard_normal((min(block, rows - start), dim), dtype=np.float32)
    out[start:start + block] = audit.l2_normalize(chunk)
  return out


def _peak_rss_mib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _blocked(queries, references, k, reference_block, query_block, metric):
  blocks = (references[s:s + reference_block] for s in range(0, len(references), reference_block))
  start = time.perf_counter()
  result = audit.blocked_top_k(queries, blocks, k, metric, query_block=query_block)
  return time.perf_counter() - start, result


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--queries", type=int, default=5000)
  parser.add_argument("--references", type=int, default=100000)
  parser.add_argument("--dim", type=int, default=1280)
  parser.add_argument("--k", type=int, default=audit.DEFAULT_TOP_K)
  parser.add_argument("--reference_block", type=int, default=2048)
  parser.add_argument("--query_block", type=int, default=4096)
  parser.add_argument("--baseline_queries", type=int, default=1000)
  parser.add_argument("--baseline_references", type=int, default=20000)
  parser.add_argument("--metric", choices=("l2", "cosine"), default="cosine")
  args = parser.parse_args()

  rng = np.random.default_rng(0)
  queries = _random_features(rng, args.queries, args.dim)
  references = _random_features(rng, args.references, args.dim)
  rss_inputs = _peak_rss_mib()

  # Baseline first, on its own smaller size; the blocked search repeats that
  # size so the ratio compares like with like.
  bq, br = queries[:args.baseline_queries], references[:args.baseline_references]
  start = time.perf_counter()
  brute_distance, brute_index = audit.brute_force_top_k(bq, br, args.k, args.metric)
  brute_seconds = time.perf_counter() - start
  small_seconds, (small_distance, small_index) = _blocked(
      bq, br, args.k, args.reference_block, args.query_block, args.metric)
  agree = float(np.mean(small_index == brute_index))

  seconds, _ = _blocked(queries, references, args.k, args.reference_block, args.query_block,
                        args.metric)
  pairs = args.queries * args.references
  rate = pairs / seconds
  small_pairs = len(bq) * len(br)

  print(f"blocked top-{args.k} ({args.metric}, dim {args.dim}): {args.queries} x "
        f"{args.references} = {pairs:.3g} pairs in {seconds:.2f} s -> {rate:.3g} pairs/s")
  print(f"peak RSS {_peak_rss_mib():.0f} MiB (inputs alone {rss_inputs:.0f} MiB; "
        f"the brute-force baseline's {small_pairs:.3g}-pair matrix included)")
  print(f"baseline {len(bq)} x {len(br)}: brute force {brute_seconds:.2f} s "
        f"({small_pairs / brute_seconds:.3g} pairs/s), blocked {small_seconds:.2f} s "
        f"({small_pairs / small_seconds:.3g} pairs/s); blocked/brute speed "
        f"{brute_seconds / small_seconds:.2f}x; same neighbours: {agree:.4f}")
  print(f"brute force would need a {AUDIT_TEST} x {IMAGENET_TRAIN} float32 matrix: "
        f"{AUDIT_TEST * IMAGENET_TRAIN * 4 / 2**30:.0f} GiB")
  full_pairs = AUDIT_TEST * IMAGENET_TRAIN
  embedding_hours = full_pairs / rate / 3600
  pixel_hours = embedding_hours * (3 * audit.PIXEL_SIDE ** 2) / args.dim
  print(f"EXTRAPOLATED (linear in pairs x dim, not measured): {AUDIT_TEST} x {IMAGENET_TRAIN} "
        f"search ~{embedding_hours:.1f} h at dim {args.dim} + ~{pixel_hours:.1f} h for the "
        f"3072-d pixel search, plus featurising the reference images")


if __name__ == "__main__":
  main()
