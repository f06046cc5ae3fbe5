"""TFDS builder `bench_imagenet_c_bar`: ImageNet-C-bar, released or generated."""
