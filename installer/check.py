"""`install.py --check`: each part of the installation, one line each, and what to do. Changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from installer.console import InstallError, say
from installer.engine_probe import compute_line, probe_engine
from installer.plugin_files import (
    MANIFEST_NAME,
    config_path,
    entry_rel,
    is_executable,
    plugin_outdated,
    read_manifest,
)
from installer.profiles import NO_PROFILE_MESSAGE


class Findings:
    """Prints 'ok' and 'PROBLEM' lines and counts the problems."""

    def __init__(self) -> None:
        self.problems = 0

    def line(self, ok: bool, text: str) -> None:
        self.problems += 0 if ok else 1
        say("%s %s" % ("ok     " if ok else "PROBLEM", text))


def check_profile(findings: Findings, profile) -> Path | None:
    """Check one profile's installed plug-in; the engine interpreter its config names, if any."""
    plugins_dir = profile.plugins_dir
    entry = plugins_dir / entry_rel(profile.layout)
    if not entry.is_file():
        findings.line(False, "%s: plug-in not installed in %s; run python3 install.py" % (
            profile.label, plugins_dir))
        return None
    executable = is_executable(entry)
    findings.line(executable, "%s: %s %s" % (profile.label, entry, "is executable" if executable
                                             else "is not executable; run python3 install.py to repair"))
    try:
        manifest = read_manifest(plugins_dir, profile.layout)
    except InstallError as error:
        findings.line(False, "%s: %s" % (profile.label, error))
        return None
    if manifest is None:
        findings.line(False, "%s: %s was not installed by install.py (no %s); move it away and run "
                      "install.py" % (profile.label, entry, MANIFEST_NAME))
        return None
    try:
        config = json.loads(config_path(profile).read_text("utf-8"))
    except (OSError, ValueError):
        findings.line(False, "%s: %s missing or unreadable; run python3 install.py" % (
            profile.label, config_path(profile)))
        return None
    stale = plugin_outdated(profile, manifest, config)
    findings.line(not stale, "%s: plug-in files %s" % (
        profile.label, "match this checkout" if not stale else
        "differ from this checkout (%s); run python3 install.py to update" % stale))
    python = Path(config.get("python", ""))
    findings.line(python.is_file(), "%s: engine interpreter %s %s" % (
        profile.label, python, "exists" if python.is_file() else "is missing; run python3 install.py"))
    return python if python.is_file() else None


def check_engine(findings: Findings, python: Path) -> None:
    """The engine's own report on its imports, weights and compute devices."""
    if not python.exists():
        findings.line(False, "engine interpreter %s does not exist; run python3 install.py" % python)
        return
    report = probe_engine(python)
    if "python_error" in report:
        findings.line(False, "engine interpreter %s does not run: %s" % (python, report["python_error"]))
        return
    findings.line("engine" in report, "engine importable with %s: %s" % (
        python, report.get("engine") or report.get("engine_error")))
    if "engine_error" in report:
        return
    if "torch_error" in report:
        findings.line(False, "weights: %s; run python3 install.py to repair the environment" %
                      report["torch_error"])
        return
    # The engine's weights message already says how to repair them.
    findings.line("weights" in report, "weights: %s" % (report.get("weights") or report.get("weights_error")))
    say("info    torch %s; %s" % (report["torch"], compute_line(report)))


def command_check(profiles: list, skipped: list, default_python: Path) -> int:
    findings = Findings()
    for name in skipped:
        say("note    unsupported GIMP profile %s (needs 2.10 or 3.x)" % name)
    if not profiles:
        findings.line(False, NO_PROFILE_MESSAGE)
    pythons = []
    for profile in profiles:
        python = check_profile(findings, profile)
        if python is not None and python not in pythons:
            pythons.append(python)
    for python in pythons or [default_python]:
        check_engine(findings, python)
    problems = findings.problems
    say("No problems found." if not problems else "%d problem%s found; each line above says what to do." % (
        problems, "" if problems == 1 else "s"))
    return 0 if not problems else 1
