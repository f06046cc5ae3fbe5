"""TFDS builder `bench_openood_inaturalist`: OpenOOD v1.5's iNaturalist OOD set."""
