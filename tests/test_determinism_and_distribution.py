"""MirroredStrategy on two logical CPUs gives exactly the counts of a single
device (the same command twice giving identical results is
tests/test_bench_main.py)."""


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
