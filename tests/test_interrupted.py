"""Interrupted work leaves no partial results and no half-prepared dataset.

* results: ``reports.write_results`` writes ``results.json`` / ``results.csv``
  through a temporary file and ``os.replace`` (``tfds_bench.reports.atomic``);
  a failure while writing, or a Ctrl-C during evaluation, leaves the previous
  results as they were;
* TFDS preparation: TFDS writes into ``<data_dir>/<name>/incomplete.XXXXXX_<version>``
  and renames it when done; an interrupted preparation leaves the dataset
  unprepared, and the next run prepares it again from the start.
"""

import json
import os

import keras
import numpy as np
import pytest

from tfds_bench import input_pipeline, reports
from tfds_bench.reports import atomic
from tests.conftest import write_jpeg

RECORD = {"model": "m", "benchmark": "image_folder", "metric": "top1", "value": 0.5, "n": 2,
          "suite_version": "0"}


def _previous_results(output_dir) -> dict:
  reports.write_results(str(output_dir), [RECORD], {"run": "previous"})
  return {name: (output_dir / name).read_bytes() for name in ("results.json", "results.csv")}


def _disk_full_after(limit: int):
  """An ``open`` whose files take ``limit`` characters, then fail like a full disk."""
  real_open = open

  class Writer:
    def __init__(self, f):
      self._f, self._left = f, limit

    def write(self, text):
      if len(text) > self._left:
        self._f.write(text[:self._left])
        raise OSError(28, "No space left on device")
      self._left -= len(text)
      return self._f.write(text)

    def __enter__(self):
      return self

    def __exit__(self, *exc):
      self._f.close()

  return lambda *args, **kwargs: Writer(real_open(*args, **kwargs))


def test_failure_while_writing_keeps_the_previous_results(tmp_path, monkeypatch):
  before = _previous_results(tmp_path)
  monkeypatch.setattr(atomic, "open", _disk_full_after(10), raising=False)
  with pytest.raises(OSError, match="No space"):
    reports.write_results(str(tmp_path), [dict(RECORD, value=0.75)] * 50, {"run": "new"})
  monkeypatch.undo()
  assert {name: (tmp_path / name).read_bytes() for name in before} == before
  assert json.loads(before["results.json"])["provenance"] == {"run": "previous"}


def test_failure_while_writing_leaves_no_temporary_file(tmp_path, monkeypatch):
  _previous_results(tmp_path)
  monkeypatch.setattr(atomic, "open", _disk_full_after(10), raising=False)
  with pytest.raises(OSError):
    reports.write_results(str(tmp_path), [RECORD], {"run": "new"})
  monkeypatch.undo()
  assert sorted(os.listdir(tmp_path)) == ["results.csv", "results.json"]


@pytest.fixture
def folder_and_model(tmp_path):
  """Three images and a tiny saved .keras model with its preprocessing sidecar."""
  for i in range(3):
    write_jpeg(tmp_path / "images" / "n01440764" / f"{i}.JPEG", np.full((16, 16, 3), 40 * i,
                                                                          np.uint8))
  inputs = keras.Input((8, 8, 3))
  outputs = keras.layers.Dense(1000)(keras.layers.GlobalAveragePooling2D()(inputs))
  model = tmp_path / "tiny.keras"
  keras.Model(inputs, outputs).save(str(model))
  (tmp_path / "tiny.keras.json").write_text(json.dumps({"preprocessing": {"input_size": 8}}))
  return str(tmp_path / "images"), str(model)


def _bench_main(args):
  from tfds_bench import bench_main
  bench_main.FLAGS.unparse_flags()
  bench_main.FLAGS(["bench_main", *args])
  try:
    return bench_main._run(bench_main.check_flags())  # pylint: disable=protected-access
  finally:
    bench_main.FLAGS.unparse_flags()


@pytest.mark.parametrize("had_results", [False, True])
def test_ctrl_c_during_evaluation_writes_no_results(had_results, folder_and_model, tmp_path,
                                                    monkeypatch):
  from tfds_bench import bench_main
  images, model = folder_and_model
  out = tmp_path / "out"
  before = _previous_results(out) if had_results else {}

  def interrupting_progress(description, total):
    def update(n):
      raise KeyboardInterrupt  # Ctrl-C after the first batch
    return update, lambda: None

  monkeypatch.setattr(bench_main, "_tqdm_progress", interrupting_progress)
  args = [f"--model={model}", f"--image_folder={images}", f"--output_dir={out}",
          "--batch_size=1", "--overwrite"]
  with pytest.raises(KeyboardInterrupt):
    _bench_main(args)
  found = {name: (out / name).read_bytes() for name in os.listdir(out)} if out.exists() else {}
  assert found == before

  # The same command, uninterrupted, then writes complete results.
  monkeypatch.undo()
  assert _bench_main(args + ["--progress=false"]) == 0
  records = json.loads((out / "results.json").read_text())["results"]
  assert {r["n"] for r in records} == {3}
  assert sorted(os.listdir(out)) == ["predictions", "results.csv", "results.json"]


def test_interrupted_tfds_preparation_is_redone_on_the_next_run(tmp_path, monkeypatch):
  import tensorflow_datasets as tfds
  import tfds_bench.builders  # pylint: disable=unused-import
  from tfds_bench.builders.bench_sample import bench_sample_dataset_builder as sample

  real_generate = sample.Builder._generate_examples  # pylint: disable=protected-access

  def interrupted(self):
    for i, example in enumerate(real_generate(self)):
      if i == 2:
        raise KeyboardInterrupt
      yield example

  monkeypatch.setattr(sample.Builder, "_generate_examples", interrupted)
  with pytest.raises(KeyboardInterrupt):
    input_pipeline.load_split("bench_sample", "test", data_dir=str(tmp_path))
  monkeypatch.undo()
  builder = tfds.builder("bench_sample", data_dir=str(tmp_path))
  assert not builder.is_prepared()
  # Nothing half-written is left where TFDS looks for the prepared dataset,
  # and TFDS removed its temporary folder on the way out.
  leftovers = [p for p in (tmp_path / "bench_sample").rglob("*") if p.is_file()]
  assert leftovers == []
  # A hard kill (no clean-up) leaves an incomplete.* folder: the next
  # preparation, holding the lock, removes it and starts clean.
  junk = tmp_path / "bench_sample" / "incomplete.KILLED_1.0.0"
  junk.mkdir(parents=True)
  (junk / "bench_sample-test.tfrecord-00000-of-00001").write_bytes(b"half")
  dataset = input_pipeline.load_split("bench_sample", "test", data_dir=str(tmp_path))
  assert len(list(dataset)) == 7
  assert not junk.exists()
