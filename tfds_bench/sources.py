"""Sources: the image sets benchmarks run the model on, and how each loads itself.

A source is what one forward pass reads: a TFDS builder split, the user's
image folder, or an ImageNet-C config, which can also be made on the fly from
the val images. Benchmarks that share a source key share one forward pass
(ImageNet val feeds val, ReaL, multi-label, calibration, ImageNet-O and
ImageNet-C's clean error).

Loading needs TensorFlow, scoring does not: `load` imports the input pipeline
when it is called, so the benchmark table (and `--list`, `--predictions`)
stays free of TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Dict, FrozenSet, Mapping, Optional

import numpy as np

from tfds_bench import errors, labels
from tfds_bench.predictions import Predictions
from tfds_bench.release import imagenet_c as imagenet_c_release
from tfds_bench.release import imagenet_p as imagenet_p_release


@dataclasses.dataclass
class DataOptions:
  """Where the data lives: TFDS ``data_dir``, archives in ``manual_dir``, or a folder."""
  data_dir: Optional[str] = None
  manual_dir: Optional[str] = None
  image_folder: Optional[str] = None
  # ImageNet-C from the val images through the corruption engine inside
  # tf.data, instead of reading bench_imagenet_c's prepared configs.
  corrupt_on_the_fly: bool = False
  # grpc://HOST:PORT of a tf.data service dispatcher (tfds_bench.data_service):
  # decode, preprocessing and on-the-fly corruption run on its workers.
  data_service: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Source:
  """Images a benchmark needs the model to see.

  Attributes:
    key: unique id; benchmarks with the same key share one forward pass.
    label_lists: variable-length label features to carry, name -> padding width.
  """
  key: str
  label_lists: Mapping[str, int] = dataclasses.field(default_factory=dict)
  # The run options (flag names) loading this source reads: the run
  # configuration refuses an option that no chosen source or scorer reads.
  reads: ClassVar[FrozenSet[str]] = frozenset()

  def load(self, data: DataOptions, show_progress: bool = False):
    """The source's examples as a tf.data.Dataset with images left encoded.

    ``show_progress``: progress bars while a dataset is prepared on first use.
    """
    return self.prepare(self.read(data, show_progress), data)

  def read(self, data: DataOptions, show_progress: bool = False):
    """The examples as stored, before any per-example work (cheap to read twice);
    ``show_progress`` as in `load`."""
    raise NotImplementedError

  def prepare(self, examples, data: DataOptions):
    """Per-example work after `read` (default: none). Evaluation slices the
    examples between the two, so each host or tf.data service worker does
    this work for its own slice only."""
    del data
    return examples

  def describe(self) -> Dict[str, Optional[str]]:
    """What the results' provenance records about the source."""
    return {"builder": None, "split": None}

  def with_labels(self, predictions: Predictions, benchmark_id: str) -> Predictions:
    """Fills labels a saved predictions file need not carry (default: none)."""
    del benchmark_id
    return predictions


@dataclasses.dataclass(frozen=True)
class TfdsSource(Source):
  """A split of a TFDS builder (ours or TFDS's), prepared on first use."""
  builder: str = ""
  split: str = "test"
  reads: ClassVar[FrozenSet[str]] = frozenset({"data_dir", "manual_dir"})

  def read(self, data: DataOptions, show_progress: bool = False):
    from tfds_bench import input_pipeline  # lazy: tensorflow
    return input_pipeline.load_split(self.builder, self.split, data_dir=data.data_dir,
                                     manual_dir=data.manual_dir, show_progress=show_progress)

  def describe(self) -> Dict[str, Optional[str]]:
    return {"builder": self.builder, "split": self.split}


@dataclasses.dataclass(frozen=True)
class ImageNetValSource(TfdsSource):
  """ImageNet val through TFDS's `imagenet2012`; its labels follow from file names."""

  def with_labels(self, predictions: Predictions, benchmark_id: str) -> Predictions:
    try:
      numbers = labels.val_file_numbers(predictions.file_name)
    except ValueError as e:
      raise errors.UserError(f"{benchmark_id}: {e}") from None
    val_labels = labels.val_labels()
    if numbers.min() < 1 or numbers.max() > len(val_labels):
      raise errors.UserError(f"{benchmark_id}: val file numbers must be 1..50000")
    val = val_labels[numbers - 1]
    given = predictions.label >= 0
    if (predictions.label[given] != val[given]).any():
      first = predictions.file_name[given][predictions.label[given] != val[given]][0]
      raise errors.UserError(f"{benchmark_id}: the file's 'label' disagrees with the "
                             f"ImageNet val label of {first!r}")
    return dataclasses.replace(predictions, label=val.astype(np.int64))


IMAGENET_VAL = ImageNetValSource(key="imagenet2012:validation", builder="imagenet2012",
                                 split="validation")


@dataclasses.dataclass(frozen=True)
class ImageFolderSource(Source):
  """The user's folder in ImageNet layout (``--image_folder``)."""
  reads: ClassVar[FrozenSet[str]] = frozenset({"image_folder"})

  def read(self, data: DataOptions, show_progress: bool = False):
    del show_progress  # read in place, nothing to prepare
    if not data.image_folder:
      raise errors.UserError("benchmark image_folder needs --image_folder=DIR")
    from tfds_bench import input_pipeline  # lazy: tensorflow
    return input_pipeline.load_image_folder(data.image_folder)


@dataclasses.dataclass(frozen=True)
class ImageNetCSource(TfdsSource):
  """One ImageNet-C config: `bench_imagenet_c/<corruption>_<severity>`, or,
  with ``DataOptions.corrupt_on_the_fly``, the val images corrupted inside
  tf.data exactly as the builder generates them."""
  config: Optional[imagenet_c_release.Config] = None
  reads: ClassVar[FrozenSet[str]] = TfdsSource.reads | {"corrupt_on_the_fly"}

  def read(self, data: DataOptions, show_progress: bool = False):
    if not data.corrupt_on_the_fly:
      return super().read(data, show_progress)
    return IMAGENET_VAL.read(data, show_progress)

  def prepare(self, examples, data: DataOptions):
    if not data.corrupt_on_the_fly:
      return examples
    return imagenet_c_release.corrupt_on_the_fly(examples, self.config)


def imagenet_c_source(config: imagenet_c_release.Config) -> ImageNetCSource:
  """The source of `bench_imagenet_c/<corruption>_<severity>`."""
  builder = f"{imagenet_c_release.BUILDER_NAME}/{config.name}"
  return ImageNetCSource(key=f"{builder}:test", builder=builder, split="test", config=config)


@dataclasses.dataclass(frozen=True)
class ImageNetPSource(TfdsSource):
  """The frames of one perturbation's sequences (`bench_imagenet_p/<name>` or
  the sample's `bench_sample_p/<name>`)."""
  perturbation: str = ""

  def __post_init__(self):
    if self.perturbation not in imagenet_p_release.NAMES:
      raise ValueError(f"unknown perturbation {self.perturbation!r}; known: "
                       f"{', '.join(imagenet_p_release.NAMES)}")


def imagenet_p_source(builder: str, perturbation: str) -> ImageNetPSource:
  """The source of `<builder>/<perturbation>` (bench_imagenet_p or bench_sample_p)."""
  return ImageNetPSource(key=f"{builder}/{perturbation}:test",
                         builder=f"{builder}/{perturbation}", perturbation=perturbation)
