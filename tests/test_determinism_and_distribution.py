"""MirroredStrategy on two logical CPUs gives exactly the counts of a single
device (the same command twice giving identical results is
tests/test_bench_main.py)."""

import numpy as np
import pytest


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
    single_run = evaluate.evaluate("efficientnet", ["sample"], batch_size=4,
                                   data=evaluate.DataOptions(data_dir=data_dir))
    report({
        "single_names": single.file_name.tolist(), "mirrored_names": mirrored.file_name.tolist(),
        "single_top5": single.top5.tolist(), "mirrored_top5": mirrored.top5.tolist(),
        "single_label": single.label.tolist(),
        "confidence_diff": float(np.abs(single.confidence - mirrored.confidence).max()),
        "results": [[r.metric, r.value, r.n] for r in run.results],
        "single_results": [[r.metric, r.value, r.n] for r in single_run.results]})
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
  # The figures, not only the counts: every metric equals the one-device run's,
  # and top-1 / top-5 equal what the single device's predictions give directly.
  single = {metric: (value, n) for metric, value, n in out["single_results"]}
  assert results.keys() == single.keys()
  for metric, (value, n) in single.items():
    assert results[metric][1] == n, metric
    assert results[metric][0] == pytest.approx(value, rel=0, abs=1e-9), metric
  top5 = np.array(out["single_top5"])
  label = np.array(out["single_label"])
  assert results["top1"][0] == pytest.approx(float(np.mean(top5[:, 0] == label)), abs=1e-12)
  assert results["top5"][0] == pytest.approx(
      float(np.mean((top5 == label[:, None]).any(axis=1))), abs=1e-12)
