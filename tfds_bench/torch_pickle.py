"""Reads PyTorch state dicts (.pth) into numpy arrays, without torch.

A .pth file is a pickle, and unpickling runs whatever callables the file
names. This reader only lets through the handful of globals a plain state dict
of tensors needs, mapped to numpy-backed stand-ins, so a file that asks for
anything else (os.system, builtins.eval, a model class, ...) is refused before
any of it runs.

Two container formats exist:
  * zip (torch >= 1.6): `<root>/data.pkl` plus one `<root>/data/<key>` entry
    of raw little-endian bytes per storage.
  * legacy pickle stream (torch < 1.6): magic number, protocol version and
    system info pickles, then the object pickle, then the list of storage
    keys, then per storage an int64 element count and the raw bytes.
The even older tar format (torch < 0.4) is not supported.
"""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

# The legacy format starts with this pickled integer (torch.serialization).
_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL_VERSION = 1001

# Tensor storage classes a state dict may name, with the dtype of their data.
# Byte order is added when the file's byte order is known.
_STORAGE_DTYPES = {
    'FloatStorage': 'f4',
    'LongStorage': 'i8',
}


class UnsafePickleError(pickle.UnpicklingError):
  """The file references something other than plain tensors."""


class _StorageType:
  """Stand-in for a `torch.<X>Storage` class: only remembers the dtype."""

  def __init__(self, name):
    self.name = name
    self.dtype_code = _STORAGE_DTYPES[name]


class _StorageRef:
  """A storage named by the pickle; its bytes may only arrive later."""

  def __init__(self, storage_type, key, numel):
    self.storage_type = storage_type
    self.key = key
    self.numel = numel
    self.data = None  # 1-D numpy array once read.


class _StorageView:
  """Part of a storage (legacy format's view_metadata): offset and size."""

  def __init__(self, root, offset, numel):
    self.root = root
    self.offset = offset
    self.numel = numel


class _PendingTensor:
  """Arguments of `_rebuild_tensor_v2`, turned into an array once bytes are in."""

  def __init__(self, storage, storage_offset, size, stride):
    self.storage = storage
    self.storage_offset = storage_offset
    self.size = tuple(size)
    self.stride = tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride,
                       requires_grad=False, backward_hooks=None,
                       metadata=None):
  del requires_grad, backward_hooks, metadata  # Irrelevant for inference.
  if not isinstance(storage, (_StorageRef, _StorageView)):
    raise pickle.UnpicklingError(
        f'tensor storage is a {type(storage).__name__}, not a storage')
  return _PendingTensor(storage, storage_offset, size, stride)


def _numpy_globals():
  """The globals numpy's own pickles of arrays use (both numpy 1 and 2)."""
  allowed = {('numpy', 'ndarray'): np.ndarray, ('numpy', 'dtype'): np.dtype}
  reconstruct = np.ndarray.__reduce__(np.zeros(0))[0]
  for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
    allowed[(module, '_reconstruct')] = reconstruct
  return allowed


def _allowed_globals():
  allowed = {
      ('collections', 'OrderedDict'): collections.OrderedDict,
      ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
  }
  for name in _STORAGE_DTYPES:
    allowed[('torch', name)] = _StorageType(name)
  allowed.update(_numpy_globals())
  return allowed


_ALLOWED_GLOBALS = _allowed_globals()


class _RestrictedUnpickler(pickle.Unpickler):
  """Resolves only allow-listed globals; collects the storages it is shown."""

  def __init__(self, file, path):
    super().__init__(file)
    self._path = path
    self.storages = {}

  def find_class(self, module, name):
    try:
      return _ALLOWED_GLOBALS[(module, name)]
    except KeyError:
      raise UnsafePickleError(
          f'refusing to load {self._path}: it references {module}.{name}, '
          'which is not an allowed tensor type; only plain PyTorch state '
          'dicts of tensors can be read') from None

  def persistent_load(self, pid):
    if not isinstance(pid, tuple) or not pid or pid[0] != 'storage':
      raise UnsafePickleError(
          f'refusing to load {self._path}: it holds a persistent object '
          f'{pid[0] if isinstance(pid, tuple) and pid else pid!r} (for '
          'example a pickled whole module); only plain PyTorch state dicts '
          'of tensors can be read')
    if len(pid) == 5:  # zip: storage, type, key, location, numel
      _, storage_type, key, _, numel = pid
      view = None
    elif len(pid) == 6:  # legacy: ... numel, view_metadata
      _, storage_type, key, _, numel, view = pid
    else:
      raise pickle.UnpicklingError(
          f'{self._path}: malformed storage reference {pid!r}')
    if not isinstance(storage_type, _StorageType):
      raise pickle.UnpicklingError(
          f'{self._path}: storage type {storage_type!r} is not a storage')
    storage = self.storages.get(key)
    if storage is None:
      storage = _StorageRef(storage_type, key, int(numel))
      self.storages[key] = storage
    if view is not None:
      _, view_offset, view_numel = view
      return _StorageView(storage, int(view_offset), int(view_numel))
    return storage


def _storage_array(storage):
  if isinstance(storage, _StorageView):
    data = storage.root.data
    return data[storage.offset:storage.offset + storage.numel]
  return storage.data


def _materialise(tensor, path):
  """Copies the (possibly strided, offset) view out of its storage."""
  data = _storage_array(tensor.storage)
  if data is None:
    raise pickle.UnpicklingError(
        f'{path}: the data of a tensor storage is missing from the file')
  size, stride, offset = tensor.size, tensor.stride, tensor.storage_offset
  if len(size) != len(stride) or any(s < 0 for s in size + stride):
    raise pickle.UnpicklingError(
        f'{path}: bad tensor geometry size={size} stride={stride}')
  if 0 in size:
    return np.zeros(size, dtype=data.dtype)
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  # as_strided reads raw memory: never let a view reach past its storage.
  if offset < 0 or last >= data.size:
    raise pickle.UnpicklingError(
        f'{path}: tensor view (offset={offset}, size={size}, '
        f'stride={stride}) reaches past its storage of {data.size} elements')
  view = np.lib.stride_tricks.as_strided(
      data[offset:], shape=size,
      strides=tuple(s * data.itemsize for s in stride), writeable=False)
  # np.array, not ascontiguousarray: the latter turns 0-d into 1-d.
  return np.array(view, order='C')


def _to_state_dict(obj, path):
  """Replaces pending tensors by arrays; checks the result is a state dict."""
  if not isinstance(obj, dict):
    raise pickle.UnpicklingError(
        f'{path}: holds a {type(obj).__name__}, not a state dict')
  state = collections.OrderedDict()
  for key, value in obj.items():
    if isinstance(value, _PendingTensor):
      value = _materialise(value, path)
    elif not isinstance(value, np.ndarray):
      raise pickle.UnpicklingError(
          f'{path}: entry {key!r} is a {type(value).__name__}, not a tensor')
    state[key] = value
  return state


def _load_zip(path):
  with zipfile.ZipFile(path) as archive:
    names = archive.namelist()
    pickles = [n for n in names if n.endswith('/data.pkl') or n == 'data.pkl']
    if len(pickles) != 1:
      raise pickle.UnpicklingError(
          f'{path}: zip file without exactly one data.pkl; not a torch file')
    root = pickles[0][:-len('data.pkl')]
    byteorder = '<'
    if root + 'byteorder' in names:
      byteorder = '>' if archive.read(root + 'byteorder') == b'big' else '<'
    unpickler = _RestrictedUnpickler(
        io.BytesIO(archive.read(pickles[0])), path)
    obj = unpickler.load()
    for key, storage in unpickler.storages.items():
      raw = archive.read(f'{root}data/{key}')
      storage.data = np.frombuffer(
          raw, dtype=byteorder + storage.storage_type.dtype_code)
  return _to_state_dict(obj, path)


def _load_legacy(path, file):
  if _RestrictedUnpickler(file, path).load() != _LEGACY_MAGIC_NUMBER:
    raise pickle.UnpicklingError(
        f'{path}: not a PyTorch file (no zip archive, wrong magic number)')
  version = _RestrictedUnpickler(file, path).load()
  if version != _LEGACY_PROTOCOL_VERSION:
    raise pickle.UnpicklingError(
        f'{path}: unsupported legacy torch protocol version {version}')
  sys_info = _RestrictedUnpickler(file, path).load()
  if not isinstance(sys_info, dict):
    raise pickle.UnpicklingError(f'{path}: malformed legacy torch header')
  byteorder = '<' if sys_info.get('little_endian', True) else '>'
  unpickler = _RestrictedUnpickler(file, path)
  obj = unpickler.load()
  storage_keys = _RestrictedUnpickler(file, path).load()
  for key in storage_keys:
    storage = unpickler.storages.get(key)
    if storage is None:
      raise pickle.UnpicklingError(
          f'{path}: data for storage {key!r} that no tensor references')
    (numel,) = struct.unpack(byteorder + 'q', file.read(8))
    dtype = np.dtype(byteorder + storage.storage_type.dtype_code)
    raw = file.read(numel * dtype.itemsize)
    if numel != storage.numel or len(raw) != numel * dtype.itemsize:
      raise pickle.UnpicklingError(
          f'{path}: storage {key} is truncated or has the wrong size')
    storage.data = np.frombuffer(raw, dtype=dtype)
  return _to_state_dict(obj, path)


def load_state_dict(path):
  """Returns the tensors of a torch state dict file as numpy arrays.

  Args:
    path: a `.pth` / `.pt` file written by `torch.save(model.state_dict())`,
      zip or legacy format.

  Returns:
    An OrderedDict, parameter name -> contiguous numpy array, in file order.

  Raises:
    FileNotFoundError: `path` does not exist.
    UnsafePickleError: the file references anything but plain tensors.
    pickle.UnpicklingError: the file is not a readable torch state dict.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'no such torch weights file: {path}')
  if zipfile.is_zipfile(path):
    return _load_zip(path)
  with open(path, 'rb') as file:
    if file.read(262)[257:262] == b'ustar':
      raise pickle.UnpicklingError(
          f'{path}: tar-format torch file (PyTorch < 0.4) is not supported')
    file.seek(0)
    return _load_legacy(path, file)
