"""The engine server on this machine for a sandboxed (Flatpak) GIMP: systemd user units.

A systemd user socket unit listens on 127.0.0.1:PORT and starts the service, the engine's
`python -m core serve`, on the first connection (socket activation); the server leaves
after IDLE_EXIT seconds without a job, freeing its memory, and the next job starts it
again. It asks for a token (kept in TOKEN_FILE, readable by the user only): other users
of the machine can reach 127.0.0.1 too. Where there is no systemd user manager, install.py
says so and prints the command to start the server by hand.

The files written here are listed in the plug-in's manifest, so --uninstall removes them.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path

from installer.checkout import CHECKOUT
from installer.console import InstallError, say

SERVICE_NAME = "neural-style-engine"
DEFAULT_PORT = 8765
IDLE_EXIT = 600  # seconds
TOKEN_NAME = "local-server-token"


def config_home(home: Path) -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")


def unit_dir(home: Path) -> Path:
    return config_home(home) / "systemd" / "user"


def token_path(home: Path) -> Path:
    return config_home(home) / "neural-style" / TOKEN_NAME


def server_url(port: int) -> str:
    return "http://127.0.0.1:%d" % port


def serve_arguments(python: Path, token_file: Path) -> list:
    return [str(python), "-m", "core", "serve", "--require-token", "--token-file", str(token_file)]


def manual_command(python: Path, token_file: Path, port: int) -> str:
    """What to run where no systemd starts the server (a login script, a terminal)."""
    command = serve_arguments(python, token_file) + ["--host", "127.0.0.1", "--port", str(port)]
    return "cd %s && %s" % (shlex.quote(str(CHECKOUT)), " ".join(shlex.quote(part) for part in command))


def unit_word(text: str) -> str:
    """One word of a unit file's command line, quoted as systemd reads it (systemd.service(5))."""
    text = text.replace("%", "%%").replace("$", "$$")
    if text and re.match(r"^[A-Za-z0-9_@%+=:,./-]+$", text):
        return text
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def unit_texts(python: Path, token_file: Path, port: int) -> dict:
    """{file name: text} of the socket and service units."""
    socket_unit = (
        "[Unit]\n"
        "Description=Neural Style for GIMP: engine server socket (starts the server on first use)\n"
        "\n[Socket]\n"
        "ListenStream=127.0.0.1:%d\n"
        "\n[Install]\n"
        "WantedBy=sockets.target\n" % port)
    command = serve_arguments(python, token_file) + ["--exit-when-idle", str(IDLE_EXIT)]
    service_unit = (
        "[Unit]\n"
        "Description=Neural Style for GIMP: engine server (written by install.py in %s)\n"
        "Documentation=file://%s\n"
        "Requires=%s.socket\n"
        "\n[Service]\n"
        "Type=simple\n"
        "WorkingDirectory=%s\n"
        "ExecStart=%s\n" % (CHECKOUT, CHECKOUT / "docs" / "server.md", SERVICE_NAME, unit_word(str(CHECKOUT)),
                            " ".join(unit_word(word) for word in command)))
    return {SERVICE_NAME + ".socket": socket_unit, SERVICE_NAME + ".service": service_unit}


FOLDER = "folder"  # the manifest's mark of a folder install.py made (removed when empty)


def make_folders(folder: Path, made: dict, mode: int = 0o755) -> None:
    """mkdir -p folder, noting each folder it makes in made."""
    missing = [path for path in [folder, *folder.parents] if not path.exists()]
    for path in sorted(missing, key=lambda p: len(p.parts)):
        path.mkdir(mode=mode)
        made[str(path)] = FOLDER


def ensure_token(path: Path, made: dict) -> bool:
    """Make the token file (readable by the user only) unless it exists; True when made."""
    if path.exists():
        return False
    make_folders(path.parent, made, 0o700)
    # O_EXCL: never write through a link someone else put there.
    handle = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(handle, "w") as stream:
        stream.write(secrets.token_urlsafe(32) + "\n")
    return True


def systemctl(*arguments: str) -> subprocess.CompletedProcess | None:
    """`systemctl --user ARGUMENTS`, or None when there is no systemctl."""
    program = shutil.which("systemctl")
    if not program:
        return None
    try:
        return subprocess.run([program, "--user", *arguments], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None


def user_systemd() -> bool:
    """Whether a systemd user manager answers (it does not in containers, WSL1, ...)."""
    result = systemctl("show-environment")
    return result is not None and result.returncode == 0


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def install_service(home: Path, python: Path, port: int, recorded: dict) -> dict:
    """Write the units and the token, start the socket; {path: sha256} of the files for the manifest.

    recorded: the files an earlier install listed, which it may overwrite.
    """
    token_file = token_path(home)
    # Folders an earlier run made stay listed, so --uninstall still removes them.
    written = {path: mark for path, mark in recorded.items() if mark == FOLDER}
    made_token = ensure_token(token_file, written)
    folder = unit_dir(home)
    changed = False
    for name, text in unit_texts(python, token_file, port).items():
        path = folder / name
        if path.exists() and str(path) not in recorded:
            raise InstallError("%s exists and was not written by install.py. Move it away and run "
                               "install.py again." % path)
        if not (path.is_file() and path.read_text("utf-8") == text):
            make_folders(folder, written)
            path.write_text(text, "utf-8")
            changed = True
        written[str(path)] = digest(text)
    if made_token or str(token_file) in recorded:
        written[str(token_file)] = None  # a secret: removed on uninstall, never hashed
    say("Engine server: %s, started on first use by systemd user units in %s (token in %s)" % (
        server_url(port), folder, token_file))
    start_socket(python, token_file, port, changed)
    return written


def start_socket(python: Path, token_file: Path, port: int, changed: bool) -> None:
    name = SERVICE_NAME + ".socket"
    if not user_systemd():
        say("Engine server: no systemd user manager answers here (`systemctl --user` does not work), so "
            "nothing starts the server on its own. Start it yourself before using the plug-in, for example "
            "from your login script:\n    %s &" % manual_command(python, token_file, port))
        return
    steps = [("daemon-reload",), ("enable", "--now", name)]
    if changed:  # a running server keeps its old command line until it is restarted
        steps.append(("try-restart", SERVICE_NAME + ".service"))
    for step in steps:
        result = systemctl(*step)
        if result is None or result.returncode != 0:
            raise InstallError("`systemctl --user %s` failed:\n    %s\nFix that and run install.py again, "
                               "or start the server by hand:\n    %s" % (
                                   " ".join(step), (result.stdout.strip() if result else "no systemctl"),
                                   manual_command(python, token_file, port)))
    say("Engine server: systemd listens on 127.0.0.1:%d (systemctl --user status %s)" % (port, name))


def remove_service(files: dict) -> None:
    """Stop the socket and server and remove the files an install listed (those still there)."""
    present = [Path(path) for path, mark in files.items() if mark != FOLDER and Path(path).exists()]
    folders = sorted((Path(path) for path, mark in files.items() if mark == FOLDER),
                     key=lambda p: -len(p.parts))
    if any(path.suffix in (".socket", ".service") for path in present) and user_systemd():
        systemctl("disable", "--now", SERVICE_NAME + ".socket")
        systemctl("stop", SERVICE_NAME + ".service")
    for path in present:
        expected = files[str(path)]
        if expected is not None and digest(path.read_text("utf-8", errors="replace")) != expected:
            say("Engine server: %s was changed since install.py wrote it; left in place." % path)
            continue
        path.unlink()
        say("Engine server: removed %s" % path)
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    if present and user_systemd():
        systemctl("daemon-reload")
