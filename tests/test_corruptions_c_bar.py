"""Fidelity tests of tfds_bench.corruptions.c_bar against ImageNet-C-bar's release code.

The reference here is facebookresearch/augmentation-corruption
``imagenet_c_bar/corrupt.py`` (commit ba4d5a5), re-derived as plain per-pixel
numpy loops in the shape of the release's ``transform`` methods (no code of
the release is imported). Images: skimage's chelsea, coffee and astronaut,
resized to a small square so that the loops stay fast; the release's
``im_size`` is then that side.

Deterministic parts are compared given the same parameters (the engine's
``_*_from_params``): exact, or within one grey level where transcendental
functions or an FFT of another library round differently (the fraction of
exact values is bounded too). Random parameters are checked in distribution
through the seeded public path.
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfds_bench import corruptions
from tfds_bench.corruptions import c_bar

SIDE = 20


@pytest.fixture(scope="module")
def photos():
  data = pytest.importorskip("skimage.data")
  out = []
  for f in (data.chelsea, data.coffee, data.astronaut):
    image = Image.fromarray(f())
    w, h = image.size
    side = min(w, h)
    image = image.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side,
                        (h - side) // 2 + side)).resize((SIDE, SIDE), Image.BILINEAR)
    out.append(np.asarray(image))
  return np.stack(out)


def _compare(ours, ref, exact_fraction=1.0):
  ours = np.asarray(ours).astype(int)
  ref = np.asarray(ref).astype(int)
  assert ours.shape == ref.shape
  diff = np.abs(ours - ref)
  assert diff.max() <= (0 if exact_fraction == 1.0 else 1), diff.max()
  assert np.mean(diff == 0) >= exact_fraction, np.mean(diff == 0)


def _uint8(x):
  return np.clip(x, 0, 255).astype(np.uint8)


# --- the reference's transforms, per pixel -----------------------------------


def ref_single_frequency(image, freq, phase, intensity):
  n = image.shape[0]
  noise = np.array([[np.sin(x * freq[0] + y * freq[1] + phase) for x in range(n)]
                    for y in range(n)])
  return _uint8(image + intensity * np.stack([noise] * 3, axis=2))


def ref_cocentric(image, offset, freq, amplitude, ring_width, intensity):
  n = image.shape[0]

  def at(x, y):
    angle = np.arctan2(x - offset[0], y - offset[1]) * freq
    r = np.sqrt((x - offset[0]) ** 2 + (y - offset[1]) ** 2)
    return ((r + np.sin(angle) * amplitude) % ring_width) / ring_width - 1 / 2

  noise = np.array([[at(x, y) for x in range(n)] for y in range(n)])
  return _uint8(image + np.stack([intensity * noise] * 3, axis=2))


def ref_plasma(image, time, iterations, sharpness, scale, intensity):
  n = image.shape[0]

  def at(x, y):
    x, y = x / scale, y / scale
    i = np.array([1.0, 1.0, 1.0, 0.0])
    for _ in range(iterations):
      r = np.array([np.cos(y * i[0] - i[3] + time / i[1]),
                    np.sin(x * i[0] - i[3] + time / i[1])]) / i[2]
      r = r + np.array([-r[1], r[0]]) * 0.3
      x, y = x + r[0], y + r[1]
      i = i * np.array([1.93, 1.15, 2.25 - sharpness, time * i[1]])
    return [np.sin(x - time), np.sin((x + y + np.sin(time)) * 0.5), np.sin(y + time)]

  noise = np.array([[at(x, y) for x in range(n)] for y in range(n)])
  return _uint8((1 - intensity / 255) * image + intensity * noise)


def ref_caustic_refraction(image, time, size, lens_scale, lighting):
  from scipy.ndimage import gaussian_filter  # pylint: disable=g-import-not-at-top
  n = image.shape[0]

  def caustic(point):
    p = ((point / size) % 1) * 6.28318530718 - 250
    i = p.copy()
    c = 1.0
    for k in range(5):
      t = time * (1.0 - (3.5 / (k + 1)))
      i = p + np.array([np.cos(t - i[0]) + np.sin(t + i[1]), np.sin(t - i[1]) + np.cos(t + i[0])])
      c += 1.0 / np.sqrt((p[0] / (np.sin(i[0] + t) / 0.005)) ** 2 +
                         (p[1] / (np.cos(i[1] + t) / 0.005)) ** 2)
    c = 1.17 - (c / 5.0) ** 1.4
    return np.array([np.clip(np.abs(c) ** 8.0, 0, 1)] * 3)

  def luma(field, y, x):
    if 0 <= y < n and 0 <= x < n:
      return np.dot(field[y, x], [0.2126, 0.7152, 0.0722])
    return 0.0

  def refract(normal):
    incident = np.array([0., 0., 1.])
    if abs(np.dot(incident, normal)) >= 1 - 1e-3:
      return incident
    out_angle = np.arcsin(np.sin(np.arccos(np.dot(incident, normal))) / 4.0)
    spectator = np.cross(incident, normal)
    spectator /= np.linalg.norm(spectator)
    rotation = np.stack([normal, np.cross(normal, spectator), spectator])
    return np.linalg.inv(rotation) @ np.array([np.cos(out_angle), np.sin(out_angle), 0.])

  def bilinear(img, py, px):
    l, u = int(np.floor(py)), int(np.floor(px))
    get = lambda a, b: img[a, b] if 0 <= a < n and 0 <= b < n else np.zeros(3)
    top = get(l, u) * (1 - px + u) + get(l, u + 1) * (1 - (u + 1) + px)
    bottom = get(l + 1, u) * (1 - px + u) + get(l + 1, u + 1) * (1 - (u + 1) + px)
    return top * (1 - py + l) + bottom * (1 - (l + 1) + py)

  field = np.array([[caustic(np.array([y, x])) for x in range(n)] for y in range(n)])
  field = gaussian_filter(field, sigma=1)
  img = image.astype(np.float32) / 255
  out = np.zeros(image.shape)
  for y in range(n):
    for x in range(n):
      north, south = luma(field, y, x - 1), luma(field, y, x + 1)
      west, east = luma(field, y - 1, x), luma(field, y + 1, x)
      normal = np.array([east - west, south - north, 1.0])
      shift = np.round(refract(normal / np.linalg.norm(normal)) * lens_scale, 3)
      pixel = bilinear(img, y + shift[0], x + shift[1])
      pixel = pixel + (north - south) * lighting + (east - west) * lighting
      out[y, x] = np.clip(pixel, 0, 1)
  return (out * 255).astype(np.uint8)


def ref_checkerboard(image, angle, scale, grid):
  n = image.shape[0]
  out = image.copy()
  for y in range(n):
    for x in range(n):
      nx = (np.cos(angle) * y + np.sin(angle) * x) / scale
      ny = (-np.sin(angle) * y + np.cos(angle) * x) / scale
      if int(nx % 2) == int(ny % 2) and grid[int(nx), int(ny)]:
        out[y, x] = 128
  return out


def _ray_f(y, x, center, lengths, exponent):
  dy, dx = y - center[0], x - center[1]
  dist = np.linalg.norm([dy, dx])
  d = (np.arctan2(dx, dy) + np.pi) / (2 * np.pi) * len(lengths)
  i = int(d)
  f = d - i
  length = lengths[i % len(lengths)] + f * (lengths[(i + 1) % len(lengths)] -
                                            lengths[i % len(lengths)])
  g = (length ** 2 / (dist ** 2 + 1e-4)) ** exponent
  return np.clip((1 - (f - 0.5) ** 2) * g, 0, 1)


def ref_sparkles(image, centers, lengths):
  n = image.shape[0]
  for center, rays in zip(centers, lengths):
    image = np.array([[image[y, x].astype(np.float32) + _ray_f(y, x, center, rays, 1.0) *
                       (np.array([255, 255, 255]) - image[y, x].astype(np.float32))
                       for x in range(n)] for y in range(n)])
  return _uint8(image)


def ref_inverse_sparkles(image, center, lengths, amount):
  n = image.shape[0]
  exponent = (100 - amount) / 50.0
  out = np.array([[255 + _ray_f(y, x, center, lengths, exponent) *
                   (image[y, x].astype(np.float32) - 255) for x in range(n)] for y in range(n)])
  return _uint8(out)


class RefPerlin:
  """utils/perlin_noise.py's generator with given tables (p: 256 entries, g: 256 x 2)."""

  def __init__(self, perm, grads):
    self.p = np.concatenate([perm, perm, perm[:2]])
    self.g = np.concatenate([grads, grads, grads[:2]])

  def noise(self, x, y):
    t = x + 4096
    bx0, rx0 = int(t) % 256, t % 1
    bx1, rx1 = (bx0 + 1) % 256, t % 1 - 1.0
    t = y + 4096
    by0, ry0 = int(t) % 256, t % 1
    by1, ry1 = (by0 + 1) % 256, t % 1 - 1.0
    i, j = self.p[bx0], self.p[bx1]
    curve = lambda s: s ** 2 * (3.0 - 2.0 * s)
    sx, sy = curve(rx0), curve(ry0)
    dot = lambda b, rx, ry: rx * self.g[b, 0] + ry * self.g[b, 1]
    u, v = dot(self.p[i + by0], rx0, ry0), dot(self.p[j + by0], rx1, ry0)
    a = u + sx * (v - u)
    u, v = dot(self.p[i + by1], rx0, ry1), dot(self.p[j + by1], rx1, ry1)
    b = u + sx * (v - u)
    return 1.5 * (a + sy * (b - a))

  def turbulence(self, x, y, octaves):
    t, f = 0.0, 1.0
    while f <= octaves:
      t += np.abs(self.noise(f * x, f * y)) / f
      f *= 2
    return t


def ref_perlin(image, perm, grads, alpha):
  n = image.shape[0]
  gen = RefPerlin(perm, grads)
  m = np.array([[1, 0], [0, 1]]) / (32 * n / 224)
  noise = np.array([[np.clip([0.5 * gen.turbulence(*(np.array([y, x]) @ m), 16.0) + 0.5] * 3, 0, 1)
                     for x in range(n)] for y in range(n)])
  return _uint8((1 - alpha) * image.astype(np.float32) + 255 * alpha * noise)


def ref_spectral(phase_draws, centre_draws, n, brownish):
  from scipy.fftpack import ifft2  # pylint: disable=g-import-not-at-top
  center = n / 2
  dist = np.array([[np.linalg.norm(np.array([x, y]) - center) for x in range(n)]
                   for y in range(n)])
  power = 1 / (dist ** 2 + 1) if brownish else dist
  phases = phase_draws
  if n % 2 == 0:
    phases = np.concatenate((phases, phases[::-1, ::-1]), axis=1)
  else:
    column = np.concatenate((centre_draws[:, None], [[0.0]], centre_draws[::-1, None]), axis=0)
    phases = np.concatenate((phases, column, phases[::-1, ::-1]), axis=1)
  spectrum = np.roll(np.roll(power * (np.cos(phases) + np.sin(phases) * 1j), n // 2, axis=0),
                     n // 2, axis=1)
  noise = np.real(ifft2(spectrum))
  return noise / np.std(noise)


# --- the tests ----------------------------------------------------------------


def _b(values):
  return tf.constant(np.asarray(values, np.float64))


def test_single_frequency_greyscale(photos):
  rng = np.random.RandomState(1)
  params = [(rng.uniform(-np.pi, np.pi, 2), rng.uniform(0, 2 * np.pi), 19.6 * k)
            for k in (1, 4.5, 5)]
  ours = c_bar._single_frequency_greyscale_from_params(
      photos, _b([p[0][0] for p in params]), _b([p[0][1] for p in params]),
      _b([p[1] for p in params]), _b([p[2] for p in params]))
  ref = [ref_single_frequency(im, *p) for im, p in zip(photos, params)]
  _compare(ours, ref, 0.999)


def test_cocentric_sine_waves(photos):
  rng = np.random.RandomState(2)
  params = [(rng.uniform(0, SIDE, 2), rng.uniform(0, 10), rng.uniform(0, SIDE / 10),
             rng.uniform(0, SIDE / 10), c_bar.float_parameter(lv, 128)) for lv in (3, 8, 10)]
  ours = c_bar._cocentric_sine_waves_from_params(
      photos, *(_b([p[0][k] for p in params]) for k in (0, 1)),
      *(_b([p[k] for p in params]) for k in range(1, 5)))
  ref = [ref_cocentric(im, *p) for im, p in zip(photos, params)]
  _compare(ours, ref, 0.999)


def test_plasma_noise(photos):
  rng = np.random.RandomState(3)
  params = [(rng.uniform(0, 6 * np.pi), it, rng.uniform(0.5, 1), rng.uniform(0.075, 0.2) * SIDE,
             c_bar.float_parameter(lv, 64)) for it, lv in ((4, 4.75), (5, 8.5), (6, 10.0))]
  ours = c_bar._plasma_noise_from_params(photos, *(tf.constant([p[k] for p in params])
                                                   for k in range(5)))
  ref = [ref_plasma(im, *p) for im, p in zip(photos, params)]
  _compare(ours, ref, 0.99)


def test_caustic_refraction(photos):
  rng = np.random.RandomState(4)
  params = [(rng.uniform(0.5, 2.0), rng.uniform(0.75, 1.25) * SIDE,
             c_bar.float_parameter(lv, 0.5 * SIDE), c_bar.float_parameter(lv, 2.0))
            for lv in (2.35, 6.6, 9.15)]
  ours = c_bar._caustic_refraction_from_params(photos, *(_b([p[k] for p in params])
                                                         for k in range(4)))
  ref = [ref_caustic_refraction(im, *p) for im, p in zip(photos, params)]
  _compare(ours, ref, 0.98)


def test_checkerboard_cutout(photos):
  rng = np.random.RandomState(5)
  angles, scales, cells, refs = [], [], [], []
  for im, fraction in zip(photos, (0.2, 0.5, 0.6)):
    angle, scale = rng.uniform(0, 2 * np.pi), max(rng.uniform(0.1, 0.25) * SIDE, 1)
    size = int(4 * SIDE // scale)
    grid = np.zeros((40, 40), bool)
    grid[:size, :size] = rng.uniform(size=(size, size)) < fraction
    angles.append(angle)
    scales.append(scale)
    cells.append(grid)
    refs.append(ref_checkerboard(im, angle, scale, grid[:size, :size]))
  ours = c_bar._checkerboard_cutout_from_params(photos, _b(angles), _b(scales), np.stack(cells))
  _compare(ours, refs)


def test_sparkles(photos):
  rng = np.random.RandomState(6)
  centers, lengths, rays, refs = [], [], [], []
  for im, lv in zip(photos, (1.0, 3.0, 6.0)):
    radius = c_bar.float_parameter(lv, 0.1) * SIDE
    center = rng.uniform(0, SIDE, (5, 2))
    nrays = rng.randint(50, 200, 5)
    table = np.maximum(1, radius + 0.25 * radius * rng.randn(5, 199))
    centers.append(center)
    lengths.append(table)
    rays.append(nrays)
    refs.append(ref_sparkles(im, center, [table[k, :nrays[k]] for k in range(5)]))
  ours = c_bar._sparkles_from_params(photos, np.stack(centers), np.stack(lengths),
                                     np.stack(rays))
  _compare(ours, refs, 0.99)


def test_inverse_sparkles(photos):
  rng = np.random.RandomState(7)
  centers, lengths, rays, amounts, refs = [], [], [], [], []
  for im, lv in zip(photos, (1.0, 4.0, 10.0)):
    radius = 0.25 * SIDE
    center = rng.uniform(0.25, 0.75, 2) * SIDE
    nrays = rng.randint(50, 200)
    table = radius + 0.25 * radius * rng.randn(199)
    amount = 100 - c_bar.float_parameter(lv, 65)
    centers.append(center)
    lengths.append(table)
    rays.append(nrays)
    amounts.append(amount)
    refs.append(ref_inverse_sparkles(im, center, table[:nrays], amount))
  ours = c_bar._inverse_sparkles_from_params(photos, np.stack(centers), np.stack(lengths),
                                             np.array(rays), _b(amounts))
  _compare(ours, refs, 0.99)


def _release_perlin_tables(rng):
  """PerlinNoiseGenerator.__init__'s tables, drawn as the release draws them; and the draws."""
  words = np.array([rng.randint(0, 2**31, size=2) for _ in range(514)])
  g = (words % 512 - 256) / 256
  g = np.array([v / np.linalg.norm(v) for v in g])
  p = np.arange(514)
  swaps = []
  for i in range(255, -1, -1):
    j = rng.randint(0, 2**31) % 256
    swaps.append(j)
    p[i], p[j] = p[j], p[i]
  return p[:256], g[:256], (words[:256].astype(np.uint32), np.array(swaps, np.uint32))


def test_perlin_tables_match_the_release_shuffle():
  perm, grads, (words, swaps) = _release_perlin_tables(np.random.RandomState(8))
  ours_perm, ours_g = c_bar._perlin_table_xla(tf.constant(words[None]), tf.constant(swaps[None]))
  np.testing.assert_array_equal(ours_perm.numpy()[0], perm)
  np.testing.assert_array_equal(ours_g.numpy()[0], grads)


def test_perlin_noise(photos):
  rng = np.random.RandomState(9)
  perms, grads, alphas, refs = [], [], [], []
  for im, lv in zip(photos, (4.6, 7.6, 8.8)):
    perm, g, _ = _release_perlin_tables(rng)
    alpha = c_bar.float_parameter(lv, 0.5)
    perms.append(perm)
    grads.append(g)
    alphas.append(alpha)
    refs.append(ref_perlin(im, perm, g, alpha))
  ours = c_bar._perlin_noise_from_params(photos, np.stack(perms), np.stack(grads), _b(alphas))
  _compare(ours, refs, 0.99)


@pytest.mark.parametrize("side", [SIDE, SIDE + 1])
def test_blue_noise_sample(photos, side):
  rng = np.random.RandomState(10)
  images = np.stack([np.asarray(Image.fromarray(im).resize((side, side))) for im in photos])
  layouts, refs, thresholds = [], [], []
  for im, lv in zip(images, (0.8, 2.4, 5.6)):
    draws = rng.uniform(0, 2 * np.pi, (side, side // 2))
    centre = rng.uniform(0, 2 * np.pi, side // 2) if side % 2 else None
    threshold = c_bar.float_parameter(lv, 3.0) - 2.5
    layouts.append(c_bar.spectral_phases(draws[None], None if centre is None else centre[None]))
    noise = ref_spectral(draws, centre, side, False)
    refs.append(_uint8(im * (noise > threshold)[..., None]))
    thresholds.append(threshold)
  ours = c_bar._blue_noise_sample_from_params(images, tf.concat(layouts, 0), _b(thresholds))
  _compare(ours, refs)


def test_brownish_noise(photos):
  rng = np.random.RandomState(11)
  channels, refs, intensities = [[], [], []], [], []
  for im, lv in zip(photos, (1.0, 3.0, 5.0)):
    noise = []
    for c in range(3):
      draws = rng.uniform(0, 2 * np.pi, (SIDE, SIDE // 2))
      channels[c].append(c_bar.spectral_phases(draws[None], None))
      noise.append(ref_spectral(draws, None, SIDE, True))
    intensity = c_bar.float_parameter(lv, 64)
    intensities.append(intensity)
    refs.append(_uint8(im + intensity * np.stack(noise, axis=2)))
  ours = c_bar._brownish_noise_from_params(photos, [tf.concat(c, 0) for c in channels],
                                           _b(intensities))
  _compare(ours, refs, 0.99)


# --- the seeded public path ---------------------------------------------------------


@pytest.mark.parametrize("name", corruptions.C_BAR_NAMES)
def test_public_path(photos, name):
  images = tf.constant(photos)
  a = corruptions.apply(images, name, 3, 11)
  b = corruptions.apply(images, name, 3, tf.constant(11, tf.int64))
  c = corruptions.apply(images, name, 3, 12)
  np.testing.assert_array_equal(a, b)
  assert a.shape == images.shape and a.dtype == tf.uint8
  assert not np.array_equal(a, c)
  one = corruptions.apply(photos[0, :13], name, 5, 3)  # any size, one image
  assert one.shape == (13, SIDE, 3)


def test_levels_are_the_release_csv():
  assert set(c_bar.LEVELS) == set(corruptions.C_BAR_NAMES)
  assert c_bar.LEVELS["caustic_refraction"] == (2.35, 3.2, 4.9, 6.6, 9.15)
  assert c_bar.level("plasma_noise", 2) == 7.0


def test_drawn_parameters_in_distribution():
  """The seeded draws have the release's laws (a batch of 2000 images' parameters)."""
  images = tf.zeros([2000, 8, 8, 3], tf.uint8)
  u = c_bar._uniforms(images, 5, "plasma_noise", 4).numpy()
  iterations = c_bar._randint(tf.constant(u[:, 1]), 4, 7).numpy()
  assert set(iterations) == {4, 5, 6}
  counts = np.bincount(iterations)[4:] / len(iterations)
  np.testing.assert_allclose(counts, [1 / 3] * 3, atol=0.04)
  scipy_stats = pytest.importorskip("scipy.stats")
  time = c_bar._uniform(u[:, 0], 0., 6 * np.pi)
  assert scipy_stats.kstest(time / (6 * np.pi), "uniform").pvalue > 1e-3
  z = tf.reshape(corruptions.c_bar.ops.standard_normal([2000], 3, "c_bar/sparkles/1",
                                                       tf.float64), [-1]).numpy()
  assert scipy_stats.kstest(z, "norm").pvalue > 1e-3
  words = corruptions.c_bar.ops.uniform_words([4000], 3, "c_bar/perlin_noise/2").numpy()
  assert scipy_stats.chisquare(np.bincount(words & 255, minlength=256)).pvalue > 1e-3


def test_bad_input():
  with pytest.raises(ValueError):
    corruptions.apply(np.zeros((8, 8, 3), np.uint8), "sparkles", 6, 0)
  with pytest.raises(ValueError):
    corruptions.apply(np.zeros((8, 8, 3), np.uint8), "sparkle", 1, 0)


# --- against the release code itself, where a checkout is given --------------------------


@pytest.fixture(scope="module")
def release_corrupt():
  """The release's ``imagenet_c_bar/corrupt.py``, from the folder named by
  TFDS_BENCH_C_BAR_REFERENCE (a facebookresearch/augmentation-corruption
  checkout's ``imagenet_c_bar/``); skipped without it. Nothing is vendored."""
  import os  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  folder = os.environ.get("TFDS_BENCH_C_BAR_REFERENCE")
  if not folder:
    pytest.skip("set TFDS_BENCH_C_BAR_REFERENCE to the release's imagenet_c_bar/ folder")
  sys.path.insert(0, folder)
  try:
    import corrupt  # pylint: disable=g-import-not-at-top
  finally:
    sys.path.remove(folder)
  return {c.name: c for c in vars(corrupt).values() if isinstance(c, type) and hasattr(c, "name")}


def _ours_from_release_parameters(name, images, p, side):
  """Our ``_*_from_params`` fed the release's sampled parameters and its seeded draws."""
  if name == "single_frequency_greyscale":
    return c_bar._single_frequency_greyscale_from_params(
        images, _b([p["freq"][0]]), _b([p["freq"][1]]), _b([p["phase"]]), _b([p["intensity"]]))
  if name == "cocentric_sine_waves":
    return c_bar._cocentric_sine_waves_from_params(
        images, _b([p["offset"][0]]), _b([p["offset"][1]]), _b([p["freq"]]),
        _b([p["amplitude"]]), _b([p["ring_width"]]), _b([p["intensity"][0]]))
  if name == "plasma_noise":
    return c_bar._plasma_noise_from_params(
        images, _b([p["time"]]), tf.constant([p["iterations"]]), _b([p["sharpness"]]),
        _b([p["scale"]]), _b([p["intensity"]]))
  if name == "caustic_refraction":
    return c_bar._caustic_refraction_from_params(
        images, _b([p["time"]]), _b([p["size"]]), _b([p["lens_scale"]]),
        _b([p["lighting_amount"]]))
  rs = np.random.RandomState(p.get("seed", 0))
  if name == "checkerboard_cutout":
    n = int(4 * side // p["scales"][0])
    grid = np.zeros((40, 40), bool)
    grid[:n, :n] = rs.uniform(size=(n, n)) < p["fraction"]
    return c_bar._checkerboard_cutout_from_params(images, _b([p["angle"]]),
                                                  _b([p["scales"][0]]), grid[None])
  if name == "sparkles":
    table = np.ones((5, 199))
    for k in range(5):
      r = p["radii"][k]
      table[k, :p["nrays"][k]] = [max(1, r + 25 / 100.0 * r * rs.randn())
                                  for _ in range(p["nrays"][k])]
    return c_bar._sparkles_from_params(images, p["centers"][None], table[None],
                                       np.asarray(p["nrays"])[None])
  if name == "inverse_sparkles":
    table = np.ones(199)
    table[:p["rays"]] = [p["radius"] + 25 / 100.0 * p["radius"] * rs.randn()
                         for _ in range(p["rays"])]
    return c_bar._inverse_sparkles_from_params(images, p["center"][None], table[None],
                                               np.array([p["rays"]]), _b([p["amount"]]))
  if name == "perlin_noise":
    words = np.array([rs.randint(low=0, high=2**31, size=2) for _ in range(514)])
    swaps = np.array([[rs.randint(low=0, high=2**31) for _ in range(256)]], np.uint32)
    perm, g = c_bar._perlin_table_xla(tf.constant(words[None, :256].astype(np.uint32)),
                                      tf.constant(swaps))
    return c_bar._perlin_noise_from_params(images, perm, g, _b([p["alpha"]]))
  layouts = []
  for _ in range(1 if name == "blue_noise_sample" else 3):
    phases = rs.uniform(low=0, high=2 * np.pi, size=(side, side // 2))
    centre = rs.uniform(low=0, high=2 * np.pi, size=(side // 2, 1))[None, :, 0] if side % 2 else None
    layouts.append(c_bar.spectral_phases(tf.constant(phases[None]), centre))
  if name == "blue_noise_sample":
    return c_bar._blue_noise_sample_from_params(images, layouts[0], _b([p["threshold"]]))
  return c_bar._brownish_noise_from_params(images, layouts, _b([p["intensity"]]))


@pytest.mark.parametrize("side", [32, 33])
@pytest.mark.parametrize("name", corruptions.C_BAR_NAMES)
def test_equals_the_release_code(photos, release_corrupt, name, side):
  image = np.asarray(Image.fromarray(photos[0]).resize((side, side), Image.BILINEAR))
  np.random.seed(side)
  transform = release_corrupt[name](c_bar.level(name, 4), side)
  params = transform.sample_parameters()
  ref = transform.transform(image.copy(), **params)
  ours = _ours_from_release_parameters(name, image[None], params, side)
  _compare(np.asarray(ours)[0], ref, 0.99)


def test_public_path_is_from_params_of_its_draws(photos):
  """The seeded path = `_*_from_params` of the release's formulas applied to its uniforms."""
  # Per-severity strengths stay float64 (tf.fill of a Python float is float32).
  assert c_bar._fill([2], 19.6).numpy().tolist() == [19.6, 19.6]
  images = tf.constant(photos)
  u = c_bar._uniforms(images, 21, "single_frequency_greyscale", 4).numpy()
  mag = -np.pi + (np.pi - -np.pi) * u[:, 0]
  second = -np.abs(mag) + 2 * np.abs(mag) * u[:, 1]
  swap = u[:, 2] < 0.5
  expected = c_bar._single_frequency_greyscale_from_params(
      images, _b(np.where(swap, second, mag)), _b(np.where(swap, mag, second)),
      _b(2 * np.pi * u[:, 3]), _b([float(4.5) * 196 / 10.] * 3))
  np.testing.assert_array_equal(
      corruptions.apply(images, "single_frequency_greyscale", 4, 21), expected)
