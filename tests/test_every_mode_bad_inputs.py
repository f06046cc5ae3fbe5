"""Every documented mode, given bad input, ends in one line: a corpus run as a user would.

Each case is `bench_main` in its own process (the README's command lines)
with a bad input of its mode: wrong file types, empty files, folders where
files are expected and the reverse, impossible resources. The principle: exit
2, exactly one `bench_main: error:` line naming the input, and no traceback
anywhere on stderr. The processes run a few at a time to keep the suite quick.
"""

import concurrent.futures
import json
import subprocess
import sys

import numpy as np
import pytest

from tfds_bench import input_pipeline, errors


def _corpus(tmp):
  """(case, args, what the one line must name) for each mode."""
  (tmp / "empty.npz").write_bytes(b"")
  (tmp / "text.npz").write_text("not a zip")
  np.save(tmp / "array.npy", np.zeros(3))
  np.savez(tmp / "no_arrays.npz")
  (tmp / "empty.json").write_text("")
  (tmp / "list.json").write_text(json.dumps([{"model": "m"}]))
  (tmp / "empty.keras").write_bytes(b"")
  (tmp / "empty.pth").write_bytes(b"")
  (tmp / "empty_folder").mkdir()
  (tmp / "not_a_run").mkdir()
  (tmp / "a_file").write_text("x")
  # Files a scorer reads from manual_dir: refused before any forward pass.
  (tmp / "c_bar_baseline").mkdir()
  (tmp / "c_bar_baseline" / "imagenet_c_bar_baseline.json").write_text('{"errors": {}}')
  (tmp / "p_alexnet").mkdir()
  (tmp / "p_alexnet" / "imagenet_p_alexnet.json").write_text("not json")
  return [
      # model runs
      ("empty image folder", ["--image_folder=empty_folder"], "empty_folder"),
      ("image folder is a file", ["--image_folder=a_file"], "a_file"),
      ("empty .keras model", ["--model=empty.keras", "--preprocessing=raw",
                              "--benchmarks=sample"], "empty.keras"),
      ("empty weights file", ["--model=efficientnet", "--weights=empty.pth"], "empty.pth"),
      ("output_dir inside a file", ["--output_dir=a_file/out"], "a_file/out"),
      ("zero workers", ["--data_service=local:0"], "local:0"),
      # --predictions
      ("empty .npz", ["--predictions=empty.npz", "--benchmarks=imagenet2012"], "empty.npz"),
      ("text as .npz", ["--predictions=text.npz", "--benchmarks=imagenet2012"], "text.npz"),
      (".npy file", ["--predictions=array.npy", "--benchmarks=imagenet2012"], "array.npy"),
      ("npz without arrays", ["--predictions=no_arrays.npz", "--benchmarks=imagenet2012"],
       "no_arrays.npz"),
      ("folder that is not a run", ["--predictions=not_a_run"], "not_a_run"),
      # --report
      ("empty results file", ["--report=empty.json"], "empty.json"),
      ("results lacking fields", ["--report=list.json"], "list.json"),
      ("report of a folder", ["--report=empty_folder"], "empty_folder"),
      # --compare
      ("compare folders that are not runs", ["--compare=not_a_run,empty_folder"], "not_a_run"),
      ("compare one run", ["--compare=not_a_run"], "--compare"),
      # --audit
      ("audit of missing folders", ["--audit=no_such_a,no_such_b", "--output_dir=audit"],
       "no_such_a"),
      ("audit of one source", ["--audit=imagenet_v2/top-images"],
       "--audit wants TEST_SOURCE,REFERENCE_SOURCE"),
      # names, paths and archives that are not there
      ("unknown model", ["--model=resnet_9000"], "unknown model 'resnet_9000'; known models:"),
      ("unknown benchmark", ["--benchmarks=imagenet_z"],
       "unknown benchmark 'imagenet_z'; known: sample"),
      ("missing image folder", ["--image_folder=/nonexistent/dir"],
       "image folder not found: /nonexistent/dir"),
      ("missing predictions file",
       ["--predictions=/nonexistent/p.npz", "--benchmarks=imagenet2012"],
       "predictions file not found: /nonexistent/p.npz"),
      ("predictions without benchmarks", ["--predictions=x.npz"],
       "--predictions needs --benchmarks"),
      ("Keras application without weights", ["--model=resnet50"],
       "needs its ImageNet weights as a local file"),
      ("missing weights file", ["--model=resnet50", "--weights=/nonexistent/w.h5"],
       "resnet50 weights not found"),
      ("missing model file", ["--model=/nonexistent/model.keras"], "model file not found"),
      ("missing manual_dir", ["--benchmarks=imagenet_a", "--manual_dir=/nonexistent"],
       "--manual_dir=/nonexistent: folder not found"),
      # An archive with no published checksum is never downloaded: no network.
      ("archive not in manual_dir", ["--benchmarks=imagenet_o", f"--manual_dir={tmp}"],
       "imagenet-o.tar is needed: download it from https://people.eecs.berkeley.edu/"),
      ("missing results file", ["--report=/nonexistent/results.json"], "results file not found"),
      ("C-bar baseline lacking errors", ["--benchmarks=sample_c_bar",
                                         "--manual_dir=c_bar_baseline"],
       "imagenet_c_bar_baseline.json: no baseline error 'blue_noise_sample'"),
      ("ImageNet-P AlexNet values not JSON", ["--benchmarks=sample_p", "--manual_dir=p_alexnet"],
       "cannot read AlexNet values from p_alexnet/imagenet_p_alexnet.json"),
  ]


def _run(args, env, cwd):
  return subprocess.run([sys.executable, "-m", "tfds_bench.bench_main", *args],
                        capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_every_mode_ends_bad_input_in_one_line(tmp_path, quiet_tf_env):
  corpus = _corpus(tmp_path)
  # Every run gets an empty data_dir of its own: no prepared data of the
  # machine's default one can answer in its place.
  with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
    runs = list(pool.map(
        lambda case: _run([f"--data_dir={tmp_path / 'data'}", *case[1]], quiet_tf_env,
                          tmp_path), corpus))
  failures = []
  for (case, args, named), proc in zip(corpus, runs):
    lines = [l for l in proc.stderr.splitlines() if l.startswith("bench_main: error:")]
    if (proc.returncode != 2 or "Traceback" in proc.stderr or len(lines) != 1
        or named not in lines[0]):
      failures.append(f"{case} {args}: exit {proc.returncode}\n{proc.stderr[-1500:]}")
  assert not failures, "\n\n".join(failures)


def test_a_missing_val_archive_names_the_file_to_put_in_manual_dir(tmp_path):
  (tmp_path / "manual").mkdir()
  (tmp_path / "manual" / "other.txt").write_text("x")
  for manual_dir in (None, tmp_path / "manual"):
    with pytest.raises(errors.MissingArchiveError, match="put ILSVRC2012_img_val.tar"):
      input_pipeline.load_split("imagenet2012", "validation", data_dir=str(tmp_path / "data"),
                                manual_dir=None if manual_dir is None else str(manual_dir))
