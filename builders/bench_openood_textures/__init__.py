"""TFDS builder `bench_openood_textures`: OpenOOD v1.5's Textures OOD set."""
