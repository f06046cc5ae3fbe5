"""TFDS builder `bench_openood_ninco`: OpenOOD v1.5's NINCO OOD set."""
