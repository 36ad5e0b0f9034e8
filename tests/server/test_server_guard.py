"""The guarded server: the token, and limits checked before anything big is stored.

One server with --require-token on 127.0.0.1 (the token rule of a non-loopback listener,
tested without sending anything off loopback) and low limits; it runs no engine work in
these tests (--no-warm-up, and every request is refused before a job exists).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import time

import pytest
from neural_style_plugin.server_client import EngineServer, JobRefused, WrongToken, read_token_file
from server_helpers import QUICK, content_pam, pam_header_only, start_server, style_pam


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("guarded")
    running = start_server(folder, "--require-token", "--no-warm-up", "--device", "cpu",
                           "--max-pixels", "100000", "--max-body-mb", "1", "--read-timeout", "1")
    try:
        yield running
    finally:
        running.stop()


def token_path(server) -> str:
    return os.path.join(server.home, ".config", "neural-style", "server-token")


@pytest.fixture
def token(guarded) -> str:
    return read_token_file(token_path(guarded))


def raw_request(server, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    host, port = server.url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_token_was_made_readable_by_its_owner_only(guarded):
    path = token_path(guarded)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert "Clients must send the token just written to %s" % path in guarded.banner


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-000000000000", "Basic abc", "Bearer "])
def test_no_token_or_a_wrong_one_gets_401_and_no_engine_work(guarded, token, header):
    accepted = guarded.health(token=token)["accepted"]
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    if header:
        headers["Authorization"] = header
    for method, path in (("GET", "/v1/health"), ("POST", "/v1/jobs"), ("DELETE", "/v1/jobs/abc"),
                         ("GET", "/no/such/page")):
        status, body = raw_request(guarded, method, path, b"--x--\r\n" if method == "POST" else b"", headers)
        assert status == 401
        assert "needs its token" in json.loads(body)["error"]
    health = guarded.health(token=token)
    assert health["accepted"] == accepted and health["busy"] is False and health["queue"] == 0


def test_the_client_says_the_token_is_missing_or_wrong(guarded, token):
    with pytest.raises(WrongToken) as missing:
        EngineServer(guarded.url).submit(QUICK, content_pam(), [style_pam()])
    assert "needs a token, and none is set" in str(missing.value)
    with pytest.raises(WrongToken) as wrong:
        EngineServer(guarded.url, token=token[::-1]).health()
    assert "refused the token" in str(wrong.value)
    assert EngineServer(guarded.url, token=token).health()["device"].startswith("cpu")


def test_a_declared_oversized_body_is_refused_before_it_is_read(guarded, token):
    status, body = raw_request(guarded, "POST", "/v1/jobs", b"x" * 10, {
        "Authorization": "Bearer " + token, "Content-Length": str(2 << 20),
        "Content-Type": "multipart/form-data; boundary=x"})
    assert status == 413 and "larger than this server takes (1 MiB)" in json.loads(body)["error"]


def test_an_oversized_upload_is_refused(guarded, token):
    # Four 300 x 300 RGB styles: each within --max-pixels, 1.08 MB together.
    client = EngineServer(guarded.url, token=token)
    with pytest.raises(JobRefused) as refused:
        client.submit(QUICK, content_pam(), [style_pam(300, 300), style_pam(300, 300), style_pam(300, 300),
                                              style_pam(300, 300)])
    assert "larger than this server takes (1 MiB)" in str(refused.value)


def test_a_pixel_bomb_is_refused_from_its_header(guarded, token):
    client = EngineServer(guarded.url, token=token)
    with pytest.raises(JobRefused) as refused:
        client.submit(QUICK, pam_header_only(1000, 1000), [style_pam()])
    assert "1000x1000 pixels; this server takes at most 0.1 megapixels" in str(refused.value)


def test_a_stalled_upload_is_dropped(guarded, token):
    host, port = guarded.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000\r\n\r\n"
                      "--b\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nP7\nWIDTH 4\n"
                      % token).encode("ascii"))
        started = time.monotonic()
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            piece = sock.recv(4096)
            if not piece:
                break
            reply += piece
    assert reply.startswith(b"HTTP/1.1 408")
    assert b"stalled: no data came for 1 s" in reply
    assert time.monotonic() - started < 5
    assert guarded.health(token=token)["queue"] == 0
