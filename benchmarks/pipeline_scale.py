"""Memory and throughput of the evaluation pipeline as the number of images grows.

Streams a GENERATED dataset of N encoded 500x375 JPEGs (one smooth random
"photo", ~40 KB at quality 90, the size of a typical ImageNet val image)
through ``input_pipeline.batches`` + ``evaluate.predict_source`` with a CHEAP
model (global average pool + Dense(1000), EfficientNet-Lite preprocessing at
224), so the pipeline is what is measured, not the network. Each N runs in
its own child process so that the peak RSS (``ru_maxrss``) is that N's alone;
a sampler thread also records the RSS over time (/proc/self/statm).

Sources (``--source``):
  memory: ``tf.data.Dataset.from_tensors(jpeg).repeat(N)`` zipped with
          generated file names (no disk I/O; isolates decode + preprocess).
  folder: N hard links to one JPEG file in an ImageNet-layout folder, read
          through ``input_pipeline.load_image_folder`` (TFDS ImageFolder).

  python benchmarks/pipeline_scale.py --images 5000 50000 --source memory
  python benchmarks/pipeline_scale.py --images 5000 --source folder

Prints one JSON line per N and a summary: images/s, peak RSS, RSS growth
between the sizes, and the bytes per image kept in ``Predictions`` (the one
O(N) structure).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np


def make_jpeg() -> bytes:
  import io
  from PIL import Image
  rng = np.random.default_rng(0)
  base = rng.integers(0, 256, (47, 63, 3), dtype=np.uint8)
  photo = Image.fromarray(base).resize((500, 375), Image.BICUBIC)
  buffer = io.BytesIO()
  photo.save(buffer, format="JPEG", quality=90)
  return buffer.getvalue()


def current_rss_bytes() -> int:
  with open("/proc/self/statm") as f:
    return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler(threading.Thread):
  def __init__(self, period=0.2):
    super().__init__(daemon=True)
    self.period, self.samples, self._stop_event = period, [], threading.Event()

  def run(self):
    start = time.perf_counter()
    while not self._stop_event.is_set():
      self.samples.append((time.perf_counter() - start, current_rss_bytes()))
      self._stop_event.wait(self.period)

  def stop(self):
    self._stop_event.set()
    self.join()


def cheap_model(spec):
  import keras
  inputs = keras.Input((spec.preprocessing.input_size,) * 2 + (3,))
  x = keras.layers.GlobalAveragePooling2D()(inputs)
  return keras.Model(inputs, keras.layers.Dense(1000)(x))


def memory_dataset(count: int):
  import tensorflow as tf
  images = tf.data.Dataset.from_tensors(make_jpeg()).repeat(count)
  names = tf.data.Dataset.range(count).map(
      lambda i: tf.strings.join(["n01440764/img_", tf.strings.as_string(i, width=8, fill="0"),
                                 ".JPEG"]))
  return tf.data.Dataset.zip(images, names).map(
      lambda image, name: {"image": image, "file_name": name,
                           "label": tf.constant(0, tf.int64)})


def folder_dataset(root: str, count: int):
  from tfds_bench import input_pipeline
  source = os.path.join(root, "source.JPEG")
  with open(source, "wb") as f:
    f.write(make_jpeg())
  for i in range(count):
    folder = os.path.join(root, "images", str(i % 1000))
    os.makedirs(folder, exist_ok=True)
    os.link(source, os.path.join(folder, f"img_{i:08d}.JPEG"))
  return input_pipeline.load_image_folder(os.path.join(root, "images"))


def child(args) -> None:
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  import tensorflow as tf
  from tfds_bench import evaluate, models
  spec = models.get(args.model_spec)
  model = cheap_model(spec)
  with tempfile.TemporaryDirectory() as root:
    if args.source == "memory":
      dataset = memory_dataset(args.child)
    else:
      dataset = folder_dataset(root, args.child)
    evaluate.predict_source(memory_dataset(args.batch_size), model, spec, args.batch_size)
    baseline = current_rss_bytes()
    sampler = RssSampler()
    sampler.start()
    start = time.perf_counter()
    predictions = evaluate.predict_source(dataset, model, spec, args.batch_size)
    seconds = time.perf_counter() - start
    sampler.stop()
  assert len(predictions) == args.child
  kept = sum(a.nbytes for a in [predictions.file_name, predictions.label, predictions.top5,
                                predictions.confidence, *predictions.space_top5.values(),
                                *predictions.space_confidence.values()])
  rss = [r for _, r in sampler.samples]
  print(json.dumps({
      "images": args.child, "source": args.source, "batch_size": args.batch_size,
      "images_per_s": round(args.child / seconds, 1), "seconds": round(seconds, 1),
      "rss_after_warmup_mib": round(baseline / 2**20, 1),
      "rss_peak_sampled_mib": round(max(rss) / 2**20, 1),
      "rss_at_10pct_mib": round(rss[len(rss) // 10] / 2**20, 1),
      "rss_at_end_mib": round(rss[-1] / 2**20, 1),
      "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
      "predictions_bytes": kept, "predictions_bytes_per_image": round(kept / args.child, 1),
      "cpus": os.cpu_count(), "tensorflow": tf.__version__,
  }), flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--images", type=int, nargs="+", default=[5000, 50000])
  parser.add_argument("--source", choices=["memory", "folder"], default="memory")
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--model_spec", default="efficientnet",
                      help="registered model whose preprocessing is used (its network is not)")
  parser.add_argument("--limit_gib", type=float, default=3.0)
  parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    child(args)
    return
  rows = []
  for count in args.images:
    command = [sys.executable, __file__, f"--child={count}", f"--source={args.source}",
               f"--batch_size={args.batch_size}", f"--model_spec={args.model_spec}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows.append(json.loads(out.strip().splitlines()[-1]))
    print(json.dumps(rows[-1]), flush=True)
  peak = max(r["ru_maxrss_mib"] for r in rows)
  print(f"peak RSS {peak:.0f} MiB (limit {args.limit_gib} GiB): "
        f"{'OK' if peak < args.limit_gib * 1024 else 'OVER'}")
  if len(rows) > 1:
    small, large = rows[0], rows[-1]
    growth = large["ru_maxrss_mib"] - small["ru_maxrss_mib"]
    per_image = growth * 2**20 / (large["images"] - small["images"])
    print(f"peak RSS growth {small['images']} -> {large['images']} images: {growth:+.1f} MiB "
          f"({per_image:.0f} B/image; Predictions keep "
          f"{large['predictions_bytes_per_image']:.0f} B/image)")


if __name__ == "__main__":
  main()
