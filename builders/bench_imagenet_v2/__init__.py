"""TFDS builder `bench_imagenet_v2`: ImageNetV2, 3 variants."""
