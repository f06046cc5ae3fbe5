"""imagenet2012_multilabel: annotations from manual_dir, joined by file name."""

import json

import numpy as np
import pytest

from tfds_bench import errors, evaluate, labels
from tfds_bench import predictions as predictions_lib


def _write_annotations(manual_dir, annotated):
  wnids = labels.wnids()
  payload = {
      "initial_annots": {
          name: {kind: [wnids[c] for c in classes] for kind, classes in kinds.items()}
          for name, (kinds, _) in annotated.items()},
      "problematic_images": {name: {} for name, (_, bad) in annotated.items() if bad},
      "imagenet_m": [],
  }
  (manual_dir / "human_accuracy_v3.0.0.json").write_text(json.dumps(payload))


def test_multilabel_scores_equal_the_seed_definition(tmp_path):
  rng = np.random.default_rng(0)
  numbers = np.arange(1, 301)
  truth = labels.val_labels()[numbers - 1]
  annotated = {}
  for i in range(0, 300, 2):  # every other image is annotated
    correct = [int(truth[i])] + ([int((truth[i] + 1) % 1000)] if i % 3 == 0 else [])
    unclear = [int((truth[i] + 2) % 1000)] if i % 5 == 0 else []
    annotated[f"ILSVRC2012_val_{numbers[i]:08d}.JPEG"] = (
        {"correct": correct, "unclear": unclear, "wrong": [int((truth[i] + 7) % 1000)]},
        i % 11 == 0)
  _write_annotations(tmp_path, annotated)
  top1 = np.where(rng.random(300) < 0.5, truth, (truth + rng.integers(0, 3, 300)) % 1000)
  path = tmp_path / "m.npz"
  np.savez(path, file_name=[f"ILSVRC2012_val_{n:08d}.JPEG" for n in numbers],
           top5=np.stack([top1] + [np.full(300, 999)] * 4, axis=1))
  run = evaluate.score_predictions(predictions_lib.load_npz(str(path)),
                                   ["imagenet2012_multilabel"], "m",
                                   options=evaluate.ScoringOptions(manual_dir=str(tmp_path)))
  got = {r.metric: (r.value, r.n) for r in run.results}

  # Reference: loops in the TFDS imagenet2012_multilabel README's style.
  per_class, per_class_correct_only, per_image = {}, {}, []
  for i in range(300):
    name = f"ILSVRC2012_val_{numbers[i]:08d}.JPEG"
    if name not in annotated or annotated[name][1]:
      continue
    kinds = annotated[name][0]
    right = top1[i] in kinds["correct"] or top1[i] in kinds["unclear"]
    per_class.setdefault(truth[i], []).append(right)
    per_class_correct_only.setdefault(truth[i], []).append(top1[i] in kinds["correct"])
    per_image.append(right)
  expected_class_mean = np.mean([np.mean(v) for v in per_class.values()])
  expected_correct_only = np.mean([np.mean(v) for v in per_class_correct_only.values()])
  assert got["top1"] == (pytest.approx(expected_class_mean, abs=1e-12), len(per_image))
  assert got["top1_image_mean"][0] == pytest.approx(np.mean(per_image), abs=1e-12)
  assert got["top1_correct_only"][0] == pytest.approx(expected_correct_only, abs=1e-12)
  assert len(per_image) < 150  # problematic images were skipped


def test_missing_annotation_file_names_file_place_and_the_403(tmp_path):
  path = tmp_path / "m.npz"
  np.savez(path, file_name=["ILSVRC2012_val_00000001.JPEG"], top5=np.zeros((1, 5), int))
  loaded = predictions_lib.load_npz(str(path))
  with pytest.raises(errors.MissingArchiveError) as info:
    evaluate.score_predictions(loaded, ["imagenet2012_multilabel"], "m",
                               options=evaluate.ScoringOptions(manual_dir=str(tmp_path)))
  message = str(info.value)
  assert "human_accuracy_v3.0.0.json" in message and str(tmp_path) in message
  assert "403" in message


def test_annotation_file_that_is_not_the_right_json(tmp_path):
  (tmp_path / "human_accuracy_v3.0.0.json").write_text('{"something": 1}')
  path = tmp_path / "m.npz"
  np.savez(path, file_name=["ILSVRC2012_val_00000001.JPEG"], top5=np.zeros((1, 5), int))
  with pytest.raises(errors.DamagedInputError, match="initial_annots"):
    evaluate.score_predictions(predictions_lib.load_npz(str(path)),
                               ["imagenet2012_multilabel"], "m",
                                   options=evaluate.ScoringOptions(manual_dir=str(tmp_path)))
