"""TFDS builder `bench_objectnet`: ObjectNet 1.0, released password-protected zip."""
