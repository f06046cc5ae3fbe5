"""TFDS builder `bench_imagenet_o`: ImageNet-O from the released archive."""
