"""`neural-style batch`: a folder of pictures, one network, one line per picture."""

import importlib.util
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_runs import FAST, ROOT, run_cli

from core import batch, image_read, image_write
from core.picture import Picture

EXAMPLES = os.path.join(ROOT, "examples")
HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.fixture
def folder(tmp_path):
    """Two good pictures (8-bit RGB, 16-bit grey), one that is not a picture, and things to skip."""
    photo = image_read.load_picture(os.path.join(EXAMPLES, "photo.png"))
    inputs = tmp_path / "in"
    inputs.mkdir()
    image_write.save_picture(Picture(rgb=np.ascontiguousarray(photo.rgb[40:72, 100:140])), inputs / "a.png")
    grey = np.repeat(photo.rgb[80:112, 150:190].mean(axis=2, keepdims=True), 3, axis=2)
    image_write.save_picture(Picture(rgb=np.ascontiguousarray(grey), bits=16, grey=True), inputs / "c.tif")
    (inputs / "b.jpg").write_bytes(b"this is no picture")
    (inputs / "notes.txt").write_text("skip me")
    (inputs / ".hidden.png").write_bytes(b"skip me too")
    (inputs / "sub.png").mkdir()
    style = tmp_path / "style.png"
    painting = image_read.load_picture(os.path.join(EXAMPLES, "painting.jpg"))
    image_write.save_picture(Picture(rgb=np.ascontiguousarray(painting.rgb[::8, ::8])), style)
    return tmp_path


def run_batch(*arguments, code=None):
    return run_cli("batch", *arguments, code=code, timeout=300)


def test_finds_the_folders_pictures_sorted(folder):
    items = batch.find_pictures(str(folder / "in"), str(folder / "out"))
    assert [item.name for item in items] == ["a.png", "b.jpg", "c.tif"]
    assert [os.path.basename(item.output) for item in items] == ["a.png", "b.png", "c.png"]
    assert all(item.problem is None for item in items)


def test_one_unreadable_picture_among_good_ones(folder):
    result = run_batch(folder / "in", folder / "style.png", "-o", folder / "out", *FAST)
    assert result.returncode == 1, result.stderr
    assert sorted(os.listdir(folder / "out")) == ["a.png", "c.png"]
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("neural-style batch: error: [2/3] b.jpg: ")
    assert "is not an image GIMP or this engine can read" in errors[0]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[1/3] a.png -> ") and lines[1].startswith("[3/3] c.tif -> ")
    assert lines[-1].startswith("Styled 2 of 3 pictures") and "1 failed" in lines[-1]
    grey = image_read.load_picture(folder / "out" / "c.png")
    assert grey.grey and grey.bits == 16 and (grey.width, grey.height) == (40, 32)


def test_all_good_exits_0_and_never_overwrites_an_input(folder):
    (folder / "in" / "b.jpg").unlink()
    before = (folder / "in" / "a.png").read_bytes()
    # Output into the input folder: a.png would replace itself, c.tif becomes c.png.
    result = run_batch(folder / "in", folder / "style.png", "-o", folder / "in", *FAST)
    assert result.returncode == 1
    assert "a.png: its result" in result.stderr and "would replace an input picture" in result.stderr
    assert (folder / "in" / "a.png").read_bytes() == before
    assert (folder / "in" / "c.png").exists()
    (folder / "in" / "c.png").unlink()
    result = run_batch(folder / "in", folder / "style.png", "-o", folder / "out", *FAST)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(folder / "out")) == ["a.png", "c.png"]


def test_same_name_twice_is_refused_for_the_second(folder):
    (folder / "in" / "b.jpg").unlink()
    image_write.save_picture(image_read.load_picture(folder / "in" / "a.png"), folder / "in" / "c.pam")
    items = batch.find_pictures(str(folder / "in"), str(folder / "out"))
    assert [item.problem is None for item in items] == [True, True, False]
    assert "would replace the result of c.pam" in items[2].problem


@pytest.mark.parametrize("arguments, expected", [
    (["--steps", "0"], "--steps must be at least 1, not 0"),
    (["--style-blend", "1,2"], "--style-blend has 2 weights but 1 style images"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_the_main_commands_options_and_their_checks(folder, arguments, expected):
    result = run_batch(folder / "in", folder / "style.png", "-o", folder / "out", *arguments)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("neural-style batch: error: ") and expected in result.stderr
    assert not (folder / "out").exists()


def test_help_shows_the_option_table(folder):
    result = run_batch("--help")
    assert result.returncode == 0
    assert "--style-weight" in result.stdout and "--ray ADDRESS" in result.stdout


def test_folder_without_pictures_and_bad_style(folder):
    empty = folder / "empty"
    empty.mkdir()
    result = run_batch(empty, folder / "style.png", "-o", folder / "out", *FAST)
    assert result.returncode == 1 and "has no pictures" in result.stderr
    result = run_batch(folder / "in", folder / "in" / "b.jpg", "-o", folder / "out", *FAST)
    assert result.returncode == 1 and "b.jpg is not an image" in result.stderr
    assert os.listdir(folder / "out") == []


def test_sigterm_leaves_no_partial_file(folder):
    command = [sys.executable, "-m", "core", "batch", str(folder / "in"), str(folder / "style.png"),
               "-o", str(folder / "out"), "--size", "48", "--steps", "10000", "--scales", "1",
               "--device", "cpu"]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (folder / "out").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # into the first picture, or on a slow machine still loading the engine
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130
    assert "stopped (Ctrl-C or SIGTERM); the picture in progress was not written" in process.stderr.read()
    assert os.listdir(folder / "out") == []


def test_ray_missing_is_one_plain_line(folder):
    code = "import sys; sys.modules['ray'] = None; from core.cli import main; sys.exit(main(sys.argv[1:]))"
    result = run_batch(folder / "in", folder / "style.png", "-o", folder / "out", "--ray", "local", *FAST,
                       code=code)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--ray needs Ray, which is not installed" in result.stderr and "pip install ray" in result.stderr


@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (the optional extra 'ray': pip install ray)")
def test_ray_spreads_the_pictures_and_reports_the_bad_one(folder):
    """A local Ray instance with two workers, one task per picture, started by the command."""
    result = run_batch(folder / "in", folder / "style.png", "-o", folder / "out", "--ray", "local:2", *FAST)
    assert result.returncode == 1, result.stderr
    assert sorted(os.listdir(folder / "out")) == ["a.png", "c.png"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("neural-style batch: error")]
    assert len(errors) == 1 and "b.jpg" in errors[0] and "is not an image" in errors[0]
    assert "Styled 2 of 3 pictures" in result.stdout
    grey = image_read.load_picture(folder / "out" / "c.png")
    assert grey.grey and grey.bits == 16 and (grey.width, grey.height) == (40, 32)
