"""The neural-style command line (core.cli), run as a separate process like a user would."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from cli_runs import FAST, ROOT, one_error_line, run_cli, start_long_run

from core import image_read, image_write
from core.picture import Picture
from protocol import pam
from protocol.events import decode_event
from protocol.options import OPTIONS

EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Small content (16-bit RGBA) and style pictures cut from the bundled examples."""
    folder = tmp_path_factory.mktemp("images")
    photo = image_read.load_picture(os.path.join(EXAMPLES, "photo.png"))
    painting = image_read.load_picture(os.path.join(EXAMPLES, "painting.jpg"))
    rgb = photo.rgb[60:90:1, 150:190:1]  # 40x30
    alpha = np.tile(np.linspace(0, 65535, 40, dtype=np.uint16), (30, 1))
    content16 = Picture(rgb=np.ascontiguousarray(rgb), alpha=alpha, bits=16)
    image_write.save_picture(content16, folder / "content16.png")
    grey = Picture(rgb=np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2), grey=True)
    image_write.save_picture(grey, folder / "grey.pam")
    style = Picture(rgb=np.ascontiguousarray(painting.rgb[::8, ::8]))
    image_write.save_picture(style, folder / "style.png")
    (folder / "notes.png").write_text("not a picture\n")
    jpeg = open(os.path.join(EXAMPLES, "painting.jpg"), "rb").read()
    (folder / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    return folder


def test_help_lists_every_option_without_importing_torch():
    code = ("import sys\nfrom core import cli\ntry:\n    cli.main(['--help'])\n"
            "except SystemExit as stop:\n    assert stop.code == 0, stop.code\n"
            "print('heavy:', sorted(name for name in ('torch', 'numpy', 'PIL') if name in sys.modules))")
    result = run_cli(code=code)
    assert result.returncode == 0, result.stderr
    for option in OPTIONS:
        assert "--" + option.name.replace("_", "-") in result.stdout
    for flag in ("--output", "--mask", "--progress", "--verbose"):
        assert flag in result.stdout
    assert "heavy: []" in result.stdout


def test_python_dash_m_core_help_and_version():
    result = run_cli("--help")
    assert result.returncode == 0 and "usage: neural-style" in result.stdout
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("neural-style ")


@pytest.mark.parametrize("arguments, expected", [
    (["--steps", "0"], "--steps must be at least 1, not 0"),
    (["--steps", "many"], "--steps must be a whole number"),
    (["--size", "1.5"], "--size must be a whole number"),
    (["--style-weight", "nan"], "--style-weight must be a finite number"),
    (["--style-weight", "-1"], "--style-weight must be at least 0.0"),
    (["--device", "gpu"], "--device must be one of auto, cpu, cuda, mps"),
    (["--style-layers", "relu9_9"], "unknown layer 'relu9_9'"),
    (["--style-blend", "1,2,3"], "--style-blend has 3 weights but 1 style images"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--progress", "loud"], "invalid choice: 'loud'"),
])
def test_bad_options_give_one_line_and_exit_2(tmp_path, images, arguments, expected):
    result = run_cli(images / "content16.png", images / "style.png", "-o", tmp_path / "out.png", *arguments)
    assert result.returncode == 2
    assert expected in one_error_line(result)
    assert not list(tmp_path.iterdir())


def test_missing_output_flag_is_one_line(images):
    result = run_cli(images / "content16.png", images / "style.png")
    assert result.returncode == 2
    assert "-o/--output" in one_error_line(result)


@pytest.mark.parametrize("content, style, expected", [
    ("notes.png", "style.png", "notes.png is not an image GIMP or this engine can read"),
    ("content16.png", "cut.jpg", "cut.jpg is not an image GIMP or this engine can read"),
    ("missing.png", "style.png", "missing.png does not exist"),
])
def test_bad_input_files_give_one_line_and_exit_1(tmp_path, images, content, style, expected):
    result = run_cli(images / content, images / style, "-o", tmp_path / "out.png", *FAST)
    assert result.returncode == 1
    assert expected in one_error_line(result)
    assert not list(tmp_path.iterdir())


def test_verbose_shows_the_details(tmp_path, images):
    result = run_cli(images / "notes.png", images / "style.png", "-o", tmp_path / "out.png", "--verbose",
                     *FAST)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("neural-style: error: ")


@pytest.mark.parametrize("output, expected", [
    ("out.jpg", "the output must be a .png, .tif, .tiff or .pam file (not .jpg)"),
    ("no/such/folder/out.png", "does not exist"),
])
def test_bad_output_is_refused_before_any_work(tmp_path, images, output, expected):
    result = run_cli(images / "content16.png", images / "style.png", "-o", tmp_path / output, *FAST)
    assert result.returncode == 1
    assert expected in one_error_line(result)
    assert not list(tmp_path.iterdir())


def test_missing_torch_is_explained(tmp_path, images):
    code = ("import sys\nsys.modules['torch'] = None  # as if torch were not installed\n"
            "from core.cli import main\nsys.exit(main(sys.argv[1:]))")
    result = run_cli(images / "content16.png", images / "style.png", "-o", tmp_path / "out.png", code=code)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "torch is not installed in this Python (%s); run python3 install.py" % sys.executable in line


def test_json_progress_and_16bit_alpha_output(tmp_path, images):
    output = tmp_path / "result.tif"
    result = run_cli(images / "content16.png", images / "style.png", "-o", output, "--progress", "json",
                     *FAST)
    assert result.returncode == 0, result.stderr
    events = [decode_event(line) for line in result.stdout.splitlines()]
    names = [event["event"] for event in events]
    assert names[0] == "start" and names[-1] == "done"
    assert set(names[1:-1]) == {"progress"}
    assert [event["step"] for event in events[1:-1]] == list(range(1, events[0]["total"] + 1))
    assert events[-1]["output"] == str(output)
    for event in events[1:-1]:
        assert set(event["losses"]) >= {"content", "style", "tv", "total"}
    samples, bits = image_read.load_samples(output)
    source, _ = image_read.load_samples(images / "content16.png")
    assert bits == 16 and samples.shape == source.shape == (30, 40, 4)
    np.testing.assert_array_equal(samples[:, :, 3], source[:, :, 3])  # alpha bit for bit
    assert not np.array_equal(samples[:, :, :3], source[:, :, :3])  # and it was painted
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["result.tif"]


def test_grey_stays_grey_and_quiet_without_a_terminal(tmp_path, images):
    output = tmp_path / "grey.pam"
    result = run_cli(images / "grey.pam", images / "style.png", "-o", output, *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    image = pam.read_pam(str(output))
    assert (image.width, image.height, image.channels, image.bits) == (40, 30, 1, 8)


def test_progress_bar_goes_to_stderr(tmp_path, images):
    output = tmp_path / "out.png"
    result = run_cli(images / "content16.png", images / "style.png", "-o", output, "--progress", "bar", *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "Step 2/2" in result.stderr and "Wrote %s (40x30)" % output in result.stderr


def test_mask_of_wrong_size_is_refused(tmp_path, images):
    result = run_cli(images / "content16.png", images / "style.png", "-o", tmp_path / "out.png",
                     "--mask", images / "style.png", *FAST)
    assert result.returncode == 1
    assert "must be the same size" in one_error_line(result)


def test_init_image_is_where_the_run_starts(tmp_path, images):
    start = tmp_path / "start.png"
    content = image_read.load_picture(images / "content16.png")
    image_write.save_picture(Picture(rgb=np.ascontiguousarray(content.rgb[:, ::-1]), bits=16), start)
    result = run_cli(images / "content16.png", images / "style.png", "-o", tmp_path / "out.png",
                     "--init-image", start, "--content-weight", "0", "--style-weight", "0",
                     "--edge-weight", "0", *[value if value != "32" else "0" for value in FAST])
    assert result.returncode == 0, result.stderr
    written = image_read.load_picture(tmp_path / "out.png")
    # (30 px high: worked on scaled up to 32 px and back, so not sample for sample)
    assert np.abs(written.rgb - content.rgb[:, ::-1]).mean() < 0.01
    assert np.abs(written.rgb - content.rgb).mean() > 0.05
    wrong = run_cli(images / "content16.png", images / "style.png", "-o", tmp_path / "out2.png",
                    "--init-image", images / "style.png", *FAST)
    assert wrong.returncode == 1
    assert "The starting image" in one_error_line(wrong) and "must be the same size" in wrong.stderr


def test_sigterm_stops_cleanly(tmp_path, images):
    import signal

    process = start_long_run(images / "content16.png", images / "style.png", tmp_path / "out.png")
    process.send_signal(signal.SIGTERM)
    rest = process.stdout.read().splitlines()
    assert process.wait(timeout=30) == 130
    last = decode_event(rest[-1])
    assert last["event"] == "error" and last["kind"] == "cancelled"
    assert "nothing was written" in one_error_line(subprocess.CompletedProcess(
        process.args, 130, "", process.stderr.read()))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_stop_while_code_from_exec_runs_still_exits_130(tmp_path, signal_name):
    """The signal lands while exec() runs a string, as when a dataclass is made on import
    (the batch test caught one there). Run with -m, like `python -m core`: CPython then
    remembers a plain KeyboardInterrupt as unhandled, though caught, and ends the process
    by SIGINT (-2) instead of the 130 main returned."""
    # Ctrl-C as in a terminal: a shell without job control starts background jobs with
    # SIGINT ignored, and stop_on_sigterm rightly leaves an ignored SIGINT alone.
    (tmp_path / "stopped_in_exec.py").write_text(
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from core.cli import EXIT_INTERRUPTED, stop_on_sigterm\n"
        "stop_on_sigterm()\n"
        "try:\n"
        "    exec('import os, signal, time\\nos.kill(os.getpid(), signal.%s)\\ntime.sleep(20)')\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(EXIT_INTERRUPTED)\n" % signal_name)
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    result = subprocess.run([sys.executable, "-m", "stopped_in_exec"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (130, "")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_in_place_on_a_terminal():
    from core.progress_text import ProgressBar

    stream = _Terminal()
    bar = ProgressBar(stream, width=10)
    bar({"event": "start", "total": 4, "scales": 2, "device": "cpu", "width": 40, "height": 30})
    for step in (1, 4):
        bar({"event": "progress", "step": step, "total": 4, "scale": 1 + step // 3, "scales": 2,
             "losses": {"total": 12345.0}, "elapsed": 1.0, "eta": 3.0 * (4 - step)})
    bar.finish("Wrote out.png (40x30) in 4 s.")
    text = stream.getvalue()
    assert text.startswith("Painting 40x30 on cpu: 4 steps in 2 scales\n")
    assert "\r[##........] Step 1/4, scale 1/2, about 9 s left, loss 1.23e+04" in text
    assert "\r[##########] Step 4/4, scale 2/2, about 0 s left" in text
    assert text.endswith("\nWrote out.png (40x30) in 4 s.\n")


def test_event_writer_writes_nothing_after_its_final_line():
    from core.event_writer import EventWriter

    stream = io.StringIO()
    writer = EventWriter(stream)
    assert writer.write("error", final=True, kind="cancelled", message="The engine stopped.")
    # Another thread's progress line, a moment later: it must not follow the last words.
    assert not writer.write("progress", timeout=0.05, step=3, total=9, scale=1, scales=1,
                            losses={"total": 1.0}, elapsed=0.1, eta=0.2)
    assert [decode_event(line)["event"] for line in stream.getvalue().splitlines()] == ["error"]


def test_event_writer_sends_non_finite_losses_as_null():
    from core.event_writer import EventWriter

    stream = io.StringIO()
    EventWriter(stream).forward({
        "event": "progress", "step": np.int64(1), "total": 2, "scale": 1, "scales": 1,
        "losses": {"content": float("nan"), "style": np.float32(2.5), "tv": float("inf"), "total": 1.0},
        "elapsed": 0.5, "eta": None})
    event = decode_event(stream.getvalue())
    assert stream.getvalue().count("\n") == 1
    assert event["losses"] == {"content": None, "style": 2.5, "tv": None, "total": 1.0}
    assert event["step"] == 1
