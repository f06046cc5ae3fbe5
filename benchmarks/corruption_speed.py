"""Speed and fidelity of tfds_bench's TF corruptions vs the numpy `imagecorruptions` reference.

Usage:
  PYTHONPATH=. python benchmarks/corruption_speed.py [--severities 3] [--batch 32]
      [--ref_images 3] [--repeats 5] [--names gaussian_noise,glass_blur]

Ours: one tf.function per (corruption, severity), batches of --batch 224x224 images,
timed after a warm-up call (median of --repeats). Reference: `imagecorruptions`
1.1.2 per image (as make_imagenet_c.py runs it), on --ref_images of the same
images, with its numpy-2 crashes (`multichannel=True`, `np.float`) patched here.

Fidelity, on the reference's images, per row:
  * PSNR of our output against the reference's (inf = byte-identical). For the
    deterministic corruptions this is the match itself; for the random ones the
    two sides draw different noise, so it is low by design (the tests feed both
    sides the same draws and check those exactly);
  * sigma ratio: the standard deviation of (corrupted - clean), ours over the
    reference's -- the random corruptions' "same statistics" check (1.00 = same).
Rows marked * are corruptions where imagecorruptions departs from the release
(make_imagenet_c.py), which the engine follows; the footnote says how. The
tests check those rows against the release's steps instead.
"""

import argparse
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from tfds_bench import corruptions

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


# Where imagecorruptions 1.1.2 is not the release's formula (see the footnote).
_NOT_THE_RELEASE = {
    "elastic_transform": "imagecorruptions dropped the release's random affine warp and "
                         "rescaled the displacement field, so its residual is smaller and "
                         "its time cheaper than the release's",
}


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


def _run_reference(fn, images, severity):
  """(outputs, seconds per image) of the reference, one image at a time."""
  start = time.perf_counter()
  # The release saved np.uint8(...): float outputs are truncated, as there.
  outputs = np.stack([np.uint8(fn(image, severity)) for image in images])
  return outputs, (time.perf_counter() - start) / len(images)


def _psnr(a, b):
  mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
  return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _residual_sigma(corrupted, clean):
  return float(np.std(corrupted.astype(np.float64) - clean.astype(np.float64)))


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

  reference = _reference()
  images = _photos(args.batch)
  ref_images = images[:args.ref_images]
  print(f"{'corruption':<20}{'sev':>4}{'ours img/s':>12}{'ref img/s':>11}{'ratio':>9}"
        f"{'PSNR dB':>9}{'sigma ratio':>13}")
  total_ours = total_ref = 0.0
  for name in names:
    for severity in severities:
      ours = lambda x, s, seed, n=name: corruptions.apply(x, n, s, seed)
      t_ours = _time_ours(ours, images, severity, args.repeats)
      theirs, t_ref = _run_reference(reference[name], ref_images, severity)
      mine = ours(tf.constant(ref_images), severity, 0).numpy()
      sigma_ratio = _residual_sigma(mine, ref_images) / max(_residual_sigma(theirs, ref_images),
                                                              1e-12)
      total_ours += t_ours
      total_ref += t_ref
      mark = "*" if name in _NOT_THE_RELEASE else ""
      print(f"{name + mark:<20}{severity:>4}{1 / t_ours:>12.1f}{1 / t_ref:>11.2f}{t_ref / t_ours:>8.1f}x"
            f"{_psnr(mine, theirs):>9.1f}{sigma_ratio:>13.3f}", flush=True)
  print(f"{'overall (total time)':<24}{1 / total_ours:>12.1f}{1 / total_ref:>11.2f}"
        f"{total_ref / total_ours:>8.1f}x   (img/s through all listed corruptions)")
  for name in names:
    if name in _NOT_THE_RELEASE:
      print(f"* {name}: {_NOT_THE_RELEASE[name]}")


if __name__ == "__main__":
  main()
