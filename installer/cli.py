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
from installer.engine_config import checked_server_url, checked_token_file, local_config, server_config
from installer.engine_env import ensure_venv, install_packages, python_works, remove_venv, venv_python
from installer.engine_probe import verify_engine
from installer.engine_service import DEFAULT_PORT, install_service, remove_service, server_url, token_path
from installer.flatpak import FLATPAK_NAME, flatpak_gimp_installed, native_gimp3
from installer.plugin_files import install_everywhere, recorded_service_files, uninstall_plugin
from installer.profiles import NO_PROFILE_MESSAGE, Profile, current_platform, find_profiles
from installer.server_probe import probe_server


def flatpak_found(args: argparse.Namespace) -> bool:
    """Flathub's GIMP is installed here (only looked for when the profiles are looked for)."""
    platform = args.platform or current_platform()
    return not args.gimp_dir and platform == "linux" and flatpak_gimp_installed(Path.home())


def chosen_profiles(args: argparse.Namespace, flatpak: bool) -> tuple:
    """(profiles to work on, names of unsupported profiles skipped)."""
    if args.gimp_dir:
        return [Profile("--gimp-dir (GIMP %s)" % args.gimp_version, args.gimp_version,
                        Path(d).expanduser().absolute()) for d in args.gimp_dir], []
    platform = args.platform or current_platform()
    return find_profiles(platform, dict(os.environ), Path.home(), flatpak)


def engine_python(args: argparse.Namespace) -> Path:
    if args.python:
        return Path(args.python).expanduser().absolute()
    return venv_python(Path(args.venv).expanduser().absolute())


def prepare_local_engine(args: argparse.Namespace) -> Path:
    """The engine's Python on this machine, made and checked unless --plugin-only."""
    python = engine_python(args)
    if args.plugin_only:
        if not python.exists():
            say("Note: engine interpreter %s does not exist yet; run install.py without "
                "--plugin-only to create it." % python)
        return python
    if args.python:
        say("Engine environment: using %s as given (install.py installs nothing into it)" % python)
        if not python_works(python):
            raise InstallError("%s does not run. Pass --python with a working Python that has the "
                               "engine's packages, or leave --python out to let install.py make one."
                               % python)
    else:
        python = ensure_venv(Path(args.venv).expanduser().absolute())
        install_packages(python)
    verify_engine(python)
    return python


def say_flatpak(profiles: list, use_service: bool, local: bool) -> None:
    sandboxed = [profile for profile in profiles if profile.sandboxed]
    say("Found GIMP from Flathub (%s). It runs plug-ins in a sandbox with its own /usr, where the "
        "engine's Python from this machine cannot run; %s." % (
            FLATPAK_NAME, "the plug-in uses an engine server on this machine instead" if use_service else
            "with --local it cannot run the engine (leave --local out, or use --server)" if local else
            "the plug-in uses the server given with --server"))
    native = native_gimp3()
    shared = [profile.label for profile in sandboxed if ".var" not in profile.plugins_dir.parts]
    if native and shared:
        say("%s: the same profile folder is used by the GIMP 3 at %s; both use %s." % (
            ", ".join(shared), native, "the engine server" if not local else "the local engine"))


def command_install(args: argparse.Namespace) -> int:
    flatpak = flatpak_found(args)
    profiles, skipped = chosen_profiles(args, flatpak)
    url = checked_server_url(args.server) if args.server else None
    token_file = checked_token_file(args.token_file) if args.token_file else None
    use_service = url is None and not args.local and any(profile.sandboxed for profile in profiles)
    for name in skipped:
        say("Skipping unsupported GIMP profile %s: this plug-in needs GIMP 2.10 or 3.x" % name)
    if flatpak or any(profile.sandboxed for profile in profiles):
        say_flatpak(profiles, use_service, args.local)

    if url is None:
        python = prepare_local_engine(args)
    else:
        python = engine_python(args)
        say("Engine: the server at %s (%s); nothing is installed or run on this machine for it." % (
            url, "token file %s" % token_file if token_file else "no token"))

    previous = recorded_service_files(profiles)
    service_files = install_service(Path.home(), python, args.port, previous) if use_service else {}
    plans = []
    for profile in profiles:
        if url is not None:
            plans.append((profile, server_config(url, token_file, python if python.exists() else None), {}))
        elif use_service and profile.sandboxed:
            local_server = server_config(server_url(args.port), token_path(Path.home()), python)
            plans.append((profile, local_server, service_files))
        else:
            plans.append((profile, local_config(python), {}))
    failures = install_everywhere(plans) if profiles else []
    if not profiles:
        say(NO_PROFILE_MESSAGE)
    stale = {path: digest for path, digest in previous.items() if path not in service_files}
    if stale:
        remove_service(stale)  # an earlier install's engine server, no longer used

    if url is not None:
        answers, words = probe_server(url, str(token_file) if token_file else None)
        say("Engine server: %s%s" % (words, "" if answers else " (the plug-in is configured anyway; "
                                                                "`python3 install.py --check` asks again)"))
    elif not (args.plugin_only or args.no_demo):
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
    profiles, _ = chosen_profiles(args, flatpak_found(args))
    service_files = recorded_service_files(profiles)
    removed = 0
    for profile in profiles:
        message = uninstall_plugin(profile)
        if message:
            say("%s: %s" % (profile.label, message))
            removed += 1
    if not removed:
        say("The plug-in is not installed in any GIMP profile found%s." % (
            "" if profiles else " (none found)"))
    remove_service(service_files)
    if not (args.plugin_only or args.python):
        remove_venv(Path(args.venv).expanduser().absolute())
    return 0


def port_number(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 1 to 65535")
    return port


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Install Neural Style for GIMP: the engine environment, the plug-in in every "
                    "GIMP profile found, and an example result.")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true",
                      help="print a diagnosis (which engine the plug-in uses and whether it answers) and "
                           "change nothing")
    what.add_argument("--uninstall", action="store_true",
                      help="remove the plug-in files install.py put in place, the engine server's units, "
                           "and the engine environment if install.py created it")
    parser.add_argument("--venv", default=str(CHECKOUT / ".venv"),
                        help="where the engine environment lives (default: .venv in this checkout)")
    parser.add_argument("--python", metavar="PATH",
                        help="use this existing Python (with the engine's packages) instead of making a "
                             "virtual environment; nothing is installed into it")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--server", metavar="URL",
                        help="use the engine server (neural-style serve) at URL, e.g. "
                             "https://gpu-box:8765, instead of an engine on this machine")
    engine.add_argument("--local", action="store_true",
                        help="use the engine process on this machine (the default, except for a Flatpak "
                             "GIMP, which gets an engine server on this machine)")
    parser.add_argument("--token-file", metavar="FILE",
                        help="with --server: the server's token file, copied to this machine (its path "
                             "is recorded, never the token)")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                        help="port of the engine server set up for a Flatpak GIMP (default %d)"
                             % DEFAULT_PORT)
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
    args = parser.parse_args(argv)
    if args.token_file and not args.server:
        parser.error("--token-file goes with --server URL")
    return args


def main(argv: list | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.check:
            flatpak = flatpak_found(args)
            profiles, skipped = chosen_profiles(args, flatpak)
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
