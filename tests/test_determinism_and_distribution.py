"""The same evaluation twice gives identical results; MirroredStrategy on two
logical CPUs gives exactly the counts of a single device."""

import json
import subprocess
import sys


def test_same_command_twice_gives_byte_identical_results_minus_timestamps(tmp_path,
                                                                           quiet_tf_env):
  outputs = []
  for run in ("first_run", "second_run"):
    proc = subprocess.run(
        [sys.executable, "-m", "tfds_bench.bench_main", f"--data_dir={tmp_path / 'tfds'}",
         f"--output_dir={tmp_path / run}", "--progress=false", "--batch_size=3"],
        capture_output=True, text=True, env=quiet_tf_env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads((tmp_path / run / "results.json").read_text())
    payload["provenance"].pop("date")
    payload["provenance"]["command"] = payload["provenance"]["command"].replace(
        str(tmp_path / run), "OUTPUT_DIR")
    outputs.append((json.dumps(payload, sort_keys=True),
                    (tmp_path / run / "results.csv").read_bytes()))
  assert outputs[0] == outputs[1]


_DISTRIBUTED_SCRIPT = """
    import numpy as np
    from tfds_bench import evaluate, input_pipeline, models
    data_dir = sys.argv[1]
    spec = models.get("efficientnet")
    model = spec.build(None)
    dataset = input_pipeline.load_split("bench_sample", "test", data_dir=data_dir)
    single = evaluate.predict_source(dataset, model, spec, batch_size=4)
    with strategy.scope():
      mirrored_model = spec.build(None)
    mirrored = evaluate.predict_source(dataset, mirrored_model, spec, batch_size=4,
                                       strategy=strategy)
    run = evaluate.evaluate("efficientnet", ["sample"], batch_size=4, strategy=strategy,
                            data=evaluate.DataOptions(data_dir=data_dir))
    report({
        "single_names": single.file_name.tolist(), "mirrored_names": mirrored.file_name.tolist(),
        "single_top5": single.top5.tolist(), "mirrored_top5": mirrored.top5.tolist(),
        "confidence_diff": float(np.abs(single.confidence - mirrored.confidence).max()),
        "results": [[r.metric, r.value, r.n] for r in run.results]})
"""


def test_mirrored_strategy_on_two_devices_equals_single_device(tmp_path, run_on_two_cpus):
  # The strategy runs in a fresh interpreter (conftest's `run_on_two_cpus`).
  out = run_on_two_cpus(_DISTRIBUTED_SCRIPT, tmp_path / "tfds")
  assert out["replicas"] == 2
  # 7 images in batches of 4: the padded last batch is split across replicas.
  assert out["single_names"] == out["mirrored_names"] and len(out["single_names"]) == 7
  assert out["single_top5"] == out["mirrored_top5"]
  assert out["confidence_diff"] < 1e-5
  results = {metric: (value, n) for metric, value, n in out["results"]}
  assert results["top1"][1] == 7 and results["real_top1"][1] == 7
