"""ObjectNet scored as its authors do, from the dummy release to the results.

The rule (abarbu/objectnet-template-tensorflow, validate_and_score.py and
objectnet_eval.py): the model's 1000-way top-5, each class mapped to the
ObjectNet class it counts as (unmapped: none); top-1 right when the first
maps to the image's class, top-5 when any of the five does; images of the
200 classes outside ImageNet-1k are not scored.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_bench.builders  # pylint: disable=unused-import  # registers bench_objectnet
from tfds_bench import benchmark_table, label_spaces, labels
from tfds_bench.predictions import Predictions
from tfds_bench.scoring import rows as scoring_rows

DUMMY = (pathlib.Path(__file__).resolve().parents[1] / "builders" / "bench_objectnet"
         / "dummy_data")
# Written out by hand from the ImageNet names the authors' objectnet_to_imagenet_1k.json
# lists for each class (not read from our data file): ImageNet class
# indices that count as each ObjectNet class.
AUTHORS_MAPPING = {"Chair": {423, 559, 765}, "Wok": {909}, "Alarm clock": {409, 530}}


def _authors_topk(top5, objectnet_class, k):
  """The templates' rule, written as a loop over images."""
  right = []
  for guesses, name in zip(top5, objectnet_class):
    right.append(any(g in AUTHORS_MAPPING[name] for g in guesses[:k]))
  return float(np.mean(right))


def test_the_label_space_agrees_with_the_authors_classes_used_here():
  space = label_spaces.get("objectnet")
  for name, members in AUTHORS_MAPPING.items():
    assert set(space.members[space.class_names.index(name)].tolist()) == members


def test_objectnet_row_scores_the_dummy_release_as_the_authors_do(tmp_path):
  builder = tfds.builder("bench_objectnet", data_dir=str(tmp_path))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(DUMMY)))
  examples = list(tfds.as_numpy(builder.as_dataset(split="test")))
  file_name = np.array([e["file_name"].decode() for e in examples])
  label = np.array([e["label"] for e in examples], np.int64)
  objectnet_class = [e["objectnet_class"].decode() for e in examples]
  assert (label == -1).sum() == 1 and (label >= 0).sum() == 4
  # Image 0: right at top-1; image 1: right at rank 3; the rest wrong; the
  # image outside the 113 classes predicted "right" for any class must not count.
  rng = np.random.default_rng(0)
  top5 = np.stack([rng.choice(np.setdiff1d(np.arange(1000), [423, 559, 765, 909, 409, 530]),
                              5, replace=False) for _ in examples])
  inside = np.flatnonzero(label >= 0)
  top5[inside[0], 0] = min(AUTHORS_MAPPING[objectnet_class[inside[0]]])
  top5[inside[1], 2] = max(AUTHORS_MAPPING[objectnet_class[inside[1]]])
  predictions = Predictions(file_name=file_name, label=label, top5=top5,
                            confidence=np.full(len(label), np.nan))
  row = benchmark_table.get("objectnet")
  results = {r.metric: r for r in scoring_rows.score_row(row, {row.sources[0].key: predictions})}
  kept = [i for i in range(len(label)) if label[i] >= 0]
  for k in (1, 5):
    expected = _authors_topk(top5[kept], [objectnet_class[i] for i in kept], k)
    assert results[f"top{k}"].value == pytest.approx(expected)
    assert results[f"top{k}"].n == 4
    assert results[f"top{k}"].ci_low <= expected <= results[f"top{k}"].ci_high
  assert results["top1"].value == 0.25 and results["top5"].value == 0.5


def test_bench_main_lists_and_runs_objectnet_on_the_dummy_release(tmp_path, quiet_tf_env):
  listing = subprocess.run([sys.executable, "-m", "tfds_bench.bench_main", "--list"],
                           capture_output=True, text=True, env=quiet_tf_env, timeout=120)
  assert "objectnet" in listing.stdout
  proc = subprocess.run(
      [sys.executable, "-m", "tfds_bench.bench_main", "--model=efficientnet",
       "--benchmarks=objectnet", f"--manual_dir={DUMMY}", f"--data_dir={tmp_path / 'data'}",
       f"--output_dir={tmp_path / 'out'}", "--batch_size=2", "--noprogress"],
      capture_output=True, text=True, env=quiet_tf_env, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
  assert {(r["benchmark"], r["metric"], r["n"]) for r in results} == {
      ("objectnet", "top1", 4), ("objectnet", "top5", 4)}
