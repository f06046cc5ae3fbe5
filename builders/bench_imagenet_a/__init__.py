"""TFDS builder `bench_imagenet_a`: ImageNet-A from the released archive."""
