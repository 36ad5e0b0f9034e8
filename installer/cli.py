"""install.py's options and its three commands: install (the default), --uninstall and --check."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from installer.check import command_check
from installer.checkout import CHECKOUT
from installer.console import InstallError, say
from installer.demo import run_demo
from installer.engine_env import ensure_venv, install_packages, python_works, remove_venv, venv_python
from installer.engine_probe import verify_engine
from installer.plugin_files import install_everywhere, uninstall_plugin
from installer.profiles import NO_PROFILE_MESSAGE, Profile, current_platform, find_profiles


def chosen_profiles(args: argparse.Namespace) -> tuple:
    """(profiles to work on, names of unsupported profiles skipped)."""
    if args.gimp_dir:
        return [Profile("--gimp-dir (GIMP %s)" % args.gimp_version, args.gimp_version,
                        Path(d).expanduser().absolute()) for d in args.gimp_dir], []
    platform = args.platform or current_platform()
    return find_profiles(platform, dict(os.environ), Path.home())


def engine_python(args: argparse.Namespace) -> Path:
    if args.python:
        return Path(args.python).expanduser().absolute()
    return venv_python(Path(args.venv).expanduser().absolute())


def command_install(args: argparse.Namespace) -> int:
    profiles, skipped = chosen_profiles(args)
    python = engine_python(args)
    for name in skipped:
        say("Skipping unsupported GIMP profile %s: this plug-in needs GIMP 2.10 or 3.x" % name)
    if args.plugin_only:
        if not python.exists():
            say("Note: engine interpreter %s does not exist yet; run install.py without "
                "--plugin-only to create it." % python)
    elif args.python:
        say("Engine environment: using %s as given (install.py installs nothing into it)" % python)
        if not python_works(python):
            raise InstallError("%s does not run. Pass --python with a working Python that has the "
                               "engine's packages, or leave --python out to let install.py make one."
                               % python)
    else:
        python = ensure_venv(Path(args.venv).expanduser().absolute())
        install_packages(python)
    if not args.plugin_only:
        verify_engine(python)

    failures = []
    if profiles:
        failures = install_everywhere(profiles, python)
    else:
        say(NO_PROFILE_MESSAGE)

    if not (args.plugin_only or args.no_demo):
        result = run_demo(python)
        say("Look at the result: %s" % result)
    if profiles and len(failures) < len(profiles):
        say("In GIMP (restart it if it is running): open a photo and a painting, select the photo's "
            "layer, choose Filters > Artistic > Neural Style Transfer..., pick the painting as the "
            "style layer and press OK.")
    if failures:
        say("Not installed into: %s (see the reason above)." % ", ".join(failures))
        return 1
    return 0


def command_uninstall(args: argparse.Namespace) -> int:
    profiles, _ = chosen_profiles(args)
    removed = 0
    for profile in profiles:
        message = uninstall_plugin(profile)
        if message:
            say("%s: %s" % (profile.label, message))
            removed += 1
    if not removed:
        say("The plug-in is not installed in any GIMP profile found%s." % (
            "" if profiles else " (none found)"))
    if not (args.plugin_only or args.python):
        remove_venv(Path(args.venv).expanduser().absolute())
    return 0


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Install Neural Style for GIMP: the engine environment, the plug-in in every "
                    "GIMP profile found, and an example result.")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true", help="print a diagnosis and change nothing")
    what.add_argument("--uninstall", action="store_true",
                      help="remove the plug-in files install.py put in place, and the engine environment "
                           "if install.py created it")
    parser.add_argument("--venv", default=str(CHECKOUT / ".venv"),
                        help="where the engine environment lives (default: .venv in this checkout)")
    parser.add_argument("--python", metavar="PATH",
                        help="use this existing Python (with the engine's packages) instead of making a "
                             "virtual environment; nothing is installed into it")
    parser.add_argument("--gimp-dir", action="append", metavar="PLUG-INS-FOLDER",
                        help="install into this plug-ins folder instead of the GIMP profiles found "
                             "(may be repeated)")
    parser.add_argument("--gimp-version", choices=("3", "2.10"), default="3",
                        help="layout for --gimp-dir: 3 (GIMP 3.x, default) or 2.10")
    parser.add_argument("--no-demo", action="store_true", help="skip the example result at the end")
    parser.add_argument("--plugin-only", action="store_true",
                        help="only install (or uninstall) the plug-in files: no environment, no checks, "
                             "no example")
    parser.add_argument("--platform", choices=("linux", "macos", "windows"),
                        help="look for GIMP profiles where this system keeps them (for testing)")
    return parser.parse_args(argv)


def main(argv: list | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.check:
            profiles, skipped = chosen_profiles(args)
            return command_check(profiles, skipped, engine_python(args))
        if args.uninstall:
            return command_uninstall(args)
        return command_install(args)
    except InstallError as error:
        say("Error: %s" % error)
        return 1
    except KeyboardInterrupt:
        say("Interrupted; run install.py again to finish (it picks up where it stopped).")
        return 130
