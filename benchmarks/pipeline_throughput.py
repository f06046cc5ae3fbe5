"""End-to-end images/s of the evaluation pipeline vs the model's forward pass alone.

Generates N ImageNet-sized JPEGs (500x375, quality 90, like typical val images)
in an image folder, then measures in the same run:
  * forward: the predict step (model + reduction to top-5 / confidences) over
    batches already decoded and preprocessed, held in memory;
  * end_to_end: tfds_bench.evaluate.predict_source over the folder (TFDS
    ImageFolder -> decode -> preprocess -> batch -> prefetch -> predict step).
  * pipeline alone: the same tf.data pipeline with no model behind it.
Prints their ratio (target >= 0.95: the pipeline never the bottleneck) and the
ceiling the CPU sets when decoding and the forward pass share the same cores:
if the forward pass costs F CPU-seconds per image and the pipeline P (process
CPU time, measured alone), N cores cannot run both faster than N/(F+P) img/s.
On an accelerator the forward pass leaves the cores to tf.data and the
ceiling is 1. End to end runs --repeats times (the same traced step); the
median is reported, each run printed, since a 2-core machine is noisy.

  python benchmarks/pipeline_throughput.py --images=512 --batch_size=32
"""

import argparse
import os
import tempfile
import time

import numpy as np


def make_folder(root: str, count: int) -> None:
  from PIL import Image
  rng = np.random.default_rng(0)
  # A smooth random image compresses like a photo, unlike white noise.
  base = rng.integers(0, 256, (47, 63, 3), dtype=np.uint8)
  photo = np.asarray(Image.fromarray(base).resize((500, 375), Image.BICUBIC))
  for i in range(count):
    folder = os.path.join(root, str(i % 1000))
    os.makedirs(folder, exist_ok=True)
    shifted = np.roll(photo, shift=i, axis=1)
    Image.fromarray(shifted).save(os.path.join(folder, f"img_{i:06d}.jpg"), quality=90)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--images", type=int, default=512)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--model", default="efficientnet")
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()

  import tensorflow as tf
  from tfds_bench import evaluate, input_pipeline, models

  spec = models.get(args.model)
  model = spec.build(None)
  with tempfile.TemporaryDirectory() as root:
    make_folder(root, args.images)
    dataset = input_pipeline.load_image_folder(root)

    # Forward pass alone on the same batches, preprocessed beforehand.
    # The step takes what predict_source feeds it: the batch without its strings.
    batches = [{k: v for k, v in b.items() if k != "file_name"}
               for b in input_pipeline.batches(input_pipeline.with_example_ids(dataset),
                                               spec.preprocessing, args.batch_size)]
    step = evaluate.make_predict_step(model, spec)
    step(batches[0])  # trace and warm up
    start, cpu_start = time.perf_counter(), time.process_time()
    for batch in batches:
      {k: v.numpy() for k, v in step(batch).items()}
    forward = args.images / (time.perf_counter() - start)
    forward_cpu = (time.process_time() - cpu_start) / args.images

    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in input_pipeline.batches(dataset, spec.preprocessing, args.batch_size):
      pass
    pipeline = args.images / (time.perf_counter() - start)
    pipeline_cpu = (time.process_time() - cpu_start) / args.images

    # The same (already traced) step: tracing is paid once per run, not per image.
    runs = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      predictions = evaluate.predict_source(dataset, model, spec, args.batch_size, step=step)
      runs.append(args.images / (time.perf_counter() - start))
      assert len(predictions) == args.images
    end_to_end = float(np.median(runs))

  print(f"model {spec.name}, {args.images} images of 500x375, batch {args.batch_size}, "
        f"{os.cpu_count()} CPUs, TF {tf.__version__}")
  print(f"forward pass alone : {forward:8.1f} img/s ({1000 * forward_cpu:.1f} CPU-ms/img)")
  print(f"pipeline alone     : {pipeline:8.1f} img/s ({1000 * pipeline_cpu:.1f} CPU-ms/img)")
  print(f"end to end         : {end_to_end:8.1f} img/s (median; runs "
        + ", ".join(f"{r:.1f}" for r in runs) + ")")
  ceiling = min(1.0, os.cpu_count() / (forward_cpu + pipeline_cpu) / forward)
  print(f"ratio end_to_end / forward = {end_to_end / forward:.3f} (target >= 0.95; "
        f"shared-CPU ceiling N/(F+P)/forward = {ceiling:.3f})")


if __name__ == "__main__":
  main()
