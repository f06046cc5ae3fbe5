"""Scorers: one benchmark's predictions -> its figures (`Result` rows).

A scorer is ``score(predictions, context) -> List[Result]``: one
`tfds_bench.predictions.Predictions` per source of its benchmark row, in the
row's order, and a `ScoringContext`. Scorers use the metric definitions of
`tfds_bench.metrics` and never load TensorFlow, so saved predictions are
scored without it (docs/architecture.md).

* `classification`: accuracy, calibration, ReaL, multi-label, the 200-class
  subsets (ImageNet-A/-R) and ImageNet-O.
* `imagenet_c`: per-corruption error, mCE and relative mCE.
* `imagenet_p`: flip probability and top-5 distance per perturbation, mFP, mT5D.
"""
