"""The plug-in's client (server_client.py) against servers that fail: not there, not a
neural-style server, killed mid-run, and a real one over TLS."""

from __future__ import annotations

import http.server
import shutil
import signal
import subprocess
import threading

import pytest
from neural_style_plugin.server_client import (
    EngineServer,
    MalformedResponse,
    ServerError,
    ServerGone,
    ServerUnreachable,
)
from server_helpers import QUICK, content_pam, start_server, style_pam
from waiting import free_port


def test_a_server_that_is_not_there_says_how_to_start_it():
    with pytest.raises(ServerUnreachable) as failed:
        EngineServer("http://127.0.0.1:%d" % free_port()).submit(QUICK, content_pam(), [style_pam()])
    message = str(failed.value)
    assert "Cannot reach the neural-style server at http://127.0.0.1:" in message
    assert "connection refused" in message and "`neural-style serve`" in message


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "127.0.0.1:8765", "http://"])
def test_an_address_that_is_no_url_is_refused(url):
    with pytest.raises(ServerError, match="is not an http:// or https:// URL"):
        EngineServer(url)


QUEUED = b'{"event": "queued", "job": "j", "position": 0}\n'


class _Impostor(http.server.BaseHTTPRequestHandler):
    """Answers like something that is not a neural-style server (or a broken one)."""

    replies = {
        "/v1/health": (200, "text/html", b"<html>hello</html>"),
        "/v1/jobs": (200, "application/x-ndjson", QUEUED + b"not json\n"),
        "/short/v1/jobs": (200, "application/x-ndjson", QUEUED),
        "/html/v1/jobs": (404, "text/html", b"<html>not found</html>"),
    }

    def do_GET(self):
        self.reply()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.reply()

    def reply(self):
        status, kind, body = self.replies[self.path]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


@pytest.fixture
def impostor():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Impostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_answers_that_are_not_the_protocol_are_plain_errors(impostor):
    with pytest.raises(MalformedResponse, match="did not answer like a neural-style server"):
        EngineServer(impostor).health()
    with pytest.raises(MalformedResponse, match=r"did not answer like a neural-style server \(HTTP 404\)"):
        EngineServer(impostor + "/html").submit(QUICK, content_pam(), [style_pam()])
    stream = EngineServer(impostor).submit(QUICK, content_pam(), [style_pam()])
    assert next(stream)["event"] == "queued" and stream.job_id == "j"
    with pytest.raises(MalformedResponse, match="sent something that is not an event"):
        next(stream)
    stream = EngineServer(impostor + "/short").submit(QUICK, content_pam(), [style_pam()])
    with pytest.raises(ServerGone, match="was lost during the run"):
        list(stream)


def test_a_server_killed_mid_run_is_a_plain_server_gone(tmp_path):
    server = start_server(tmp_path, "--device", "cpu", "--no-warm-up")
    try:
        stream = EngineServer(server.url).submit(dict(QUICK, steps=5000), content_pam(), [style_pam()])
        assert next(event for event in stream if event["event"] == "progress")
        server.process.send_signal(signal.SIGKILL)
        with pytest.raises(ServerGone) as gone:
            list(stream)
    finally:
        server.stop()
    message = str(gone.value)
    assert message.startswith("The connection to the neural-style server at %s was lost during the run"
                              % server.url)
    assert "nothing was changed" in message and "`neural-style serve`" in message


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_tls_with_a_certificate_given_on_the_command_line(tmp_path):
    key, certificate = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True)
    server = start_server(tmp_path, "--device", "cpu", "--no-warm-up", "--certfile", str(certificate),
                          "--keyfile", str(key), "--require-token")
    try:
        assert server.url.startswith("https://")
        with open(tmp_path / "home" / ".config" / "neural-style" / "server-token") as handle:
            token = handle.read().strip()
        health = EngineServer(server.url, token=token, cafile=str(certificate)).health()
        assert health["device"].startswith("cpu")
        with pytest.raises(ServerUnreachable, match="TLS connection .* failed .*CERTIFICATE_VERIFY_FAILED"):
            EngineServer(server.url, token=token).health()  # a certificate nobody vouches for
        with pytest.raises(ServerGone, match="closed the connection without answering .* If the server uses "
                                             "TLS, its address starts with https://"):
            EngineServer(server.url.replace("https", "http"), token=token).health()
    finally:
        server.stop()
