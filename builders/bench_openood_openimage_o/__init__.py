"""TFDS builder `bench_openood_openimage_o`: OpenOOD v1.5's OpenImage-O OOD set."""
