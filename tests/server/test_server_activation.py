"""Socket activation (systemd passes the listening socket) and --exit-when-idle.

The socket is made here on 127.0.0.1 and passed as systemd passes it (file descriptor 3,
LISTEN_FDS=1, LISTEN_PID=the server's pid), or by Debian's real systemd-socket-activate
when it is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from server_helpers import ROOT

from core.server.activation import inherited_sockets, is_idle

SERVE = [sys.executable, "-m", "core", "serve", "--no-warm-up"]


def environment(tmp_path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LISTEN_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"), OMP_WAIT_POLICY="PASSIVE")
    return env


def activate(sock: socket.socket, arguments: list, tmp_path) -> subprocess.Popen:
    """Start the server as systemd would: the socket as fd 3, LISTEN_PID set to its own pid."""
    fd = sock.fileno()
    # The pid stays the same across exec; fd 3 is the socket, its original number closed.
    launcher = ("import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); "
                "fd != 3 and os.close(fd); "
                "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); "
                "os.execv(sys.argv[2], sys.argv[2:])")
    return subprocess.Popen([sys.executable, "-c", launcher, str(fd), *SERVE, *arguments], cwd=ROOT,
                            env=environment(tmp_path), pass_fds=(fd,), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def health(port: int, timeout: float = 60) -> dict:
    with urllib.request.urlopen("http://127.0.0.1:%d/v1/health" % port, timeout=timeout) as reply:
        return json.loads(reply.read())


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def test_serves_on_the_socket_it_was_given_and_leaves_when_idle(tmp_path) -> None:
    sock = listener()
    port = sock.getsockname()[1]
    try:
        first = activate(sock, ["--port", "1", "--exit-when-idle", "2"], tmp_path)  # --port: ignored
        assert health(port)["protocol"] == 1
        started = time.monotonic()
        first.wait(timeout=30)  # leaves on its own, no signal
        output = first.stdout.read()
        first.stdout.close()
        assert first.returncode == 0, output
        assert time.monotonic() - started < 10
        assert "listening on http://127.0.0.1:%d" % port in output and "socket from systemd" in output
        assert "no job for 2 s: leaving" in output
        # The socket stayed open: a client that connects now waits in its queue, and the
        # next server (systemd starts one on that connection) answers it.
        client = socket.create_connection(("127.0.0.1", port), timeout=60)
        client.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        second = activate(sock, [], tmp_path)
        reply = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            reply += chunk
        client.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        assert b'"protocol": 1' in reply
        stop(second)
    finally:
        sock.close()


def test_the_token_rule_still_holds_on_a_given_socket(tmp_path) -> None:
    sock = listener()
    token = tmp_path / "token"
    token.write_text("t" * 32 + "\n")
    token.chmod(0o600)
    try:
        server = activate(sock, ["--require-token", "--token-file", str(token)], tmp_path)
        port = sock.getsockname()[1]
        with pytest.raises(urllib.error.HTTPError) as refused:
            health(port)
        assert refused.value.code == 401
        request = urllib.request.Request("http://127.0.0.1:%d/v1/health" % port,
                                         headers={"Authorization": "Bearer " + "t" * 32})
        with urllib.request.urlopen(request, timeout=60) as reply:
            assert json.loads(reply.read())["protocol"] == 1
        stop(server)
    finally:
        sock.close()


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"),
                    reason="systemd-socket-activate (Debian's systemd package) is not installed")
def test_real_systemd_socket_activate(tmp_path) -> None:
    with socket.socket() as probe:  # a free port for systemd-socket-activate to bind
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(["systemd-socket-activate", "-l", "127.0.0.1:%d" % port, *SERVE,
                                "--exit-when-idle", "30"], cwd=ROOT, env=environment(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:  # systemd-socket-activate binds first, then starts the server on a connection
            try:
                answer = health(port)
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline and process.poll() is None, process.stdout.read()
                time.sleep(0.2)
        assert answer["protocol"] == 1
    finally:
        output = stop(process)
    assert "socket from systemd" in output, output


def test_listen_variables_meant_for_another_process_are_ignored_and_removed() -> None:
    environ = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x"}
    assert inherited_sockets(environ) == [] and environ == {}
    assert inherited_sockets({}) == []


@pytest.mark.parametrize("state, idle", [
    ({}, True),
    ({"ready": False}, False),  # still warming up
    ({"busy": True}, False),
    ({"waiting": [object()]}, False),
    ({"uploading": 1}, False),
])
def test_idle_means_no_job_running_waiting_or_uploading(state: dict, idle: bool) -> None:
    quiet = {"ready": True, "busy": False, "waiting": [], "uploading": 0}
    scheduler = SimpleNamespace(**dict(quiet, **state))
    assert is_idle(scheduler) is idle
