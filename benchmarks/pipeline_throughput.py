"""End-to-end images/s of the evaluation pipeline vs the model's forward pass alone.

Generates N ImageNet-sized JPEGs (500x375, quality 90, like typical val images)
in an image folder, then measures in the same run:
  * forward: the predict step (model + reduction to top-5 / confidences) over
    batches already decoded and preprocessed, held in memory;
  * end_to_end: tfds_bench.evaluate.predict_source over the folder (TFDS
    ImageFolder -> decode -> preprocess -> batch -> prefetch -> predict step).
Prints both and their ratio (target >= 0.95: the pipeline never the bottleneck).

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
  args = parser.parse_args()

  import tensorflow as tf
  from tfds_bench import evaluate, input_pipeline, models

  spec = models.get(args.model)
  model = spec.build(None)
  with tempfile.TemporaryDirectory() as root:
    make_folder(root, args.images)
    dataset = input_pipeline.load_image_folder(root)

    # Forward pass alone on the same batches, preprocessed beforehand.
    batches = [b["image"] for b in input_pipeline.batches(dataset, spec.preprocessing,
                                                           args.batch_size)]
    step = evaluate.make_predict_step(model, spec)
    step(batches[0])  # trace and warm up
    start = time.perf_counter()
    for images in batches:
      {k: v.numpy() for k, v in step(images).items()}
    forward = args.images / (time.perf_counter() - start)

    evaluate.predict_source(dataset.take(args.batch_size), model, spec, args.batch_size)
    start = time.perf_counter()
    predictions = evaluate.predict_source(dataset, model, spec, args.batch_size)
    end_to_end = args.images / (time.perf_counter() - start)
    assert len(predictions) == args.images

  print(f"model {spec.name}, {args.images} images of 500x375, batch {args.batch_size}, "
        f"{os.cpu_count()} CPUs, TF {tf.__version__}")
  print(f"forward pass alone : {forward:8.1f} img/s")
  print(f"end to end         : {end_to_end:8.1f} img/s")
  print(f"ratio end_to_end / forward = {end_to_end / forward:.3f} (target >= 0.95)")


if __name__ == "__main__":
  main()
