"""Running the engine's Python, pip and venv without the caller's Python settings leaking in."""

from __future__ import annotations

import os
import subprocess

from installer.checkout import CHECKOUT


def clean_env() -> dict:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(name, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(command: list, timeout: float | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    """Run command in the checkout; capture: stdout and stderr together as text, else shown live."""
    return subprocess.run([str(part) for part in command], cwd=str(CHECKOUT), env=clean_env(),
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None,
                          text=True, timeout=timeout)
