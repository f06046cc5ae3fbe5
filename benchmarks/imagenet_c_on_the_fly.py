"""ImageNet-C on the fly vs evaluating a pre-generated copy, images/s per corruption.

For each corruption (severity 3 by default), on N ImageNet-sized val-like JPEGs
(500x375) held in memory:
  * pre-generated: the corrupted JPEGs are made first (as bench_imagenet_c's
    generated mode stores them) and only the evaluation is timed;
  * on the fly: `tfds_bench.release.imagenet_c.corrupt_on_the_fly` inside tf.data feeding the
    model, timed end to end.
Both run the same model (EfficientNet-Lite0 by default) through
`evaluate.predict_source`. The ratio on_the_fly / pre_generated says whether
the model (ratio near 1) or the corruption (ratio well below 1) is the
bottleneck on this machine. The first row, "(generation only)", runs the same
path without a corruption (val decode, resize 256 / crop 224, JPEG round
trip): on a CPU that fixed cost shares the cores with the model, so a
corruption whose ratio is close to that row's costs little of its own.

  python benchmarks/imagenet_c_on_the_fly.py --images=64 [--names=glass_blur,snow]
"""

import argparse
import io
import os
import time

import numpy as np


def val_like_dataset(count: int):
  import tensorflow as tf
  from PIL import Image
  from tfds_bench import labels
  rng = np.random.default_rng(0)
  base = rng.integers(0, 256, (47, 63, 3), dtype=np.uint8)
  photo = np.asarray(Image.fromarray(base).resize((500, 375), Image.BICUBIC))
  images, names = [], []
  for i in range(count):
    buffer = io.BytesIO()
    Image.fromarray(np.roll(photo, i * 7, axis=1)).save(buffer, format="JPEG", quality=90)
    images.append(buffer.getvalue())
    names.append(f"ILSVRC2012_val_{i + 1:08d}.JPEG")
  return tf.data.Dataset.from_tensor_slices({
      "image": images, "file_name": names, "label": labels.val_labels()[:count]})


def timed(fn):
  start = time.perf_counter()
  result = fn()
  return result, time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--images", type=int, default=64)
  parser.add_argument("--severity", type=int, default=3)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--model", default="efficientnet")
  parser.add_argument("--names", default="", help="comma-separated corruptions (default: all 19)")
  args = parser.parse_args()

  import tensorflow as tf
  from tfds_bench import corruptions, evaluate, models
  from tfds_bench.release import imagenet_c

  spec = models.get(args.model)
  model = spec.build(None)
  clean = val_like_dataset(args.images).cache()
  names = [n for n in args.names.split(",") if n] or list(corruptions.NAMES)
  # Trace the predict step once and reuse it, as evaluate() does for all sources.
  step = evaluate.make_predict_step(model, spec)
  evaluate.predict_source(clean.take(2), model, spec, args.batch_size, step=step)

  print(f"{spec.name}, {args.images} images of 500x375 per corruption, severity "
        f"{args.severity}, batch {args.batch_size}, {os.cpu_count()} CPUs, TF {tf.__version__}")
  print(f"{'corruption':20s} {'pre-generated':>14s} {'on the fly':>11s} {'ratio':>6s}")
  totals = [0.0, 0.0]
  for name in [None] + names:
    if name is None:  # the same path with the corruption left out
      corrupted = imagenet_c.generate_on_the_fly(clean)
    else:
      corrupted = imagenet_c.corrupt_on_the_fly(clean, imagenet_c.Config(name, args.severity))
    next(iter(corrupted))  # trace the corruption graph outside the timing
    stored = tf.data.Dataset.from_tensor_slices(
        {k: np.stack([ex[k] for ex in corrupted.as_numpy_iterator()])
         for k in ("image", "file_name", "label")})
    _, pre_seconds = timed(lambda: evaluate.predict_source(stored, model, spec, args.batch_size,
                                                           step=step))
    _, fly_seconds = timed(lambda: evaluate.predict_source(corrupted, model, spec,
                                                           args.batch_size, step=step))
    if name is not None:  # the overall row covers the corruptions only
      totals[0] += pre_seconds
      totals[1] += fly_seconds
    print(f"{name or '(generation only)':20s} {args.images / pre_seconds:10.1f} img/s {args.images / fly_seconds:7.1f} "
          f"img/s {pre_seconds / fly_seconds:6.2f}")
  n = args.images * len(names)
  print(f"{'overall':20s} {n / totals[0]:10.1f} img/s {n / totals[1]:7.1f} img/s "
        f"{totals[0] / totals[1]:6.2f}")


if __name__ == "__main__":
  main()
