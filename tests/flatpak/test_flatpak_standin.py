"""Flathub's GIMP after `python3 install.py` alone, in a stand-in sandbox (docs: the notes on
Flatpak, README "Engine server").

The sandbox is what flatpak gives org.gimp.GIMP, built from the cached GIMP 3.2 chroot of
tests/gimp3 (used read-only, through an overlay): another distribution's /usr, the host's
/usr at /run/host/usr, home and /tmp at their real paths, PATH reset, /.flatpak-info.
The host side is install.py with a HOME where the Flatpak GIMP has run; there is no
systemd here, so the test starts the service's ExecStart exactly as systemd would on the
first connection (the socket made from the socket unit, passed as fd 3 with LISTEN_FDS).
Then GIMP 3.2 in the sandbox runs the installed plug-in, which reaches the engine only
through that server (nothing of the checkout or its Python is visible in the sandbox).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gimp3_harness import (
    Unavailable,
    check_host,
    ensure_chroot,
    gimp_binary,
    mounts_under,
    parse_results,
    unavailable,
)
from waiting import free_port

CHECKOUT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = CHECKOUT / ".venv" / "bin" / "python"
ENGINE_PYTHON = Path(os.environ.get("NEURAL_STYLE_ENGINE_PYTHON") or
                     (_VENV_PYTHON if _VENV_PYTHON.exists() else sys.executable))
SANDBOX_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
ARGUMENTS = {"steps": 3, "size": 32, "seed": 7, "preset": "preview", "device": "cpu"}
UNITS = ".config/systemd/user"
NO_SYSTEMCTL = "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n"


def install_py(home: Path, tools: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("XDG_CONFIG_HOME", "GIMP3_DIRECTORY", "PYTHONPATH", "PYTHONHOME")}
    env.update(HOME=str(home), PATH="%s:%s" % (tools, env.get("PATH", "")))
    return subprocess.run([sys.executable, str(CHECKOUT / "install.py"), *args], cwd=str(home), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)


def unit_entries(path: Path, key: str) -> list:
    return [line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith(key + "=")]


def unit_words(text: str) -> list:
    """A unit's command line as systemd splits it (quotes, then %% and $$)."""
    return [word.replace("%%", "%").replace("$$", "$") for word in shlex.split(text)]


def start_as_systemd(home: Path, log: Path) -> tuple:
    """(socket, process): the socket unit's socket, and the service started on it as systemd does."""
    socket_unit = home / UNITS / "neural-style-engine.socket"
    service = home / UNITS / "neural-style-engine.service"
    host, port = unit_entries(socket_unit, "ListenStream")[0].rsplit(":", 1)
    assert host == "127.0.0.1"
    listener = socket.socket()
    listener.bind((host, int(port)))
    listener.listen(16)
    command = unit_words(unit_entries(service, "ExecStart")[0])
    workdir = unit_words(unit_entries(service, "WorkingDirectory")[0])[0]
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for entry in unit_entries(service, "Environment"):
        for word in unit_words(entry):
            key, value = word.split("=", 1)
            env[key] = value
    fd = listener.fileno()
    launcher = ("import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); fd != 3 and os.close(fd); "
                "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); "
                "os.execv(sys.argv[2], sys.argv[2:])")
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-c", launcher, str(fd), *command], cwd=workdir, env=env,
                                   pass_fds=(fd,), stdout=output, stderr=subprocess.STDOUT)
    return listener, process


def sandbox_command(chroot: Path, scratch: Path, home: Path, inner: str) -> list:
    """`inner` in the stand-in sandbox, in private mount and PID namespaces (gone with them)."""
    merged = scratch / "root"
    q = shlex.quote
    steps = [
        "set -e",
        # The cached chroot stays untouched: everything written lands in a tmpfs overlay.
        "mount -t tmpfs tmpfs %s" % q(str(scratch)),
        "mkdir %s %s %s" % (q(str(scratch / "upper")), q(str(scratch / "work")), q(str(merged))),
        "mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s" % (
            q(str(chroot)), q(str(scratch / "upper")), q(str(scratch / "work")), q(str(merged))),
        "mount -t proc proc %s" % q(str(merged / "proc")),
        "mount --bind /tmp %s" % q(str(merged / "tmp")),
        "mkdir -p %s" % q(str(merged / "run/host/usr")),
        "mount --bind /usr %s" % q(str(merged / "run/host/usr")),
        "mount -o remount,bind,ro %s" % q(str(merged / "run/host/usr")),
        "printf '[Application]\\nname=org.gimp.GIMP\\nruntime=runtime/org.gnome.Platform/x86_64/50\\n' > %s"
        % q(str(merged / ".flatpak-info")),
        "exec env -i PATH=%s HOME=%s LANG=C.UTF-8 LC_ALL=C.UTF-8 TMPDIR=%s chroot %s /bin/sh -c %s" % (
            SANDBOX_PATH, q(str(home)), q(str(home / "tmp")), q(str(merged)), q(inner)),
    ]
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
            "/bin/sh", "-c", "; ".join(steps)]


def health(url: str, token_file: str) -> dict:
    import urllib.request

    token = Path(token_file).read_text().strip()
    request = urllib.request.Request(url + "/v1/health", headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def test_flatpak_gimp_makes_a_styled_layer_after_install_py_alone(tmp_path: Path) -> None:
    try:
        check_host()
        chroot = ensure_chroot("3.2")
    except Unavailable as reason:
        unavailable(str(reason))
    if str(tmp_path).split("/")[1] != "tmp":
        pytest.skip("the stand-in shares /tmp with the sandbox; pytest's tmp_path is elsewhere")
    home = tmp_path / "home"
    for rel in (".var/app/org.gimp.GIMP/config/GIMP", ".config/GIMP/3.2", "tmp"):
        (home / rel).mkdir(parents=True)
    tools = tmp_path / "tools"  # this machine has no systemd user manager; say so plainly
    tools.mkdir()
    (tools / "systemctl").write_text(NO_SYSTEMCTL)
    (tools / "systemctl").chmod(0o755)
    port = free_port()

    installed = install_py(home, tools, "--python", str(ENGINE_PYTHON), "--no-demo", "--port", str(port))
    assert installed.returncode == 0, installed.stdout
    assert "GIMP 3.2 (Flatpak org.gimp.GIMP): plug-in installed" in installed.stdout
    assert "no systemd user manager" in installed.stdout
    config_path = home / ".config/GIMP/3.2/plug-ins/neural_style_transfer/neural_style_config.json"
    engine = json.loads(config_path.read_text())["engine"]
    assert engine["kind"] == "server" and engine["url"] == "http://127.0.0.1:%d" % port
    before = install_py(home, tools, "--check")
    assert "PROBLEM" in before.stdout and "connection refused" in before.stdout, before.stdout

    listener, server = start_as_systemd(home, tmp_path / "server.log")
    scratch = tmp_path / "sandbox"
    scratch.mkdir()
    try:
        check = install_py(home, tools, "--check")
        assert re.search(r"(?m)^ok .*GIMP 3\.2 \(Flatpak org\.gimp\.GIMP\): engine server "
                         r"http://127\.0\.0\.1:%d answers" % port, check.stdout), check.stdout

        cases = home / "cases.py"  # the sandbox sees home, not the checkout
        shutil.copy(CHECKOUT / "tests/gimp3/gimp_side/cases.py", cases)
        script = home / "run-cases.py"
        params = {"arguments": ARGUMENTS, "selection": [15, 10, 20, 16], "cases": ["basic"]}
        script.write_text("import json\nPARAMS = json.loads(%r)\nexec(open(%r).read())\n"
                          % (json.dumps(params), str(cases)))
        inner = "%s -idf --batch-interpreter=python-fu-eval -b %s --quit; exit $?" % (
            gimp_binary(chroot, "gimp-console"), shlex.quote("exec(open(%r).read())" % str(script)))
        started = time.monotonic()
        run = subprocess.run(sandbox_command(chroot, scratch, home, inner), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=600)
        output = run.stdout.decode("utf-8", errors="replace")
        report = "GIMP in the sandbox: exit %d after %.0f s:\n%s\nserver log:\n%s" % (
            run.returncode, time.monotonic() - started, output,
            (tmp_path / "server.log").read_text(errors="replace"))
        record = parse_results(output).get("basic")
        assert record is not None and record["ok"], report
        data = record["data"]
        assert data["status"] == "success", "the plug-in failed: %r\n%s" % (data.get("message"), report)
        assert data["new_count"] == 1, report
        assert health(engine["url"], engine["token_file"])["accepted"] >= 1, report
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        listener.close()
        assert not mounts_under(scratch), "the sandbox's mounts outlived it"

    removed = install_py(home, tools, "--uninstall", "--python", str(ENGINE_PYTHON))
    assert removed.returncode == 0, removed.stdout
    assert not (home / UNITS / "neural-style-engine.service").exists()
