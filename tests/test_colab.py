"""Executes the colab/ notebooks (offline, on the sample suite) with nbclient.

Needs the test extra's nbclient, nbformat and ipykernel; skipped without them.
The kernel runs with this interpreter (``sys.executable``) through a kernelspec
written for the test, so a "python3" kernel installed elsewhere can never be
picked up instead.
"""

import asyncio
import json
import pathlib
import sys
import time

import pytest

nbformat = pytest.importorskip(
    "nbformat", reason="notebook tests need the test extra: pip install nbformat")
nbclient = pytest.importorskip(
    "nbclient", reason="notebook tests need the test extra: pip install nbclient")
pytest.importorskip("ipykernel", reason="notebook tests need the test extra: pip install ipykernel")

COLAB = pathlib.Path(__file__).resolve().parent.parent / "colab"
NOTEBOOKS = ("01_load_benchmarks.ipynb", "02_keras_evaluate.ipynb", "03_compare_models.ipynb",
             "04_published_context.ipynb")
KERNEL_NAME = "tfds-bench-test-python"
CELL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory) -> str:
  """A JUPYTER_PATH with one kernelspec that runs this test's interpreter."""
  root = tmp_path_factory.mktemp("jupyter")
  spec_dir = root / "kernels" / KERNEL_NAME
  spec_dir.mkdir(parents=True)
  (spec_dir / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "tfds_bench test kernel",
      "language": "python",
  }))
  return str(root)


@pytest.fixture(scope="module")
def notebook_data_dir(tmp_path_factory) -> str:
  # One TFDS data_dir for all notebooks: bench_sample is prepared once.
  return str(tmp_path_factory.mktemp("notebook_tensorflow_datasets"))


def load_generator():
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location("make_notebooks", COLAB / "make_notebooks.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_committed_notebooks_match_the_generator():
  generator = load_generator()
  assert sorted(generator.NOTEBOOKS) == sorted(NOTEBOOKS)
  for name, cells in generator.NOTEBOOKS.items():
    committed = (COLAB / name).read_text(encoding="utf-8")
    assert committed == generator.render(cells), (
        f"colab/{name} is out of date: run python colab/make_notebooks.py")
    notebook = nbformat.reads(committed, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), (
        f"colab/{name} is committed with outputs")


@pytest.fixture(scope="module")
def executed(jupyter_path, notebook_data_dir, tmp_path_factory):
  """name -> (the executed notebook, seconds, its error or None).

  The first notebook runs alone (it prepares bench_sample in the shared
  data_dir); the others then run side by side, a kernel process each.
  """
  results = {}

  async def run(name):
    notebook = nbformat.read(str(COLAB / name), as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(tmp_path_factory.mktemp(name.split(".")[0]))}})
    start = time.monotonic()
    error = None
    try:
      await client.async_execute()  # raises CellExecutionError on any cell error
    except Exception as e:  # pylint: disable=broad-except  # re-raised by its test
      error = e
    results[name] = (notebook, time.monotonic() - start, error)

  async def run_all():
    await run(NOTEBOOKS[0])
    await asyncio.gather(*(run(name) for name in NOTEBOOKS[1:]))

  with pytest.MonkeyPatch.context() as env:
    env.setenv("JUPYTER_PATH", jupyter_path)
    env.setenv("TFDS_DATA_DIR", notebook_data_dir)
    env.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    asyncio.run(run_all())
  return results


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, executed, notebook_data_dir):
  notebook, elapsed, error = executed[name]
  if error is not None:
    raise error

  outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
  assert not [o for o in outputs if o.get("output_type") == "error"]
  images = [o for o in outputs if "image/png" in o.get("data", {})]
  assert images, f"{name} displayed no image"
  assert elapsed < 3 * CELL_TIMEOUT_S
  # The notebook used the data_dir it was given, not ~/tensorflow_datasets.
  assert (pathlib.Path(notebook_data_dir) / "bench_sample").is_dir()
  printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
  assert f"TFDS data_dir: {notebook_data_dir}" in printed
