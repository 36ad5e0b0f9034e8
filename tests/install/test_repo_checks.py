"""CI runs exactly the README's quick start, and the code is ruff clean."""

from __future__ import annotations

import re
import subprocess
import sys

from install_helpers import REPO


def commands(lines: list) -> list:
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_ci_runs_exactly_the_readme_quick_start() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    readme_commands = commands(block.splitlines())
    assert len(readme_commands) == 2
    ci = commands((REPO / ".ci/run").read_text().splitlines())
    assert ci[:2] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."']
    assert ci[2:] == readme_commands


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(REPO)], cwd=str(REPO),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout
