"""Shared fixtures: a prepared sample suite, the default model, photo folders."""

import os
import pathlib

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tfds_data_dir(tmp_path_factory) -> str:
  """A TFDS data_dir private to the test session (never ~/tensorflow_datasets)."""
  return str(tmp_path_factory.mktemp("tensorflow_datasets"))


@pytest.fixture(scope="session")
def lite0_model():
  from tfds_bench import models
  return models.load_model("efficientnet")


def write_jpeg(path: pathlib.Path, image: np.ndarray, quality: int = 95) -> None:
  from PIL import Image
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(image).save(path, format="JPEG", quality=quality)


@pytest.fixture(scope="session")
def cat_and_coffee_folder(tmp_path_factory) -> str:
  """scikit-image's chelsea under n02123159 (tiger cat), coffee under n07920052 (espresso)."""
  import skimage.data
  root = tmp_path_factory.mktemp("image_folder")
  write_jpeg(root / "n02123159" / "chelsea.JPEG", skimage.data.chelsea())
  write_jpeg(root / "n07920052" / "coffee.JPEG", skimage.data.coffee())
  return str(root)


@pytest.fixture
def quiet_tf_env() -> dict:
  """Environment for bench_main subprocesses."""
  env = dict(os.environ)
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  return env
