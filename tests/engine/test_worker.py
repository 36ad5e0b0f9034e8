"""The worker the plug-in starts (core.worker): events, files, cancellation, hostile jobs."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from core import image_read, image_write
from core.picture import Picture
from protocol import pam
from protocol.events import decode_event
from protocol.job import make_job, write_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
FAST_OPTIONS = {"size": 32, "steps": 3, "preset": "preview", "scales": 1, "device": "cpu"}
# Far more steps than a test waits for: the run is surely mid-way when it is stopped.
LONG_OPTIONS = {"size": 48, "steps": 10000, "preset": "preview", "scales": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def pictures():
    photo = image_read.load_picture(os.path.join(EXAMPLES, "photo.png"))
    painting = image_read.load_picture(os.path.join(EXAMPLES, "painting.jpg"))
    alpha = np.full((32, 48), 200, dtype=np.uint8)
    alpha[:, :8] = 0
    content = Picture(rgb=np.ascontiguousarray(photo.rgb[50:82, 150:198]), alpha=alpha)
    style = Picture(rgb=np.ascontiguousarray(painting.rgb[::8, ::8]))
    return content, style


def make_run_folder(folder, pictures, options, preview_every=None):
    content, style = pictures
    image_write.save_picture(content, folder / "content.pam")
    image_write.save_picture(style, folder / "style0.pam")
    job = make_job("content.pam", ["style0.pam"], "result.pam", options,
                   preview="preview.pam" if preview_every else None, preview_every=preview_every or 10)
    return write_job(str(folder), job)


def start_worker(job_path, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "core.worker", str(job_path)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, **kwargs)


def read_events(process):
    return [decode_event(line) for line in process.stdout.read().decode().splitlines()]


def listing(folder):
    return sorted(entry.name for entry in folder.iterdir())


def wait_for_progress(process):
    """Read events until the first progress event: the optimisation is running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, "the worker ended early: %s" % process.stderr.read().decode()[-2000:]
        if decode_event(line.decode())["event"] == "progress":
            return
    raise AssertionError("no progress within 120 s")


def test_usage_errors_exit_2_with_nothing_on_stdout():
    for arguments in ([], ["a.json", "b.json"], ["--frobnicate"]):
        result = subprocess.run([sys.executable, "-m", "core.worker"] + arguments, cwd=ROOT,
                                capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        assert result.returncode == 2
        assert result.stdout == ""
        assert "usage: python -m core.worker JOB_FILE" in result.stderr


def test_job_runs_to_done_with_previews(tmp_path, pictures):
    job_path = make_run_folder(tmp_path, pictures, FAST_OPTIONS, preview_every=1)
    process = start_worker(job_path)
    events = read_events(process)
    process.stdin.close()
    assert process.wait(timeout=60) == 0, process.stderr.read().decode()
    names = [event["event"] for event in events]
    assert names[0] == "start" and names[-1] == "done"
    assert names.count("progress") == 3
    previews = [event for event in events if event["event"] == "preview"]
    assert [event["step"] for event in previews] == [1, 2, 3]
    assert previews[0]["path"] == str(tmp_path / "preview.pam")
    assert events[-1]["output"] == str(tmp_path / "result.pam")
    result = pam.read_pam(str(tmp_path / "result.pam"))
    assert (result.width, result.height, result.channels, result.bits) == (48, 32, 4, 8)
    samples, _ = image_read.load_samples(tmp_path / "result.pam")
    np.testing.assert_array_equal(samples[:, :, 3], pictures[0].alpha)  # alpha passes through
    preview = pam.read_pam(str(tmp_path / "preview.pam"))
    assert (preview.width, preview.height) == (48, 32)
    assert listing(tmp_path) == ["content.pam", "job.json", "preview.pam", "result.pam", "style0.pam"]


def _check_stopped_cleanly(process, folder, started):
    code = process.wait(timeout=10)
    took = time.monotonic() - started
    assert took < 2.0, "the worker took %.2f s to stop" % took
    assert code == 1
    assert listing(folder) == ["content.pam", "job.json", "style0.pam"]  # no output, temp or preview
    rest = process.stdout.read().decode().splitlines()
    if rest:  # the last words are best-effort; when present they must be a cancelled error
        last = decode_event(rest[-1])
        assert last["event"] == "error" and last["kind"] == "cancelled"


def test_closing_stdin_stops_the_worker_within_two_seconds(tmp_path, pictures):
    job_path = make_run_folder(tmp_path, pictures, LONG_OPTIONS, preview_every=1)
    process = start_worker(job_path)
    wait_for_progress(process)
    started = time.monotonic()
    process.stdin.close()
    _check_stopped_cleanly(process, tmp_path, started)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_worker_within_two_seconds(tmp_path, pictures, signal_number):
    job_path = make_run_folder(tmp_path, pictures, LONG_OPTIONS, preview_every=1)
    process = start_worker(job_path)
    wait_for_progress(process)
    started = time.monotonic()
    process.send_signal(signal_number)
    _check_stopped_cleanly(process, tmp_path, started)
    process.stdin.close()


def test_orphaned_worker_stops(tmp_path, pictures):
    """The parent dies (kill -9) without closing anything: the worker notices and stops."""
    job_path = make_run_folder(tmp_path, pictures, LONG_OPTIONS)
    # A non-interactive shell gives a background job /dev/null as stdin, so only the
    # parent check can stop this worker.
    shell = subprocess.Popen(
        ["sh", "-c", '"$0" -m core.worker "$1" & wait', sys.executable, str(job_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_progress(shell)
    started = time.monotonic()
    shell.kill()
    shell.wait(timeout=10)
    while os.read(shell.stdout.fileno(), 65536):  # EOF once the worker, the last writer, has exited
        assert time.monotonic() - started < 5, "the orphaned worker is still running"
    took = time.monotonic() - started
    assert took < 2.0, "the orphaned worker took %.2f s to stop" % took
    assert listing(tmp_path) == ["content.pam", "job.json", "style0.pam"]


GOOD_JOB = {"version": 1, "content": "content.pam", "styles": ["style0.pam"], "mask": None,
            "output": "result.pam", "preview": None, "options": {}}


@pytest.mark.parametrize("change, expected", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ({"version": 99}, "protocol version 99"),
    ({"output": "../escaped.pam"}, "inside the run folder"),
    ({"output": "/tmp/escaped.pam"}, "inside the run folder"),
    ({"content": "sub/content.pam"}, "inside the run folder"),
    ({"mask": "/etc/passwd"}, "inside the run folder"),
    ({"init": "../frame0.pam"}, "starting image must be a file name inside the run folder"),
    ({"init": 7}, "starting image must be a file name"),
    ({"styles": []}, "at least one style image"),
    ({"styles": ["style0.pam"] * 100}, "At most 8 style images"),
    ({"options": {"steps": 10 ** 12}}, "steps must be at most 10000"),
    ({"options": {"steps": "many"}}, "steps must be a whole number"),
    ({"options": {"size": -5}}, "size must be at least 0"),
    ({"options": {"style_weight": 1e300}}, "style_weight must be at most"),
    ({"options": {"rm_rf": True}}, "Unknown option: rm_rf"),
    ({"preview": {"path": "p.pam", "every": 0}}, "preview interval"),
    ({"preview": {"path": "../p.pam", "every": 1}}, "inside the run folder"),
])
def test_hostile_jobs_are_refused_without_writing(tmp_path, change, expected):
    folder = tmp_path / "run"
    folder.mkdir()
    if isinstance(change, str):
        text = change
    else:
        job = dict(GOOD_JOB)
        job.update(change)
        text = json.dumps(job)
    (folder / "job.json").write_text(text)
    process = start_worker(folder / "job.json")
    events = read_events(process)
    process.stdin.close()
    assert process.wait(timeout=60) == 1
    assert len(events) == 1
    assert events[0]["event"] == "error" and events[0]["kind"] == "input"
    assert expected in events[0]["message"]
    assert listing(folder) == ["job.json"]
    assert listing(tmp_path) == ["run"]


def test_missing_job_file_is_an_error_event(tmp_path):
    process = start_worker(tmp_path / "job.json")
    events = read_events(process)
    process.stdin.close()
    assert process.wait(timeout=60) == 1
    assert [event["event"] for event in events] == ["error"]
    assert "Cannot read the job file" in events[0]["message"]


def test_damaged_input_is_an_input_error(tmp_path, pictures):
    job_path = make_run_folder(tmp_path, pictures, FAST_OPTIONS)
    (tmp_path / "style0.pam").write_bytes(b"P7\nWIDTH 10\nHEIGHT 10\nDEPTH 3\nMAXVAL 255\nENDHDR\n\x00\x01")
    process = start_worker(job_path)
    events = read_events(process)
    process.stdin.close()
    assert process.wait(timeout=120) == 1
    assert [event["event"] for event in events] == ["error"]
    assert events[0]["kind"] == "input"
    assert "style0.pam is not an image GIMP or this engine can read" in events[0]["message"]
    assert "result.pam" not in listing(tmp_path)


def test_job_starts_from_its_init_picture(tmp_path, pictures):
    """An animation frame: the job's init picture is where the run starts (no loss: it comes back)."""
    content, style = pictures
    start = Picture(rgb=np.ascontiguousarray(content.rgb[::-1]), alpha=content.alpha)
    image_write.save_picture(content, tmp_path / "content.pam")
    image_write.save_picture(style, tmp_path / "style0.pam")
    image_write.save_picture(start, tmp_path / "init.pam")
    options = dict(FAST_OPTIONS, size=0, content_weight=0, style_weight=0, edge_weight=0)
    job = make_job("content.pam", ["style0.pam"], "result.pam", options, init="init.pam")
    assert job["init"] == "init.pam" and "init" not in make_job("c.pam", ["s.pam"], "r.pam", {})
    process = start_worker(write_job(str(tmp_path), job))
    events = read_events(process)
    process.stdin.close()
    assert process.wait(timeout=120) == 0, events
    result = image_read.load_picture(tmp_path / "result.pam")
    expected = image_write.samples_from_picture(start)
    assert np.abs(image_write.samples_from_picture(result).astype(int) - expected).max() <= 1


def test_init_picture_of_another_size_is_an_input_error(tmp_path, pictures):
    content, style = pictures
    image_write.save_picture(content, tmp_path / "content.pam")
    image_write.save_picture(style, tmp_path / "style0.pam")
    image_write.save_picture(style, tmp_path / "init.pam")
    job = make_job("content.pam", ["style0.pam"], "result.pam", FAST_OPTIONS, init="init.pam")
    process = start_worker(write_job(str(tmp_path), job))
    events = read_events(process)
    process.stdin.close()
    assert process.wait(timeout=120) == 1
    assert [event["event"] for event in events] == ["error"] and events[0]["kind"] == "input"
    assert "The starting image" in events[0]["message"] and "must be the same size" in events[0]["message"]
    assert "result.pam" not in listing(tmp_path)
