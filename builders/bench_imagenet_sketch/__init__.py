"""TFDS builder `bench_imagenet_sketch`: ImageNet-Sketch, released zip."""
