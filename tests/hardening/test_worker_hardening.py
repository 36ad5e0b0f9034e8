"""The worker (core.worker) under hostile jobs and faults: one error event, nothing written.

tests/engine/test_worker.py covers bad JSON, escaping names, absurd option values and
stopping; this adds wrong types, symlinks, NUL bytes, transparent inputs, a missing
torch, an absent CUDA and kill -9.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import image_read, image_write
from core.picture import Picture
from protocol.events import decode_event
from protocol.job import JobError, make_job, parse_job, write_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = {"size": 32, "steps": 2, "preset": "preview", "scales": 1, "device": "cpu"}


def picture(width=24, height=20, alpha_value=255, seed=0):
    rgb = np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)
    return Picture(rgb=rgb, alpha=np.full((height, width), alpha_value, np.uint8))


def run_folder(folder, options=FAST, content=None, style=None):
    image_write.save_picture(content or picture(), folder / "content.pam")
    image_write.save_picture(style or picture(seed=1), folder / "style0.pam")
    return write_job(str(folder), make_job("content.pam", ["style0.pam"], "result.pam", dict(options)))


def run_worker(job_path, prefix=None, timeout=180):
    """Run to the end with stdin held open, as the plug-in does (closing it means cancel)."""
    command = (prefix or [sys.executable, "-m", "core.worker"]) + [str(job_path)]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        out = process.stdout.read()
        err = process.stderr.read()
        process.wait(timeout=timeout)
    finally:
        process.kill()
        process.stdin.close()
        process.stdout.close()
        process.stderr.close()
    result = subprocess.CompletedProcess(command, process.returncode, out, err)
    return result, [decode_event(line) for line in out.decode().splitlines()]


def the_error(result, events):
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    assert [event["event"] for event in events if event["event"] != "start"] == ["error"], events
    return events[-1]


def listing(folder):
    return sorted(entry.name for entry in folder.iterdir())


GOOD = {"version": 1, "content": "content.pam", "styles": ["style0.pam"], "mask": None,
        "output": "result.pam", "preview": None, "options": {}}


@pytest.mark.parametrize("change, words", [
    ({"content": None}, "content image must be a file name"),
    ({"content": ["content.pam"]}, "content image must be a file name"),
    ({"styles": "style0.pam"}, "at least one style image"),
    ({"styles": [5]}, "style image must be a file name"),
    ({"styles": [None]}, "style image must be a file name"),
    ({"output": None}, "output image must be a file name"),
    ({"output": ""}, "output image must be a file name"),
    ({"output": "."}, "inside the run folder"),
    ({"output": ".."}, "inside the run folder"),
    ({"mask": 7}, "mask image must be a file name"),
    ({"mask": ""}, "mask image must be a file name"),
    ({"options": [1, 2]}, "Options must be a mapping"),
    ({"options": "steps=3"}, "Options must be a mapping"),
    ({"options": {"steps": True}}, "steps must be a number"),
    ({"options": {"steps": [3]}}, "steps must be a number"),
    ({"options": {"size": {"px": 3}}}, "size must be a number"),
    ({"options": {"device": 0}}, "device must be one of"),
    ({"options": {"weights": 5}}, "weights must be a non-empty text"),
    ({"preview": {"path": 5, "every": 1}}, "preview image must be a file name"),
    ({"preview": {"path": "p.pam", "every": 1.5}}, "preview interval"),
    ({"preview": {"path": "p.pam", "every": True}}, "preview interval"),
    ({"preview": {"path": "p.pam", "every": 10 ** 30}}, "preview interval"),
    ({"version": "1"}, "protocol version '1'"),
    ({"version": None}, "protocol version None"),
])
def test_wrong_types_are_refused_in_plain_words(tmp_path, change, words):
    job = dict(GOOD)
    job.update(change)
    with pytest.raises(JobError) as error:
        parse_job(json.dumps(job), str(tmp_path))
    assert words in str(error.value)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
              st.sampled_from(["content.pam", "../x.pam", "/etc/passwd", ".", "a\\b", "style0.pam"])),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(["path", "every", "steps", "size"]),
                                               children, max_size=3)),
    max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(GOOD)), json_values, max_size=3))
def test_near_valid_jobs_are_valid_or_a_job_error(changes):
    """A good job with some fields replaced by anything: never a crash, never a path outside."""
    job = dict(GOOD)
    job.update(changes)
    folder = os.path.abspath("run")
    try:
        parsed = parse_job(json.dumps(job), folder)
    except JobError as error:
        assert str(error).strip()
        return
    paths = [parsed["content"], parsed["output"]] + parsed["styles"]
    paths += [parsed["mask"]] if parsed["mask"] else []
    paths += [parsed["preview"]["path"]] if parsed["preview"] else []
    for path in paths:
        assert os.path.dirname(path) == folder


def test_output_symlink_to_a_file_outside_is_replaced_not_followed(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("the user's file")
    job_path = run_folder(folder)
    os.symlink(str(outside), str(folder / "result.pam"))
    result, events = run_worker(job_path)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert events[-1]["event"] == "done"
    assert outside.read_text() == "the user's file"
    assert not os.path.islink(str(folder / "result.pam"))
    assert image_read.load_samples(folder / "result.pam")[0].shape == (20, 24, 4)


def test_input_symlink_to_a_file_outside_is_only_read_and_refused(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    job_path = run_folder(folder)
    os.remove(str(folder / "content.pam"))
    os.symlink("/etc/hostname" if os.path.exists("/etc/hostname") else __file__, str(folder / "content.pam"))
    result, events = run_worker(job_path)
    error = the_error(result, events)
    assert error["kind"] == "input" and "is not an image GIMP or this engine can read" in error["message"]
    assert listing(folder) == ["content.pam", "job.json", "style0.pam"]


@pytest.mark.parametrize("weights", ["/etc/passwd", "../vgg.pth", "/dev/zero"])
def test_job_cannot_name_a_weights_file_outside_the_run_folder(tmp_path, weights):
    job_path = run_folder(tmp_path, options=dict(FAST, weights=weights))
    result, events = run_worker(job_path)
    error = the_error(result, events)
    assert error["kind"] == "input"
    assert "a job may only use the weights embedded or torchvision" in error["message"]
    assert listing(tmp_path) == ["content.pam", "job.json", "style0.pam"]


def test_nul_byte_in_a_file_name_is_an_input_error(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    job = dict(GOOD, content="content\u0000.pam")
    (folder / "job.json").write_text(json.dumps(job))
    result, events = run_worker(folder / "job.json")
    error = the_error(result, events)
    assert error["kind"] == "input" and "not a valid file name" in error["message"]
    assert listing(folder) == ["job.json"]


@pytest.mark.parametrize("which", ["content", "style"])
def test_fully_transparent_input_is_refused(tmp_path, which):
    clear = picture(alpha_value=0)
    job_path = run_folder(tmp_path, content=clear if which == "content" else None,
                          style=clear if which == "style" else None)
    result, events = run_worker(job_path)
    error = the_error(result, events)
    assert error["kind"] == "input" and "is fully transparent" in error["message"]
    assert listing(tmp_path) == ["content.pam", "job.json", "style0.pam"]


def test_missing_torch_is_an_error_event_that_says_how_to_fix(tmp_path):
    job_path = run_folder(tmp_path)
    code = ("import sys\nsys.modules['torch'] = None  # as if torch were not installed\n"
            "from core.worker import main\nsys.exit(main(sys.argv[1:]))")
    result, events = run_worker(job_path, prefix=[sys.executable, "-c", code])
    error = the_error(result, events)
    assert "torch is not installed in this Python" in error["message"]
    assert "run python3 install.py" in error["message"]
    assert "result.pam" not in listing(tmp_path)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_but_absent_is_a_device_error(tmp_path):
    job_path = run_folder(tmp_path, options=dict(FAST, device="cuda"))
    result, events = run_worker(job_path)
    error = the_error(result, events)
    assert error["kind"] == "device" and "CUDA was requested" in error["message"]
    assert listing(tmp_path) == ["content.pam", "job.json", "style0.pam"]


def test_kill_9_mid_run_leaves_no_result_or_partial_file(tmp_path):
    job_path = run_folder(tmp_path, options=dict(FAST, size=48, steps=10000))
    process = subprocess.Popen([sys.executable, "-m", "core.worker", str(job_path)], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for line in process.stdout:
            if decode_event(line.decode())["event"] == "progress":
                break
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        process.stdin.close()
    assert listing(tmp_path) == ["content.pam", "job.json", "style0.pam"]
