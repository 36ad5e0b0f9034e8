"""Asking the engine itself whether it works: `python -m core.selfcheck` in its environment.

The engine checks its own imports, weights (with its own loader) and compute devices, and
optionally runs a few steps; this side only runs it, reads its JSON line and words the answer.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from installer.console import InstallError, say, tail
from installer.processes import run

PROBE_TIMEOUT = 300
SMOKE_TEST_TIMEOUT = 600


def selfcheck_command(python: Path, smoke_test: bool) -> list:
    return [python, "-m", "core.selfcheck"] + (["--smoke-test"] if smoke_test else [])


def probe_engine(python: Path, smoke_test: bool = False) -> dict:
    """The engine's report (see core/selfcheck.py), or {"python_error": ...} when it gave none."""
    command = selfcheck_command(python, smoke_test)
    try:
        result = run(command, timeout=SMOKE_TEST_TIMEOUT if smoke_test else PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        if smoke_test:
            raise InstallError("The engine's test run did not finish in 10 minutes. Run `%s` by hand "
                               "to see where it hangs." % " ".join(map(str, command)))
        return {"python_error": "`%s` did not finish in %d s" % (" ".join(map(str, command)), PROBE_TIMEOUT)}
    except (OSError, subprocess.SubprocessError) as error:
        return {"python_error": str(error)}
    lines = (result.stdout or "").strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        report = None
    return report if isinstance(report, dict) else {"python_error": tail(result.stdout)}


def compute_line(report: dict) -> str:
    if report.get("cuda"):
        return "CUDA GPU available (%s)" % report.get("cuda_device", "?")
    if report.get("mps"):
        return "Apple GPU (MPS) available"
    return "no GPU found; the engine will use the CPU (slower: see the README's Speed section)"


def verify_engine(python: Path) -> None:
    """Weights, compute devices and a short test run, or InstallError saying what failed."""
    report = probe_engine(python, smoke_test=True)
    problem = (report.get("python_error") or report.get("engine_error") or report.get("torch_error")
               or report.get("weights_error"))
    if problem:
        raise InstallError("The engine environment is not usable: %s\nRun `python3 install.py "
                           "--check` for a diagnosis." % problem)
    say("Weights: %s" % report["weights"])
    say("Compute: %s" % compute_line(report))
    if "smoke_test_error" in report:
        raise InstallError(
            "The engine's test run failed:\n%s\nRun `python3 install.py --check` for a diagnosis; "
            "if the engine's files are missing or old, update the checkout (git pull) and run "
            "install.py again." % tail(report["smoke_test_error"]))
    smoke = report["smoke_test"]
    say("Engine: test run OK (%d steps on a %dx%d image, %.1f s)" % (
        smoke["steps"], smoke["width"], smoke["height"], smoke["seconds"]))
