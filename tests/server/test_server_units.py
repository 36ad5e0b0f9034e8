"""The server's rules without a running server: token, settings, PAM headers, the network cache."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from core.server import access_token
from core.server.main import main, resolve_token, token_required
from core.server.settings import ServerSettings, SettingsError, is_loopback, parse_settings
from protocol import pam


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_addresses(host):
    assert is_loopback(host)
    assert not token_required(ServerSettings(host=host))
    assert token_required(ServerSettings(host=host, require_token=True))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "gpu-box.local",
                                  "example.org"])
def test_any_other_address_needs_a_token(host):
    assert not is_loopback(host)
    assert token_required(ServerSettings(host=host))


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "neural-style"


def test_a_non_loopback_listener_without_a_token_file_gets_a_new_private_token(config_home):
    token, note = resolve_token(ServerSettings(host="0.0.0.0"))
    path = config_home / "server-token"
    assert path.read_text().strip() == token and len(token) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(config_home).st_mode) == 0o700
    assert note == "Clients must send the token just written to %s (Authorization: Bearer ...)." % path
    again, note = resolve_token(ServerSettings(host="0.0.0.0"))
    assert again == token and "token in %s" % path in note


def test_loopback_needs_no_token_unless_a_file_is_given(config_home, tmp_path):
    assert resolve_token(ServerSettings()) == (None, None)
    assert not config_home.exists()
    given = tmp_path / "my-token"
    token, _ = resolve_token(ServerSettings(token_file=str(given)))
    assert given.read_text().strip() == token


def test_a_token_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "token"
    path.write_text("a-long-enough-token-1234567890\n")
    os.chmod(path, 0o644)
    with pytest.raises(access_token.TokenError, match="can be read by other users.*chmod 600"):
        resolve_token(ServerSettings(token_file=str(path)))
    os.chmod(path, 0o600)
    assert resolve_token(ServerSettings(token_file=str(path)))[0] == "a-long-enough-token-1234567890"
    path.write_text("short\n")
    with pytest.raises(access_token.TokenError, match="at least 16 characters"):
        resolve_token(ServerSettings(token_file=str(path)))


@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], "--port must be from 0 to 65535"),
    (["--certfile", "c.pem"], "--certfile and --keyfile go together"),
    (["--max-pixels", "0"], "--max-pixels must be from 1"),
    (["--read-timeout", "0"], "--read-timeout must be more than 0 seconds"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_command_lines_are_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SettingsError, match=message):
        parse_settings(argv)
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("neural-style serve: error: ") and message in error and error.count("\n") == 1


def test_a_missing_certificate_is_a_plain_start_error(tmp_path, capsys):
    assert main(["--certfile", str(tmp_path / "no.pem"), "--keyfile", str(tmp_path / "no.key")]) == 1
    error = capsys.readouterr().err
    assert "Cannot use the certificate" in error and "No such file" in error


def test_pam_headers():
    head = b"P7\nWIDTH 40\nHEIGHT 32\nDEPTH 4\nMAXVAL 65535\nTUPLTYPE RGB_ALPHA\nENDHDR\n"
    header = pam.parse_header(head + b"pixels...")
    assert (header.width, header.height, header.channels, header.bits) == (40, 32, 4, 16)
    assert header.data_bytes == 40 * 32 * 4 * 2 and header.length == len(head)
    for bad, words in ((b"\x89PNG\r\n", "not a PAM image"),
                       (b"P7\nWIDTH 4\n", "no ENDHDR"),
                       (b"P7\nWIDTH 4\nHEIGHT x\nDEPTH 3\nMAXVAL 255\nENDHDR\n", "lacks WIDTH"),
                       (b"P7\nWIDTH 0\nHEIGHT 4\nDEPTH 3\nMAXVAL 255\nENDHDR\n", "no pixels"),
                       (b"P7\nWIDTH 4\nHEIGHT 4\nDEPTH 5\nMAXVAL 255\nENDHDR\n", "5 channels"),
                       (b"P7\nWIDTH 4\nHEIGHT 4\nDEPTH 3\nMAXVAL 1023\nENDHDR\n", "maxval 1023")):
        with pytest.raises(pam.PamError, match=words):
            pam.parse_header(bad)


@pytest.fixture
def random_vgg(monkeypatch):
    from core import network_cache as network
    from core import vgg

    weights = vgg.random_weights(seed=0)
    monkeypatch.setattr(vgg, "load_weights", lambda source: weights)
    network.forget_networks()
    yield
    network.forget_networks()


def test_jobs_share_one_network_per_weights_layers_and_device(random_vgg):
    import torch

    from core.api import stylize
    from core.network_cache import cached_network
    from core.picture import Picture

    made = []

    def counting(weights, layers, device):
        network = cached_network(weights, layers, device)
        made.append(network)
        return network

    picture = Picture(rgb=np.random.default_rng(0).random((32, 32, 3), dtype=np.float32))
    for _ in range(2):
        stylize(picture, [picture], {"steps": 1, "size": 32, "scales": 1, "device": "cpu"},
                network_factory=counting)
    assert len(made) == 2 and made[0] is made[1]
    other = cached_network("embedded", ("relu1_1",), torch.device("cpu"))
    assert other is not made[0]


def test_a_start_picture_must_have_the_contents_size():
    """The optional init part (an animation's previous frame) is checked like the mask."""
    from core.server.upload import JobRequest, PamUpload, UploadError, _checked

    def upload(width, height):
        return PamUpload(pam.PamHeader(width, height, 3, 8, 60), bytearray())

    style = upload(8, 8)
    assert _checked(JobRequest(content=upload(40, 32), styles=[style], init=upload(40, 32))).init
    with pytest.raises(UploadError) as refused:
        _checked(JobRequest(content=upload(40, 32), styles=[style], init=upload(20, 32)))
    assert refused.value.status == 400
    assert refused.value.message == ("The job's starting picture is 20x32 but its content picture is "
                                     "40x32; they must be the same size.")


def test_a_job_has_ended_before_its_last_event_is_sent():
    """A client that reads the last event and at once sends DELETE must hear the job is over."""
    import asyncio

    from core.server.job import Job
    from core.server.scheduler import Scheduler
    from core.server.stream_events import END
    from core.server.upload import JobRequest

    loop = asyncio.new_event_loop()
    try:
        job = Job(JobRequest(), loop, "cpu")
        sent = []
        job.deliver = lambda line: sent.append((line, job.ended))
        job.stop("it was cancelled (DELETE request)")
        job.run()
        scheduler = Scheduler(max_queue=1)
        scheduler.running = job  # its thread has not handed the worker back yet
        assert scheduler.find(job.id) is None
    finally:
        loop.close()
    assert sent[-1] == (END, True)
    last_event, ended = sent[-2]
    assert b'"error"' in last_event.data and b"cancelled" in last_event.data and ended
