"""TFDS builder `bench_model_vs_human`: the 17 model-vs-human datasets, release tarballs."""
