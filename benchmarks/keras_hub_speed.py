"""A keras_hub classifier through the suite's pipeline vs keras_hub's own ``predict``.

Generates N JPEGs (500x375, quality 90) in an image folder and decodes them
once with PIL (bit-identical to the suite's INTEGER_ACCURATE JPEG decode),
then measures in the same run:
  * keras_hub: ``ImageClassifier.predict`` on the decoded images held in
    memory (its preprocessor: the image converter's crop, resize, scale and
    offset; no decoding counted);
  * suite: ``tfds_bench.evaluate.predict_source`` over the folder (read,
    decode, the same converter as TF ops, batch, prefetch, the predict step,
    the reduction to top-5 / confidences), the decoding counted.
Prints their ratio (goal >= 0.95), the ratio against decoding then
``predict`` (what a user's script does; serial, from the two rates: on a
CPU the decode shares the cores with the model), and whether the figures are the same:
top-5 of every image equal, confidences to float tolerance. Each path runs
--repeats times after a warm-up; medians are reported.

The model is a keras_hub preset folder (--preset=DIR), else a keras_hub
ResNet-50 ImageClassifier (the architecture of ``resnet_50_imagenet``) from
random weights, with a 224 px bilinear torch-normalised converter.

  python benchmarks/keras_hub_speed.py --images=256 --batch_size=32
"""

import argparse
import os
import tempfile
import time

import numpy as np

# The same generated JPEG folder as pipeline_throughput.py (this folder is on
# sys.path when a script here is run).
from pipeline_throughput import make_folder


def write_resnet50_preset(path: str) -> str:
  import keras
  import keras_hub
  keras.utils.set_random_seed(0)
  backbone = keras_hub.models.ResNetBackbone(
      input_conv_filters=[64], input_conv_kernel_sizes=[7],
      stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[3, 4, 6, 3],
      stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
      image_shape=(None, None, 3))
  mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
  converter = keras_hub.layers.ResNetImageConverter(
      image_size=(224, 224), scale=[1 / 255 / s for s in std],
      offset=[-m / s for m, s in zip(mean, std)], interpolation="bilinear")
  classifier = keras_hub.models.ResNetImageClassifier(
      backbone=backbone, num_classes=1000,
      preprocessor=keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter))
  classifier.save_to_preset(path)
  return path


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--images", type=int, default=256)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--preset", default=None, help="a keras_hub preset folder")
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()

  import keras_hub
  import tensorflow as tf
  from PIL import Image
  from tfds_bench import evaluate, input_pipeline, models

  with tempfile.TemporaryDirectory() as root:
    preset = args.preset or write_resnet50_preset(os.path.join(root, "resnet50_random"))
    images_dir = os.path.join(root, "images")
    make_folder(images_dir, args.images)
    spec = models.get(preset)
    model = spec.build(None)
    classifier = keras_hub.models.ImageClassifier.from_preset(preset)
    dataset = input_pipeline.load_image_folder(images_dir)

    step = evaluate.make_predict_step(model, spec)
    suite_runs, predictions = [], None
    for repeat in range(args.repeats + 1):  # the first traces and warms up
      start = time.perf_counter()
      predictions = evaluate.predict_source(dataset, model, spec, args.batch_size, step=step)
      if repeat:
        suite_runs.append(args.images / (time.perf_counter() - start))

    # The same images, decoded once, in the order the suite evaluated them.
    start = time.perf_counter()
    decoded = np.stack([np.asarray(Image.open(os.path.join(images_dir, name)).convert("RGB"))
                        for name in predictions.file_name])
    decode_rate = args.images / (time.perf_counter() - start)
    hub_runs, logits = [], None
    for repeat in range(args.repeats + 1):
      start = time.perf_counter()
      logits = classifier.predict(decoded, batch_size=args.batch_size, verbose=0)
      if repeat:
        hub_runs.append(args.images / (time.perf_counter() - start))

  logits = np.asarray(logits, np.float64)
  top5 = np.argsort(-logits, axis=1, kind="stable")[:, :5]
  probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
  confidence = (probabilities / probabilities.sum(axis=1, keepdims=True)).max(axis=1)
  same_top5 = int((top5 == predictions.top5).all(axis=1).sum())
  confidence_gap = float(np.abs(confidence - predictions.confidence).max())
  suite, hub = float(np.median(suite_runs)), float(np.median(hub_runs))
  devices = ", ".join(d.device_type for d in tf.config.list_logical_devices())
  print(f"model {spec.name} ({preset if args.preset else 'keras_hub ResNet-50, random weights'}), "
        f"{args.images} JPEGs of 500x375, batch {args.batch_size}, {os.cpu_count()} CPUs, "
        f"devices {devices}, TF {tf.__version__}, keras_hub {keras_hub.__version__}")
  print(f"keras_hub predict (decoded images) : {hub:8.1f} img/s (median; runs "
        + ", ".join(f"{r:.1f}" for r in hub_runs) + f"); PIL decode alone {decode_rate:.1f} img/s")
  print(f"suite pipeline (from JPEG files)   : {suite:8.1f} img/s (median; runs "
        + ", ".join(f"{r:.1f}" for r in suite_runs) + ")")
  print(f"ratio suite / keras_hub predict = {suite / hub:.3f} (goal >= 0.95)")
  # keras_hub's predict was not charged for decoding; a user's script decodes too.
  with_decode = 1.0 / (1.0 / hub + 1.0 / decode_rate)
  print(f"ratio suite / (PIL decode then keras_hub predict, {with_decode:.1f} img/s) = "
        f"{suite / with_decode:.3f}")
  print(f"same figures: top-5 equal on {same_top5} / {args.images} images, "
        f"max |confidence difference| {confidence_gap:.2e}")


if __name__ == "__main__":
  main()
