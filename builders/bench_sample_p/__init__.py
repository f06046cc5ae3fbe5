"""TFDS builder `bench_sample_p`: ImageNet-P sequences of the sample photos."""
