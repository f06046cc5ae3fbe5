"""Images/s of tfds_bench's TF corruptions vs the numpy `imagecorruptions` reference.

Usage:
  PYTHONPATH=. python benchmarks/corruption_speed.py [--severities 3] [--batch 32]
      [--ref_images 3] [--repeats 3] [--names gaussian_noise,glass_blur]

Ours: one tf.function per (corruption, severity), batches of --batch 224x224 images,
timed after a warm-up call. Reference: `imagecorruptions` 1.1.2 per image (as
make_imagenet_c.py runs it), on --ref_images of the same images, with its numpy-2
crashes (`multichannel=True`, `np.float`) patched here. Corruptions whose module is
not importable yet are skipped, so new modules are picked up from
`tfds_bench.corruptions.NAMES` without editing this file.
"""

import argparse
import importlib
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from tfds_bench import corruptions

_MODULES = ("tfds_bench.corruptions.noise_blur", "tfds_bench.corruptions.weather_digital")


def _our_functions():
  """name -> function from every corruption module that imports."""
  table = {}
  for module_name in _MODULES:
    try:
      table.update(importlib.import_module(module_name).CORRUPTIONS)
    except ImportError as e:
      print(f"skipping {module_name}: {e}")
  return table


def _reference():
  """imagecorruptions' name -> function table, patched for numpy 2 / skimage >= 0.19."""
  import imagecorruptions  # pylint: disable=g-import-not-at-top
  import imagecorruptions.corruptions as ic  # pylint: disable=g-import-not-at-top
  from skimage.filters import gaussian  # pylint: disable=g-import-not-at-top

  def patched(image, sigma, multichannel=None, **kwargs):
    return gaussian(image, sigma=sigma, channel_axis=-1 if multichannel else None, **kwargs)

  ic.gaussian = patched  # Process-local patch of the reference, this script only.
  if not hasattr(np, "float_"):
    ic.np.float_ = np.float64  # plasma_fractal (fog) uses np.float_.
  table = dict(imagecorruptions.corruption_dict)
  # These two call PIL methods on their input: imagecorruptions.corrupt()
  # hands them a PIL image, as the release's loader did.
  for name in ("pixelate", "jpeg_compression"):
    table[name] = lambda image, severity, fn=table[name]: fn(Image.fromarray(image), severity)
  return table


def _photos(count):
  """skimage sample photos, Resize(256) + CenterCrop(224) like the release."""
  import skimage.data  # pylint: disable=g-import-not-at-top
  out = []
  for f in (skimage.data.chelsea, skimage.data.coffee, skimage.data.astronaut,
            skimage.data.rocket, skimage.data.immunohistochemistry):
    image = Image.fromarray(f())
    w, h = image.size
    s = 256 / min(w, h)
    image = image.resize((int(round(w * s)), int(round(h * s))), Image.BILINEAR)
    w, h = image.size
    left, top = (w - 224) // 2, (h - 224) // 2
    out.append(np.asarray(image.crop((left, top, left + 224, top + 224))))
  return np.stack([out[i % len(out)] for i in range(count)])


def _time_ours(fn, images, severity, repeats):
  """Seconds per image of fn in a tf.function over a batch, after warm-up.

  Median over ``repeats`` calls: the machine is shared, so single calls are noisy.
  """
  run = tf.function(lambda x: fn(x, severity, 0))
  batch = tf.constant(images)
  run(batch).numpy()  # Trace + warm-up (and XLA compilation where used).
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    run(batch).numpy()
    times.append(time.perf_counter() - start)
  return float(np.median(times)) / len(images)


def _time_reference(fn, images, severity):
  start = time.perf_counter()
  for image in images:
    np.uint8(fn(image, severity))  # The release saved np.uint8(...).
  return (time.perf_counter() - start) / len(images)


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--severities", default="3", help="comma-separated, e.g. 1,2,3,4,5")
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--ref_images", type=int, default=3)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--names", default="", help="comma-separated subset of corruptions")
  args = parser.parse_args()
  severities = [int(s) for s in args.severities.split(",")]
  names = args.names.split(",") if args.names else list(corruptions.NAMES)

  ours, reference = _our_functions(), _reference()
  images = _photos(args.batch)
  ref_images = images[:args.ref_images]
  print(f"{'corruption':<20}{'sev':>4}{'ours img/s':>12}{'ref img/s':>11}{'ratio':>9}")
  total_ours = total_ref = 0.0
  for name in names:
    if name not in ours:
      print(f"{name:<20} skipped (not implemented yet)")
      continue
    for severity in severities:
      try:
        t_ours = _time_ours(ours[name], images, severity, args.repeats)
      except Exception as e:  # pylint: disable=broad-except
        # Another module may be work in progress: report it, time the rest.
        print(f"{name:<20}{severity:>4}  failed: {type(e).__name__}: {str(e).splitlines()[0]}")
        continue
      t_ref = _time_reference(reference[name], ref_images, severity)
      total_ours += t_ours
      total_ref += t_ref
      print(f"{name:<20}{severity:>4}{1 / t_ours:>12.1f}{1 / t_ref:>11.2f}{t_ref / t_ours:>8.1f}x",
            flush=True)
  if total_ours:
    print(f"{'overall (total time)':<24}{1 / total_ours:>12.1f}{1 / total_ref:>11.2f}"
          f"{total_ref / total_ours:>8.1f}x   (img/s through all listed corruptions)")


if __name__ == "__main__":
  main()
