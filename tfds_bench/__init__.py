"""tfds_bench: a TensorFlow-Datasets-native ImageNet robustness benchmark suite."""

__version__ = "0.1.0"
