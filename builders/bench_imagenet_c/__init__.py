"""TFDS builder `bench_imagenet_c`: ImageNet-C, released or generated."""
