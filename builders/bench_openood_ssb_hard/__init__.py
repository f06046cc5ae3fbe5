"""TFDS builder `bench_openood_ssb_hard`: OpenOOD v1.5's SSB-hard OOD set."""
