"""bench_imagenet_c's generation from the val tar, end to end, vs one image at a time.

What preparing a generated ImageNet-C config costs per image, on N ImageNet-
sized val-like JPEGs (500x375) held in memory, for each corruption (severity 3
by default):
  * builder: `tfds_bench.release.imagenet_c.generate_images`, what the builder
    runs (one tf.data pipeline per config: PIL decode / Resize(256) /
    CenterCrop(224), the corruption with each image's seed, PIL JPEG q85
    optimize=True, as parallel map calls);
  * one at a time (the baseline, measured in the same run): the same steps
    per image through `corrupt_and_encode`.
Both make the same bytes (checked here on every image). Interleaved, medians
of --repeats, compilation excluded (one untimed pass each first).

The builder pays a fixed cost per config (building and tracing its pipeline;
frost's textures become graph constants), once per 50,000 images in a real
build but a large share of a few dozen images here, so it is measured apart:
the builder also runs on a quarter of the images, and the difference gives
its per-image (steady-state) rate and its fixed seconds per config. The
ratio column compares that steady-state rate with one at a time. The last
row projects the hours for all of ImageNet-C (50,000 x 19 x 5) on this
machine at the listed corruptions' mean steady-state rates.

  python benchmarks/imagenet_c_generation.py --images=32 [--names=glass_blur,snow]
"""

import argparse
import os
import time

import numpy as np

from imagenet_c_on_the_fly import val_like_dataset  # pylint: disable=g-bad-import-order


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--images", type=int, default=32)
  parser.add_argument("--names", default="", help="comma-separated (default: all 19)")
  parser.add_argument("--severity", type=int, default=3)
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args()

  from tfds_bench import corruptions  # pylint: disable=g-import-not-at-top
  from tfds_bench.release import imagenet_c  # pylint: disable=g-import-not-at-top
  names = args.names.split(",") if args.names else list(corruptions.NAMES)
  val = [(ex["file_name"].decode(), ex["image"])
         for ex in val_like_dataset(args.images).as_numpy_iterator()]

  def builder(name, count=len(val)):
    sources = [imagenet_c.val_source_image(f, data, f) for f, data in val[:count]]
    return [image for _, image in imagenet_c.generate_images(
        sources, imagenet_c.Config(name, args.severity))]

  quarter = max(1, args.images // 4)

  def one_at_a_time(name):
    return [imagenet_c.corrupt_and_encode(data, f, imagenet_c.Config(name, args.severity))
            for f, data in val]

  print(f"{args.images} val-like 500x375 JPEGs, severity {args.severity}, medians of "
        f"{args.repeats}; load average {os.getloadavg()[0]:.2f} at start")
  print(f"{'corruption':<20}{'builder img/s':>15}{'steady img/s':>14}{'fixed s':>9}"
        f"{'one at a time':>15}{'ratio':>8}")
  totals = {"builder": 0.0, "steady": 0.0, "one": 0.0}
  for name in names:
    assert builder(name) == one_at_a_time(name), f"{name}: the two paths differ"
    times = {"builder": [], "quarter": [], "one": []}
    for _ in range(args.repeats):
      for key, fn in (("builder", builder), ("quarter", lambda n: builder(n, quarter)),
                      ("one", one_at_a_time)):
        start = time.perf_counter()
        fn(name)
        times[key].append(time.perf_counter() - start)
    whole, part, one = (float(np.median(times[k])) for k in ("builder", "quarter", "one"))
    steady = max(whole - part, 1e-9) / (args.images - quarter)
    fixed = whole - steady * args.images
    b, o = whole / args.images, one / args.images
    totals["builder"] += b
    totals["steady"] += steady
    totals["one"] += o
    print(f"{name:<20}{1 / b:>15.1f}{1 / steady:>14.1f}{fixed:>9.2f}{1 / o:>15.1f}"
          f"{o / steady:>7.2f}x", flush=True)
  b, steady, o = totals["builder"], totals["steady"], totals["one"]
  print(f"{'overall':<20}{len(names) / b:>15.1f}{len(names) / steady:>14.1f}{'':>9}"
        f"{len(names) / o:>15.1f}{o / steady:>7.2f}x   (total images / total time)")
  b = steady
  hours = 50_000 * 19 * 5 / 3600 / len(names)
  print(f"{'ImageNet-C hours':<20}{'':>15}{b * hours:>14.1f}{'':>9}{o * hours:>15.1f}")
  print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
  main()
