"""Speed and fidelity of the corruption engine on the paths users run, beside its peers.

Usage (the defaults: all 29, ImageNet-C's 19 and ImageNet-C-bar's 10, at severity 3):
  python benchmarks/corruption_speed.py [--names motion_blur,snow] [--severities 3]
      [--images 8] [--stream_images 256] [--repeats 5] [--peers imagecorruptions,corrupt_tta,tfds]
      [--c_bar_reference DIR]
  python benchmarks/corruption_speed.py --memory 256   # peak RSS per path, subprocesses

Engine paths, every call with a NEW tensor seed (as users run them; a Python-int
seed 0 lets TF fold the draws into constants, a case no user runs):
  * batch: `corruptions.apply` on a batch of --images 224x224 images;
  * builder: `release.imagenet_c.corrupt_crops`, the builders' corruption stage:
    release crops on `generate_images`' thread pool, each image with its own
    seed (the builders' PIL crop and JPEG around it are not timed, as no peer
    does them);
  * on the fly: a tf.data map of `corruptions.apply` with a per-image tensor
    seed (AUTOTUNE parallel calls), as `release.imagenet_c.corrupt_on_the_fly`
    runs it;
  * eager: `corruptions.apply(image, name, severity, seed)` on ONE image,
    called eagerly with a new Python-int seed each time (a notebook user's
    call); each row ends with its speed over the fastest faithful peer's
    (">= 1.00x" is the goal).
The two streaming paths run --stream_images images per repeat: they stream a
whole split (50,000 images) in one go, so a few images per call would time
mostly their start and end. One-image calls, the eager path's and each
peer's alike, are timed --eager_calls (20) in a row per repeat, or as many
as fit in 0.5 s (at least one): a single call of a few hundred microseconds,
timed right after the streaming paths, measures mostly the caches those
left cold (benchmarks/README.md: one call per repeat gave the eager path
0.25x on pixelate and 0.65x on jpeg_compression where 20 in a row gave 0.55x
and 1.10x, in the same conditions).
Peers, one image per call, on the same images: `imagecorruptions` 1.1.2 (the
reference, numpy-2 crashes patched here), `corrupt-tta` (pip install
'tfds_bench[benchmark]') and TFDS's `image_classification/corruptions.py`;
a peer or row that cannot run here is skipped and the reason printed.
ImageNet-C-bar's reference is its release code, facebookresearch/augmentation-
corruption ``imagenet_c_bar/corrupt.py`` (needs scipy, scikit-image, Pillow):
pass the path of that folder in a checkout as --c_bar_reference (peer
``c_bar_release``; the release's classes at the csv's level, im_size 224).

Every contender is timed in turn inside each repeat (interleaved, so a change
in machine load hits all alike); the table gives medians of --repeats (>= 5)
in images/s. Seconds per image include each call's fixed costs; compilation
and warm-up are excluded (one untimed call first).

Fidelity, beside each speed: for deterministic corruptions the PSNR (dB) of
the output against the reference's on the same image (inf = byte-identical);
for random ones the ratio of residual sigmas, std(corrupted - clean) over the
reference's (1.00 = same noise spread; the tests check our draws exactly by
feeding the reference's). A peer is "faithful" on a row at >= 35 dB, or a
sigma ratio within 10%; unfaithful entries are marked *.

Overall rows, once for the ImageNet-C rows and once for the C-bar rows: total
images / total time over the listed rows (never a single row's figure), the
projected hours for the whole set (50,000 images x 19 (10) corruptions x 5
severities) at those per-row rates on this machine, and the ratio to the
reference (imagecorruptions; the C-bar release code).
"""

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from tfds_bench import corruptions
from tfds_bench.release import imagenet_c

IMAGENET_C_IMAGES = 50_000 * len(corruptions.NAMES) * len(corruptions.SEVERITIES)
C_BAR_IMAGES = 50_000 * len(corruptions.C_BAR_NAMES) * len(corruptions.SEVERITIES)
RANDOM = {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur",
          "motion_blur", "snow", "frost", "fog", "spatter", "elastic_transform",
          *corruptions.C_BAR_NAMES}
# Where imagecorruptions 1.1.2 is not the release's formula and the engine
# follows the release (its tests check those steps instead).
NOT_THE_RELEASE = {
    "elastic_transform": "imagecorruptions dropped the release's random affine warp and "
                         "rescaled the displacement field, so its residual is smaller and "
                         "its time cheaper than the release's (fidelity against it is not "
                         "the release's)",
}
FAITHFUL_PSNR = 35.0
FAITHFUL_SIGMA = 0.10
PATHS = ("batch", "builder", "on the fly", "eager")


def _imagecorruptions():
  """imagecorruptions' name -> fn(image, severity), patched for numpy 2 / skimage >= 0.19."""
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


def _corrupt_tta():
  from corrupt_tta import corrupt  # pylint: disable=g-import-not-at-top
  return {name: (lambda image, severity, n=name: corrupt(image, severity=severity,
                                                         corruption_name=n))
          for name in corruptions.NAMES}


def _tfds():
  from tensorflow_datasets.image_classification import corruptions as tc  # pylint: disable=g-import-not-at-top
  return {name: getattr(tc, name) for name in corruptions.NAMES if hasattr(tc, name)}


def _c_bar_release(path):
  """The C-bar release's name -> fn(image, severity), imported from its folder."""
  if not path:
    raise ImportError("no --c_bar_reference folder given")
  sys.path.insert(0, path)
  import transform_finder  # pylint: disable=g-import-not-at-top
  from tfds_bench.corruptions import c_bar  # pylint: disable=g-import-not-at-top
  return {name: (lambda image, severity, n=name: transform_finder.build_transform(
      n, c_bar.level(n, severity), "imagenet")(image)) for name in corruptions.C_BAR_NAMES}


PEERS = {"imagecorruptions": _imagecorruptions, "corrupt_tta": _corrupt_tta, "tfds": _tfds,
         "c_bar_release": _c_bar_release}
REFERENCES = ("imagecorruptions", "c_bar_release")


def _photos(count):
  """skimage sample photos, Resize(256) + CenterCrop(224) like the release."""
  import skimage.data  # pylint: disable=g-import-not-at-top
  out = []
  for f in (skimage.data.chelsea, skimage.data.coffee, skimage.data.astronaut,
            skimage.data.rocket, skimage.data.immunohistochemistry):
    out.append(imagenet_c.release_preprocess(_png(f()), f.__name__))
  return np.stack([out[i % len(out)] for i in range(count)])


def _png(array):
  import io  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="PNG")
  return buffer.getvalue()


class _Seeds:
  """A new seed for every call of every contender."""

  def __init__(self):
    self.next = 1

  def take(self, n=1):
    first, self.next = self.next, self.next + n
    return first


def _engine(name, severity, images, stream_images, seeds, eager_calls):
  """Path -> fn() that corrupts its images once with new seeds; returns (outputs, count)."""
  batch_fn = tf.function(lambda x, s: corruptions.apply(x, name, severity, s))
  batch = tf.constant(images)

  def run_batch():
    return batch_fn(batch, tf.constant(seeds.take(), tf.int64)).numpy(), len(images)

  # The builders' stage: `imagenet_c.corrupt_crops`, the corruption of
  # `generate_images` on its thread pool, each image with its own seed.
  def run_builder():
    first = seeds.take(stream_images)
    crops = ((images[i % len(images)], first + i) for i in range(stream_images))
    corrupted = imagenet_c.corrupt_crops(crops, imagenet_c.Config(name, severity))
    return np.stack(list(corrupted)), stream_images

  # A fresh pipeline per call, built inside a tf.function from a seed tensor
  # (no retracing): one untimed pipeline running ahead between calls would
  # hand over images computed while other contenders were being timed.
  n = stream_images

  @tf.function
  def on_the_fly(first_seed):
    dataset = tf.data.Dataset.range(n).map(
        lambda i: corruptions.apply(tf.gather(batch, i % len(images)), name, severity,
                                    first_seed + i),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(n).get_single_element()

  def run_on_the_fly():
    return on_the_fly(tf.constant(seeds.take(n), tf.int64)).numpy(), n

  # One image, eagerly, a new Python-int seed per call, --eager_calls calls.
  def run_eager():
    outputs = _one_image_calls(
        lambda: corruptions.apply(images[0], name, severity, seeds.take()).numpy(), eager_calls)
    return outputs[0][np.newaxis], len(outputs)

  return {"batch": run_batch, "builder": run_builder, "on the fly": run_on_the_fly,
          "eager": run_eager}


# A run of one-image calls stops early once it has taken this long: a peer
# at seconds per image (the C-bar release code) is timed well by one call.
ONE_IMAGE_SECONDS = 0.5


def _one_image_calls(call, count):
  """The outputs of up to ``count`` calls in a row, fewer past ONE_IMAGE_SECONDS."""
  outputs, start = [], time.perf_counter()
  while len(outputs) < count and (not outputs
                                  or time.perf_counter() - start < ONE_IMAGE_SECONDS):
    outputs.append(call())
  return outputs


def _psnr(a, b):
  mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
  return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _sigma(corrupted, clean):
  return float(np.std(corrupted.astype(np.float64) - clean.astype(np.float64)))


def _fidelity(name, out, ref, clean):
  """(text, faithful) of an output against the reference's, on the same images."""
  if name in RANDOM:
    ratio = _sigma(out, clean) / max(_sigma(ref, clean), 1e-12)
    return f"s{ratio:.2f}", abs(ratio - 1) <= FAITHFUL_SIGMA
  psnr = _psnr(out, ref)
  return f"{psnr:.0f}dB" if psnr < 1e3 else "exact", psnr >= FAITHFUL_PSNR


def _run_peer(fn, image, severity):
  return np.uint8(np.asarray(fn(image, severity)))


def _load():
  return "load average %.2f %.2f %.2f" % os.getloadavg()


def _time(fn):
  start = time.perf_counter()
  out = fn()
  return out, time.perf_counter() - start


def benchmark(args):
  names = args.names.split(",") if args.names else list(corruptions.ALL_NAMES)
  severities = [int(s) for s in args.severities.split(",")]
  if args.repeats < 5:
    raise SystemExit("--repeats must be >= 5 (medians of at least 5)")
  peers, skipped = {}, []
  for peer in args.peers.split(",") if args.peers else []:
    try:
      peers[peer] = (PEERS[peer](args.c_bar_reference) if peer == "c_bar_release"
                     else PEERS[peer]())
    except ImportError as e:
      skipped.append(f"{peer}: not installed ({e})")
  images = _photos(args.images)
  print(f"{args.images} images 224x224 in a batch, {args.stream_images} streamed (builder, on "
        f"the fly), peers one image per "
        f"repeat, medians of {args.repeats}; {_load()} at start", flush=True)
  contenders = list(PATHS) + list(peers)
  header = f"{'corruption':<18}{'sev':>4}" + "".join(f"{c:>17}" for c in contenders)
  print(header + "   (images/s; fidelity: PSNR vs reference, or sN.NN residual-sigma ratio; "
                 "eager / fastest faithful peer)")
  seeds = _Seeds()
  seconds = {c: [] for c in contenders}  # per row: seconds per image, None if not run
  row_names = []
  for name in names:
    for severity in severities:
      engine = _engine(name, severity, images, args.stream_images, seeds, args.eager_calls)
      runnable = {}
      for peer, table in peers.items():
        if name not in table:
          if name in corruptions.NAMES and peer != "c_bar_release":
            skipped.append(f"{peer} {name}: no such corruption")
          continue
        try:
          _run_peer(table[name], images[0], severity)  # warm-up, and can it run here?
          runnable[peer] = table[name]
        except Exception as e:  # pylint: disable=broad-except
          skipped.append(f"{peer} {name}: {type(e).__name__}: {str(e)[:80]}")
      for fn in engine.values():
        fn()  # compile + warm up
      times = {c: [] for c in contenders}
      outputs = {}
      for r in range(args.repeats):
        for path, fn in engine.items():
          (out, count), t = _time(fn)
          times[path].append(t / count)
          outputs.setdefault(path, out[:1])
        for peer, fn in runnable.items():
          image = images[r % len(images)]
          outs, t = _time(lambda fn=fn, image=image: _one_image_calls(
              lambda: _run_peer(fn, image, severity), args.eager_calls))
          times[peer].append(t / len(outs))
          if r == 0:
            outputs[peer] = outs[0][np.newaxis]
      # Fidelity on image 0: against the reference if it ran, else unreported.
      ref = next((outputs[r] for r in REFERENCES if r in outputs), None)
      row = f"{name:<18}{severity:>4}"
      fastest_faithful_peer = None
      for c in contenders:
        if not times[c]:
          seconds[c].append(None)
          row += f"{'-':>17}"
          continue
        t = float(np.median(times[c]))
        seconds[c].append(t)
        fid, faithful = ("", True) if ref is None else _fidelity(
            name, outputs[c], ref, images[:1])
        row += f"{1 / t:>9.1f}{(fid + ('' if faithful else '*')):>8}"
        if c in peers and faithful and (fastest_faithful_peer is None
                                        or t < fastest_faithful_peer):
          fastest_faithful_peer = t
      if fastest_faithful_peer is not None:
        row += f"   eager {fastest_faithful_peer / seconds['eager'][-1]:.2f}x"
      print(row, flush=True)
      row_names.append(name)
  for title, group, total in (("ImageNet-C", corruptions.NAMES, IMAGENET_C_IMAGES),
                              ("ImageNet-C-bar", corruptions.C_BAR_NAMES, C_BAR_IMAGES)):
    rows = [i for i, n in enumerate(row_names) if n in group]
    if rows:
      print(f"-- {title} rows --")
      _summary(contenders, {c: [s[i] for i in rows] for c, s in seconds.items()}, title, total)
  print(_load() + " at end")
  for name in names:
    if name in NOT_THE_RELEASE:
      print(f"{name}: {NOT_THE_RELEASE[name]}")
  for line in skipped:
    print("skipped:", line)


def _summary(contenders, seconds, title="ImageNet-C", total_images=IMAGENET_C_IMAGES):
  """Overall images/s (total images / total time) and the whole set's projections."""
  rows = len(next(iter(seconds.values())))
  complete = {c: s for c, s in seconds.items() if all(t is not None for t in s)}
  print(f"{'overall':<22}" + "".join(
      f"{(rows / sum(complete[c])) if c in complete else float('nan'):>17.1f}"
      for c in contenders) + "   (total images / total time, all rows)")
  print(f"{title + ' hours':<22}" + "".join(
      f"{(total_images * sum(complete[c]) / rows / 3600) if c in complete else float('nan'):>17.0f}"
      for c in contenders) + f"   ({total_images:,} images at these rates)")
  for reference in REFERENCES:
    ref = complete.get(reference)
    if ref:
      print(f"{'vs ' + reference:<22}" + "".join(
          f"{(sum(ref) / sum(complete[c])) if c in complete else float('nan'):>16.1f}x"
          for c in contenders))


# --- peak memory ------------------------------------------------------------------

def _memory_child(contender, count, names, severity):
  images = _photos(count)
  if contender == "batch":
    for name in names:
      corruptions.apply(images, name, severity, tf.constant(1, tf.int64)).numpy()
  elif contender == "builder":
    for name in names:
      list(imagenet_c.corrupt_crops(((image, 1 + i) for i, image in enumerate(images)),
                                    imagenet_c.Config(name, severity)))
  else:
    table = PEERS[contender]()
    for name in names:
      if name in table:
        for image in images:
          _run_peer(table[name], image, severity)
  # ru_maxrss is in KiB on Linux.
  print(f"PEAK {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


def memory(args):
  names = args.names or ",".join(corruptions.NAMES)
  severity = args.severities.split(",")[0]
  print(f"peak RSS, {args.memory} images 224x224, severity {severity}, one process each:")
  # The C-bar release peer needs its folder; its memory is not measured here.
  for contender in ("batch", "builder", *(p for p in (args.peers.split(",") if args.peers else [])
                                          if p != "c_bar_release")):
    proc = subprocess.run(
        [sys.executable, __file__, "--memory_child", contender, "--memory", str(args.memory),
         "--names", names, "--severities", severity],
        capture_output=True, text=True, check=False)
    peak = [l for l in proc.stdout.splitlines() if l.startswith("PEAK")]
    print(f"  {contender:<18}" + (f"{peak[0].split()[1]} MB" if peak
                                   else f"failed: {proc.stderr[-200:]}"), flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--names", default="", help="comma-separated subset of corruptions")
  parser.add_argument("--severities", default="3", help="comma-separated, e.g. 1,2,3,4,5")
  parser.add_argument("--images", type=int, default=8, help="batch path images")
  parser.add_argument("--stream_images", type=int, default=256,
                      help="builder and on-the-fly images per repeat")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--eager_calls", type=int, default=20,
                      help="one-image calls per repeat, of the eager path and of each peer")
  parser.add_argument("--peers", default="imagecorruptions,corrupt_tta,tfds,c_bar_release")
  parser.add_argument("--c_bar_reference", default="",
                      help="folder imagenet_c_bar/ of a facebookresearch/augmentation-corruption "
                           "checkout (ImageNet-C-bar's reference, peer c_bar_release)")
  parser.add_argument("--memory", type=int, default=0,
                      help="instead: peak RSS of each path and peer on this many images")
  parser.add_argument("--memory_child", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.memory_child:
    names = args.names.split(",") if args.names else list(corruptions.NAMES)
    _memory_child(args.memory_child, args.memory, names, int(args.severities.split(",")[0]))
  elif args.memory:
    memory(args)
  else:
    benchmark(args)


if __name__ == "__main__":
  main()
