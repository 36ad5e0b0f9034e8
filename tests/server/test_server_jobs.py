"""Jobs through a real `neural-style serve` on 127.0.0.1, with the plug-in's client.

One warm server for the module (device cpu, room for one waiting job); tiny pictures and
a few steps keep each job to a few tenths of a CPU second.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from neural_style_plugin.server_client import EngineServer, JobRefused, QueueFull
from server_helpers import QUICK, content_pam, start_server, style_pam, wait_until_ready

from protocol.pam import PamImage, decode_pam, encode_pam

LONG = dict(QUICK, steps=5000)  # runs until it is cancelled
PAINT = dict(QUICK, steps=6)  # L-BFGS's first steps at this size barely change a pixel


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("server"), "--device", "cpu", "--max-queue", "1")
    try:
        wait_until_ready(running)
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server):
    return EngineServer(server.url)


def wait_idle(server, timeout: float = 30) -> float:
    """Seconds until the server has no running and no waiting job."""
    started = time.monotonic()
    while True:
        health = server.health()
        if not health["busy"] and health["queue"] == 0:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, health
        time.sleep(0.02)


def first(stream, name: str) -> dict:
    for event in stream:
        if event["event"] == name:
            return event
    raise AssertionError("no %s event" % name)


def test_health_says_what_the_server_is(server):
    health = server.health()
    assert health["device"].startswith("cpu")
    assert health["ready"] is True and health["busy"] is False and health["queue"] == 0
    assert health["version"] and health["protocol"] == 1


def test_a_job_streams_its_events_and_the_result_has_the_contents_size(server, client):
    content = content_pam(40, 32, alpha=True)
    stream = client.submit(PAINT, content, [style_pam()], preview_every=2)
    events = list(stream)
    names = [event["event"] for event in events]
    assert names[0] == "queued" and events[0]["position"] == 0 and events[0]["job"] == stream.job_id
    assert names[1] == "start" and events[1]["total"] == 6
    assert [event["step"] for event in events if event["event"] == "progress"] == [1, 2, 3, 4, 5, 6]
    previews = [event for event in events if event["event"] == "preview"]
    assert [event["step"] for event in previews] == [2, 4, 6]
    assert names[-1] == "done" and stream.finished
    sent = decode_pam(content)
    for event in previews + [events[-1]]:
        picture = decode_pam(event["pam"])
        assert (picture.width, picture.height, picture.channels, picture.bits) == (40, 32, 4, 8)
    result = decode_pam(events[-1]["pam"])
    # The alpha channel comes back bit for bit; the colours were painted.
    assert result.data[3::4] == sent.data[3::4]
    assert result.data != sent.data
    assert wait_idle(server) < 5


def test_a_job_with_a_mask_keeps_the_black_part(server, client):
    content = content_pam(40, 32)
    # Grey, the content's size: the left half black (kept), the right half white.
    grey = bytes(255 if x >= 20 else 0 for _ in range(32) for x in range(40))
    mask = encode_pam(PamImage(40, 32, 1, 8, grey))
    header_end = content.index(b"ENDHDR\n") + 7
    events = list(client.submit(PAINT, content, [style_pam()], mask=mask))
    assert events[-1]["event"] == "done", events[-1]
    result = decode_pam(events[-1]["pam"]).data
    sent = content[header_end:]
    row = 40 * 3
    assert all(result[y * row:y * row + 60] == sent[y * row:y * row + 60] for y in range(32))
    assert result != sent


def test_two_clients_at_once_the_second_waits_its_turn(server, client):
    results: dict[str, list] = {}

    def run(name: str, stream) -> None:
        results[name] = list(stream)

    first_stream = client.submit(dict(QUICK, steps=40), content_pam(40, 32), [style_pam()])
    assert first(first_stream, "start")
    second_stream = client.submit(QUICK, content_pam(36, 44), [style_pam(32, 32)])
    threads = [threading.Thread(target=run, args=("first", first_stream)),
               threading.Thread(target=run, args=("second", second_stream))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    queued = [event for event in results["second"] if event["event"] == "queued"]
    assert queued[0]["position"] == 1  # behind the running job
    assert queued[-1]["position"] == 0  # its turn came: it starts now
    for name, size in (("first", (40, 32)), ("second", (36, 44))):
        assert results[name][-1]["event"] == "done", results[name][-1]
        picture = decode_pam(results[name][-1]["pam"])
        assert (picture.width, picture.height) == size
    names = [event["event"] for event in results["second"]]
    assert names.index("start") > max(i for i, name in enumerate(names) if name == "queued")


def test_a_full_queue_is_refused_in_plain_words(server, client):
    running = client.submit(LONG, content_pam(), [style_pam()])
    assert first(running, "start")
    waiting = client.submit(LONG, content_pam(), [style_pam()])
    assert first(waiting, "queued")["position"] == 1
    with pytest.raises(QueueFull) as refused:
        client.submit(QUICK, content_pam(), [style_pam()])
    assert "busy" in str(refused.value) and "1 job already waiting" in str(refused.value)
    waiting.close()
    running.close()
    assert wait_idle(server) < 2


def files_under(folder: str) -> list[str]:
    return sorted(os.path.join(top, name) for top, _, names in os.walk(folder) for name in names)


def test_a_client_that_disconnects_cancels_its_job_within_a_second(server, client):
    temporary = os.path.join(os.path.dirname(server.home), "tmp")
    before = files_under(temporary)
    stream = client.submit(LONG, content_pam(), [style_pam()], preview_every=1)
    assert first(stream, "progress")["step"] >= 1
    assert server.health()["busy"] is True
    stream.close()
    assert wait_idle(server) < 1.0
    # Nothing was written: the job left no file in the server's temporary folder.
    assert files_under(temporary) == before
    assert "Traceback" not in server.log()


def test_a_waiting_job_whose_client_leaves_frees_its_place(server, client):
    running = client.submit(LONG, content_pam(), [style_pam()])
    assert first(running, "start")
    waiting = client.submit(LONG, content_pam(), [style_pam()])
    assert first(waiting, "queued")["position"] == 1
    waiting.close()
    deadline = time.monotonic() + 2
    while server.health()["queue"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    running.close()
    assert wait_idle(server) < 1.0


def test_delete_cancels_a_running_job(server, client):
    stream = client.submit(LONG, content_pam(), [style_pam()])
    assert first(stream, "progress")
    started = time.monotonic()
    assert client.cancel(stream.job_id) is True
    last = list(stream)[-1]
    assert last["event"] == "error" and last["kind"] == "cancelled"
    assert "cancelled" in last["message"] and "nothing was made" in last["message"]
    assert time.monotonic() - started < 1.0
    assert client.cancel(stream.job_id) is False  # it has ended
    assert wait_idle(server) < 1.0


@pytest.mark.parametrize("options, expected", [
    ({"steps": 0}, "steps must be at least 1, not 0"),
    ({"stepz": 3}, "Unknown option: stepz"),
    ({"weights": "/etc/passwd"}, "may only use the weights embedded or torchvision"),
    ({"style_blend": [1, 2]}, "style_blend has 2 weights but the job has 1 style pictures"),
])
def test_bad_options_are_one_plain_error(client, options, expected):
    with pytest.raises(JobRefused) as refused:
        client.submit(dict(QUICK, **options), content_pam(), [style_pam()])
    message = str(refused.value)
    assert expected in message and "\n" not in message and "Traceback" not in message


def test_missing_and_broken_pictures_are_one_plain_error(client):
    cases = [
        (dict(content=content_pam(), styles=[]), "no style picture"),
        (dict(content=b"GIF89a not a pam", styles=[style_pam()]),
         "content picture cannot be used: it is not a PAM"),
        (dict(content=content_pam()[:-10], styles=[style_pam()]), "content picture is cut short"),
        (dict(content=content_pam() + b"extra", styles=[style_pam()]), "content picture is too long"),
        (dict(content=content_pam(), styles=[style_pam()], mask=content_pam(20, 20)),
         "mask is 20x20 but its content picture is 40x32"),
    ]
    for arguments, expected in cases:
        with pytest.raises(JobRefused) as refused:
            client.submit(QUICK, **arguments)
        assert expected in str(refused.value)


def test_a_pixel_bomb_is_refused_from_its_header(client):
    from server_helpers import pam_header_only

    # Only the header is sent: the refusal must come from the claimed size, before pixels.
    with pytest.raises(JobRefused) as refused:
        client.submit(QUICK, pam_header_only(100000, 100000), [style_pam()])
    assert "100000x100000 pixels" in str(refused.value) and "megapixels" in str(refused.value)


def test_a_fully_transparent_content_is_an_error_event(client):
    clear = encode_pam(PamImage(40, 32, 4, 8, bytes([200, 100, 50, 0]) * (40 * 32)))
    last = list(client.submit(QUICK, clear, [style_pam()]))[-1]
    assert last == {"event": "error", "kind": "input",
                    "message": "The content picture is fully transparent: there is nothing to paint."}
