"""install.py with Flathub's GIMP, with a remote engine server (--server), and --check's engine line.

`flatpak` and `systemctl` are the stand-ins of install_helpers (never the machine's own);
servers the tests talk to listen on 127.0.0.1 only.
"""

from __future__ import annotations

import http.server
import json
import os
import shlex
import socket
import threading
from pathlib import Path

import pytest
from install_helpers import make_checkout, run_install, snapshot
from waiting import free_port

from installer.server_probe import probe_server

ENGINE_PYTHON = "/opt/neural-style/.venv/bin/python"
UNITS = ".config/systemd/user"
TOKEN = ".config/neural-style/local-server-token"
PORT = 18765  # only written into units and configs here; nothing listens on it


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_checkout(tmp_path / "checkout")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME where Flathub's GIMP 3.2 has run (its data folder and its ~/.config profile),
    beside a distribution's GIMP 2.10 profile."""
    home = tmp_path / "home"
    for rel in (".config/GIMP/3.2", ".config/GIMP/2.10", ".var/app/org.gimp.GIMP/config/GIMP"):
        (home / rel).mkdir(parents=True)
    return home


def install(checkout: Path, home: Path, *args: str, env: dict | None = None):
    return run_install(checkout, home, "--plugin-only", "--python", ENGINE_PYTHON, "--port", str(PORT),
                       *args, env=env)


def config_of(home: Path, version: str) -> dict:
    folder = "neural_style_transfer" if version.startswith("3") else "neural_style_transfer_support"
    return json.loads((home / ".config/GIMP" / version / "plug-ins" / folder /
                       "neural_style_config.json").read_text())


def exec_start(home: Path) -> list:
    """The service's command line, read as systemd reads it (quotes, %% and $$)."""
    text = (home / UNITS / "neural-style-engine.service").read_text()
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return [word.replace("%%", "%").replace("$$", "$") for word in shlex.split(line[len("ExecStart="):])]


def test_flatpak_gimp_gets_a_socket_activated_engine_server(checkout: Path, home: Path) -> None:
    before = snapshot(home)
    result = install(checkout, home)
    assert result.returncode == 0, result.stdout
    assert "GIMP 3.2 (Flatpak org.gimp.GIMP): plug-in installed" in result.stdout
    assert "Found GIMP from Flathub" in result.stdout
    # The Flatpak's profile talks to the server; the 2.10 profile keeps the local engine.
    token = home / TOKEN
    assert config_of(home, "3.2") == {
        "version": 2, "python": ENGINE_PYTHON, "engine_root": str(checkout),
        "engine": {"kind": "server", "url": "http://127.0.0.1:%d" % PORT, "token_file": str(token)}}
    assert config_of(home, "2.10")["engine"] == {"kind": "local"}
    assert oct(token.stat().st_mode & 0o777) == "0o600" and len(token.read_text().strip()) >= 32
    assert token.read_text().strip() not in json.dumps(config_of(home, "3.2"))
    socket_unit = (home / UNITS / "neural-style-engine.socket").read_text()
    assert "ListenStream=127.0.0.1:%d\n" % PORT in socket_unit
    assert "WantedBy=sockets.target" in socket_unit
    assert exec_start(home) == [ENGINE_PYTHON, "-m", "core", "serve", "--require-token", "--token-file",
                                str(token), "--exit-when-idle", "600"]
    # No systemd user manager here: said plainly, with the command to run by hand.
    assert "no systemd user manager" in result.stdout
    assert "--port %d" % PORT in result.stdout and "--token-file %s" % token in result.stdout

    again = install(checkout, home)
    assert again.returncode == 0 and "plug-in already up to date" in again.stdout, again.stdout

    removed = install(checkout, home, "--uninstall")
    assert removed.returncode == 0, removed.stdout
    assert "removed %s" % (home / UNITS / "neural-style-engine.socket") in removed.stdout
    assert snapshot(home) == before  # units, token and plug-in gone; GIMP's folders as they were


def test_flatpak_found_by_flatpak_info_and_units_started_with_systemd(checkout: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config/GIMP/3.2").mkdir(parents=True)
    log = tmp_path / "systemctl.log"
    env = {"FAKE_FLATPAK_GIMP": "1", "FAKE_SYSTEMD": "1", "FAKE_SYSTEMCTL_LOG": str(log)}
    result = install(checkout, home, env=env)
    assert result.returncode == 0, result.stdout
    assert "GIMP 3.2 (Flatpak org.gimp.GIMP)" in result.stdout
    calls = log.read_text().splitlines()
    assert "--user daemon-reload" in calls and "--user enable --now neural-style-engine.socket" in calls
    assert "systemd listens on 127.0.0.1:%d" % PORT in result.stdout
    log.write_text("")
    assert install(checkout, home, "--uninstall", env=env).returncode == 0
    assert "--user disable --now neural-style-engine.socket" in log.read_text().splitlines()
    assert not (home / UNITS / "neural-style-engine.service").exists()


def test_a_native_gimp_sharing_the_profile_is_named(checkout: Path, home: Path) -> None:
    native = home.parent / "fake-tools" / "gimp-3.2"
    native.parent.mkdir(parents=True)
    native.write_text("#!/bin/sh\n")
    native.chmod(0o755)
    result = install(checkout, home)
    assert result.returncode == 0, result.stdout
    assert "the same profile folder is used by the GIMP 3 at %s; both use the engine server" % native \
        in result.stdout


def test_units_it_did_not_write_are_not_overwritten(checkout: Path, home: Path) -> None:
    foreign = home / UNITS / "neural-style-engine.service"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("[Service]\nExecStart=/bin/true\n")
    result = install(checkout, home)
    assert result.returncode != 0 and "was not written by install.py" in result.stdout
    assert foreign.read_text() == "[Service]\nExecStart=/bin/true\n"


def token_file(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "server-token"
    path.write_text("k" * 40 + "\n")
    path.chmod(mode)
    return path


def test_server_option_records_the_url_and_the_token_files_path(checkout: Path, home: Path,
                                                                 tmp_path: Path) -> None:
    token = token_file(tmp_path)
    closed = free_port()
    result = install(checkout, home, "--server", "http://127.0.0.1:%d/" % closed,
                     "--token-file", os.path.relpath(token, home))
    assert result.returncode == 0, result.stdout
    for version in ("3.2", "2.10"):
        assert config_of(home, version)["engine"] == {
            "kind": "server", "url": "http://127.0.0.1:%d" % closed, "token_file": str(token)}
    assert "k" * 40 not in (home / ".config/GIMP/3.2").joinpath(
        "plug-ins/neural_style_transfer/neural_style_config.json").read_text()
    assert "connection refused" in result.stdout  # said, but configured anyway
    assert not (home / UNITS).exists()  # a remote engine needs no units here

    back = install(checkout, home, "--local")
    assert back.returncode == 0, back.stdout
    assert config_of(home, "3.2")["engine"] == {"kind": "local"}
    assert "cannot run the engine" in back.stdout  # the Flatpak GIMP is named as the one left out


def test_going_back_from_the_local_server_removes_its_units(checkout: Path, home: Path,
                                                            tmp_path: Path) -> None:
    assert install(checkout, home).returncode == 0
    result = install(checkout, home, "--server", "https://gpu-box.invalid:8765",
                     "--token-file", str(token_file(tmp_path)))
    assert result.returncode == 0, result.stdout
    assert not (home / UNITS / "neural-style-engine.socket").exists()
    assert not (home / TOKEN).exists()


@pytest.mark.parametrize("url, words", [
    ("gpu-box:8765", "must start with http:// or https://"),
    ("ftp://gpu-box", "must start with http:// or https://"),
    ("http://", "names no host"),
    ("http://gpu-box:99999", "not a URL the plug-in can use"),
    ("http://user:secret@gpu-box", "must not carry a user name"),
    ("http://gpu-box/?token=x", "must not carry"),
])
def test_bad_server_urls_are_refused(checkout: Path, home: Path, url: str, words: str) -> None:
    result = install(checkout, home, "--server", url)
    assert result.returncode == 1 and words in result.stdout, result.stdout
    assert not (home / ".config/GIMP/3.2/plug-ins").exists()


def test_unusable_token_files_are_refused(checkout: Path, home: Path, tmp_path: Path) -> None:
    missing = install(checkout, home, "--server", "http://127.0.0.1:8765", "--token-file",
                      str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "Cannot read the token file" in missing.stdout
    shared = install(checkout, home, "--server", "http://127.0.0.1:8765", "--token-file",
                     str(token_file(tmp_path, 0o644)))
    assert shared.returncode == 1 and "chmod 600" in shared.stdout
    alone = run_install(checkout, home, "--plugin-only", "--token-file", str(token_file(tmp_path)))
    assert alone.returncode == 2 and "--token-file goes with --server" in alone.stdout


# ---------------------------------------------------------------- --check and the health probe


class FakeServer:
    """A server on 127.0.0.1 answering /v1/health with a given status and body."""

    def __init__(self, status: int, body: bytes, token: str | None = None) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.paths.append(self.path)
                wrong = token and self.headers.get("Authorization") != "Bearer " + token
                self.send_response(401 if wrong else status)
                self.end_headers()
                self.wfile.write(b"{}" if wrong else body)

            def log_message(self, *args: object) -> None:
                pass

        self.paths: list = []
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


HEALTH = json.dumps({"version": "0.1.0", "protocol": 1, "device": "cpu (2 threads)", "queue": 0}).encode()


@pytest.mark.parametrize("status, body, words", [
    (200, HEALTH, "answers: neural-style 0.1.0, device cpu (2 threads)"),
    (404, b"<html>nginx</html>", "answered HTTP 404: not a neural-style server"),
    (200, b"<html>welcome</html>", "not a neural-style server"),
])
def test_check_names_the_server_and_says_how_it_answers(checkout: Path, home: Path, tmp_path: Path,
                                                        status: int, body: bytes, words: str) -> None:
    token = token_file(tmp_path)
    server = FakeServer(status, body, token="k" * 40)
    try:
        assert install(checkout, home, "--server", server.url, "--token-file", str(token)).returncode == 0
        result = install(checkout, home, "--check")
    finally:
        server.close()
    assert "GIMP 3.2 (Flatpak org.gimp.GIMP): engine: server %s (token file %s)" % (server.url, token) \
        in result.stdout
    line = next(line for line in result.stdout.splitlines() if words in line)
    assert line.startswith("ok" if status == 200 and body == HEALTH else "PROBLEM"), result.stdout
    assert "/v1/health" in server.paths
    # A remote engine only: no engine interpreter on this machine is asked for.
    assert "engine interpreter" not in result.stdout


def test_check_words_for_a_wrong_token_refused_and_silence(tmp_path: Path) -> None:
    server = FakeServer(200, HEALTH, token="right-token-" + "x" * 20)
    try:
        answers, words = probe_server(server.url, str(token_file(tmp_path)))
    finally:
        server.close()
    assert not answers and "refuses the token" in words and "wrong token" in words
    answers, words = probe_server("http://127.0.0.1:%d" % free_port(), None)
    assert not answers and "connection refused" in words and "not running" in words
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        answers, words = probe_server("http://127.0.0.1:%d" % silent.getsockname()[1], None, timeout=0.5)
    assert not answers and "no answer from" in words and "within 0.5 s" in words


def test_check_for_the_flatpak_server_says_how_to_start_it(checkout: Path, home: Path) -> None:
    assert install(checkout, home).returncode == 0
    result = install(checkout, home, "--check")
    assert "GIMP 3.2 (Flatpak org.gimp.GIMP): engine: server http://127.0.0.1:%d" % PORT in result.stdout
    assert any(line.startswith("ok") and "neural-style-engine.socket exists" in line
               for line in result.stdout.splitlines()), result.stdout
    problem = next(line for line in result.stdout.splitlines() if "connection refused" in line)
    assert problem.startswith("PROBLEM") and "systemctl --user start neural-style-engine.socket" in problem
