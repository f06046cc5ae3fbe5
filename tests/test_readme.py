"""The README's two set-up commands are exactly what CI runs."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_setup_commands():
  text = (ROOT / "README.md").read_text()
  section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
  return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands():
  commands = _readme_setup_commands()
  assert len(commands) == 2
  assert "bench_main --model=efficientnet" in commands[0]
  assert "pytest" in commands[1]


def test_ci_runs_the_readme_commands_verbatim():
  ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
  for command in _readme_setup_commands():
    assert command in ci_lines
