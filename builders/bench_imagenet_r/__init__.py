"""TFDS builder `bench_imagenet_r`: ImageNet-R from the released archive."""
