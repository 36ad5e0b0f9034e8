"""`install.py --check`: each part of the installation, one line each, and what to do. Changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from installer.console import InstallError, say
from installer.engine_config import describe_engine, engine_of
from installer.engine_probe import compute_line, probe_engine
from installer.engine_service import SERVICE_NAME
from installer.plugin_files import (
    MANIFEST_NAME,
    config_path,
    entry_rel,
    is_executable,
    plugin_outdated,
    read_manifest,
)
from installer.profiles import NO_PROFILE_MESSAGE
from installer.server_probe import probe_server


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
    engine = engine_of(config)
    if engine.get("kind") == "server":
        return check_server(findings, profile, config, manifest)
    say("info    %s: engine: %s" % (profile.label, describe_engine(config)))
    if profile.sandboxed:
        findings.line(False, "%s: the plug-in is set to start the engine's Python on this machine, which "
                      "cannot run in the Flatpak sandbox; run python3 install.py (without --local) to set "
                      "up the engine server" % profile.label)
    python = Path(config.get("python", ""))
    findings.line(python.is_file(), "%s: engine interpreter %s %s" % (
        profile.label, python, "exists" if python.is_file() else "is missing; run python3 install.py"))
    return python if python.is_file() else None


def check_server(findings: Findings, profile, config: dict, manifest: dict) -> Path | None:
    """A server engine: its units (when install.py set it up here) and whether it answers.

    Returns the engine interpreter a server set up on this machine runs, if any.
    """
    engine = engine_of(config)
    say("info    %s: engine: %s" % (profile.label, describe_engine(config)))
    service_files = manifest.get("service_files") or {}
    for path in sorted(service_files):
        findings.line(Path(path).is_file(), "%s: engine server file %s %s" % (
            profile.label, path, "exists" if Path(path).is_file() else "is missing; run python3 install.py"))
    answers, words = probe_server(str(engine.get("url")), engine.get("token_file"))
    hint = ""
    if not answers and service_files:
        hint = ("; start it with `systemctl --user start %s.socket`, or by hand as install.py said "
                "where there is no systemd" % SERVICE_NAME)
    findings.line(answers, "%s: engine server %s%s" % (profile.label, words, hint))
    python = Path(config.get("python", "")) if service_files and config.get("python") else None
    return python if python is not None and python.is_file() else None


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


def profile_uses_server(profile) -> bool:
    try:
        config = json.loads(config_path(profile).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return engine_of(config).get("kind") == "server"


def command_check(profiles: list, skipped: list, default_python: Path) -> int:
    findings = Findings()
    for name in skipped:
        say("note    unsupported GIMP profile %s (needs 2.10 or 3.x)" % name)
    if not profiles:
        findings.line(False, NO_PROFILE_MESSAGE)
    pythons, remote_only = [], bool(profiles)
    for profile in profiles:
        python = check_profile(findings, profile)
        remote_only = remote_only and python is None and profile_uses_server(profile)
        if python is not None and python not in pythons:
            pythons.append(python)
    # Every profile uses a server elsewhere: no engine on this machine to check.
    for python in pythons or ([] if remote_only else [default_python]):
        check_engine(findings, python)
    problems = findings.problems
    say("No problems found." if not problems else "%d problem%s found; each line above says what to do." % (
        problems, "" if problems == 1 else "s"))
    return 0 if not problems else 1
