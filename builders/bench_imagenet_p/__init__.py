"""TFDS builder `bench_imagenet_p`: ImageNet-P frames, released or generated."""
