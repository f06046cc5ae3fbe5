"""On-the-fly ImageNet-C through a tf.data service: images/s with 0, 1, 2 workers.

For each corruption (severity 3), N val-like JPEGs (500x375, in memory, as
benchmarks/imagenet_c_on_the_fly.py) are corrupted on the fly and evaluated
by EfficientNet-Lite0 through `evaluate.predict_source`:
  * 0 workers: the local tf.data pipeline;
  * 1, 2 workers: a dispatcher and that many workers started in this process
    (`tfds_bench.data_service.start_local`, what `--data_service=local:N`
    does; the crop's PIL step runs only in the process that built the graph).
Beside them: the model-only rate (the forward pass on ready 224x224 batches,
the baseline measured in the same run) and the generation CPU time per image
(the corruption pipeline alone, process CPU seconds per image), from which
the worker cores one accelerator needs follow: cores = accelerator images/s x
CPU s per image (--accelerator_rate, an assumed figure, not measured here).

  python benchmarks/data_service_throughput.py [--images=32] [--names=snow,...]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imagenet_c_on_the_fly import val_like_dataset  # pylint: disable=g-import-not-at-top,wrong-import-position

DEFAULT_NAMES = "gaussian_noise,snow,elastic_transform,brightness"


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--images", type=int, default=32)
  parser.add_argument("--severity", type=int, default=3)
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--names", default=DEFAULT_NAMES)
  parser.add_argument("--workers", default="0,1,2")
  parser.add_argument("--accelerator_rate", type=float, default=3000.0,
                      help="assumed images/s of the model on one accelerator")
  args = parser.parse_args()

  import tensorflow as tf
  from tfds_bench import data_service, evaluate, input_pipeline, models
  from tfds_bench.release import imagenet_c

  spec = models.get("efficientnet")
  model = spec.build(None)
  step = evaluate.make_predict_step(model, spec)
  clean = input_pipeline.with_example_ids(val_like_dataset(args.images).cache())
  evaluate.predict_source(clean.take(2), model, spec, args.batch_size, step=step)  # trace

  batch = {input_pipeline.IMAGE_KEY: tf.zeros([args.batch_size, 224, 224, 3]),
           input_pipeline.MASK_KEY: tf.ones([args.batch_size]),
           input_pipeline.EXAMPLE_ID_KEY: tf.range(args.batch_size, dtype=tf.int64)}
  step(batch)
  batches = -(-args.images // args.batch_size)
  start = time.perf_counter()
  for _ in range(batches):
    step(batch)["top5"].numpy()
  model_only = batches * args.batch_size / (time.perf_counter() - start)

  worker_counts = [int(w) for w in args.workers.split(",")]
  services = {n: data_service.start_local(n) for n in worker_counts if n}
  print(f"{spec.name}, {args.images} images of 500x375 per corruption, severity "
        f"{args.severity}, batch {args.batch_size}, {os.cpu_count()} CPUs, TF {tf.__version__}")
  print(f"model only: {model_only:.1f} img/s")
  header = " ".join(f"{f'{n} workers':>10s}" for n in worker_counts)
  print(f"{'corruption':18s} {header} {'CPU ms/img':>10s} {'cores/accel':>11s}")
  for name in args.names.split(","):
    # Warm up: a corruption's XLA functions compile on first use.
    for _ in imagenet_c.corrupt_on_the_fly(clean.take(1), imagenet_c.Config(name, args.severity)):
      pass
    rates = []
    for count in worker_counts:
      address = services[count][0] if count else None
      examples = input_pipeline.service_slice(clean) if address else clean
      corrupted = imagenet_c.corrupt_on_the_fly(examples, imagenet_c.Config(name, args.severity))
      start = time.perf_counter()
      p = evaluate.predict_source(corrupted, model, spec, args.batch_size, step=step,
                                  data_service=address)
      rates.append(len(p) / (time.perf_counter() - start))
      assert len(p) == args.images
    generation = imagenet_c.corrupt_on_the_fly(clean, imagenet_c.Config(name, args.severity))
    cpu_start = time.process_time()
    for _ in generation.map(lambda e: tf.io.decode_jpeg(e["image"])):
      pass
    cpu_ms = (time.process_time() - cpu_start) * 1000 / args.images
    cells = " ".join(f"{r:10.1f}" for r in rates)
    print(f"{name:18s} {cells} {cpu_ms:10.1f} {args.accelerator_rate * cpu_ms / 1000:11.1f}")
  print(f"(img/s; cores/accel: worker cores to feed one accelerator at an assumed "
        f"{args.accelerator_rate:.0f} img/s)")


if __name__ == "__main__":
  main()
