"""The installed plug-in, run by the real GIMP 3, starting the real engine.

One GIMP start runs the menu, layer, selection and 16-bit cases (each GIMP start costs
~10 s before any work); the engine-failure case needs a broken install, so it gets its own
profile and start. The GIMP side (gimp_side/cases.py) only observes and reports; every
assertion is here, and each failure message carries GIMP's full output.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from gimp3_harness import CONFIG_RELPATH, RESULT_PREFIX, GimpRun, decode_bytes

CONTENT_SIZE = (48, 40)
CONTENT_OFFSETS = [9, 6]
SELECTION = [15, 10, 20, 16]  # x, y, width, height in image coordinates
# Tiny and quick: a few seconds of engine time per case on two CPU cores.
ARGUMENTS = {"steps": 3, "size": 32, "seed": 7, "preset": "preview", "device": "cpu"}
BROKEN_PYTHON = "/nonexistent/neural-style-engine/bin/python"
GIMP_TIMEOUT = 600


def case(run: GimpRun, name: str) -> dict:
    record = run.results.get(name)
    assert record is not None, "case %r printed no result.\n%s" % (name, run.report())
    assert record["ok"], "case %r raised inside GIMP:\n%s\n%s" % (name, record.get("error"), run.report())
    sys.stderr.write("[gimp3] case %s: %.1f s inside GIMP\n" % (name, record["seconds"]))
    return record["data"]


def pixels(data: dict, key: str, bits: int) -> np.ndarray:
    dtype = np.uint8 if bits == 8 else np.dtype("<u2")
    width, height = CONTENT_SIZE
    return np.frombuffer(decode_bytes(data[key]), dtype=dtype).reshape(height, width, -1)


def succeeded(run: GimpRun, data: dict) -> None:
    assert data["status"] == "success", "the plug-in failed: %r\n%s" % (data["message"], run.report())


@pytest.fixture(scope="module")
def plugin_run(gimp3, profile_factory) -> GimpRun:
    workdir, _ = profile_factory()
    run = gimp3.run_cases(workdir, ["menu", "basic", "selection", "sixteen_bit"],
                          params={"arguments": ARGUMENTS, "selection": SELECTION}, timeout=GIMP_TIMEOUT)
    sys.stderr.write("[gimp3] plug-in run: %.1f s for the GIMP start\n" % run.seconds)
    assert not run.timed_out, run.report()
    return run


@pytest.fixture(scope="module")
def failure_run(gimp3, profile_factory) -> GimpRun:
    workdir, plugins = profile_factory()
    config_path = plugins / CONFIG_RELPATH
    config = json.loads(config_path.read_text())
    config["python"] = BROKEN_PYTHON
    config_path.write_text(json.dumps(config))
    run = gimp3.run_cases(workdir, ["failure"], params={"arguments": ARGUMENTS}, timeout=GIMP_TIMEOUT)
    assert not run.timed_out, run.report()
    return run


def test_menu_entry_label_and_arguments(plugin_run):
    data = case(plugin_run, "menu")
    assert data["menu_paths"] == ["<Image>/Filters/Artistic"]
    assert data["menu_label"].replace("_", "") == "Neural Style Transfer\u2026"
    for name in ("style-layer", "steps", "size", "seed"):
        assert name in data["arguments"]
    assert "RGB" in data["image_types"] and "GRAY" in data["image_types"]


def test_new_layer_above_content_with_same_geometry_and_stylised_pixels(plugin_run):
    data = case(plugin_run, "basic")
    succeeded(plugin_run, data)
    assert data["new_count"] == 1, plugin_run.report()
    new = data["new"]
    before_names = [layer["name"] for layer in data["before"]]
    after_names = [layer["name"] for layer in data["after"]]
    assert before_names == ["overlay", "content", "background"]
    assert after_names == ["overlay", new["name"], "content", "background"]
    assert new["position"] == 1
    assert new["name"] == "content in the style of style"
    assert new["size"] == list(CONTENT_SIZE) and new["offsets"] == CONTENT_OFFSETS
    assert new["has_alpha"] and not new["has_mask"]

    result, content = pixels(new, "pixels", 8), pixels(data, "content_pixels", 8)
    assert np.array_equal(result[..., 3], content[..., 3]), "alpha changed"
    visible = content[..., 3] > 0
    change = np.abs(result[..., :3].astype(int) - content[..., :3].astype(int))[visible]
    assert change.mean() > 2.0, "pixels barely changed (mean %.2f levels)" % change.mean()
    assert (change.max(axis=-1) > 0).mean() > 0.5, "most pixels unchanged"


def test_content_and_style_layers_are_untouched(plugin_run):
    for name in ("basic", "selection", "sixteen_bit"):
        data = case(plugin_run, name)
        succeeded(plugin_run, data)
        assert data["new_count"] == 1, plugin_run.report()
        new_id = [layer["id"] for layer in data["after"] if layer["name"] == data["new"]["name"]]
        assert [layer for layer in data["after"] if layer["id"] not in new_id] == data["before"], name
        assert data["style_after"] == data["style_before"], name
        assert data["style_image_layers"] == 1


def test_the_run_is_recorded_for_undo_in_balanced_groups(plugin_run):
    """Headless part of the undo check (test_gimp3_gui.py presses the real Ctrl+Z): the
    image was clean before the call and is dirty after it (the insertion went onto the
    undo stack), undo is still enabled, and GIMP did not have to close undo groups the
    plug-in left open."""
    data = case(plugin_run, "basic")
    succeeded(plugin_run, data)
    assert data["dirty_after"] is True
    assert data["undo_enabled_after"] is True
    assert "undo in inconsistent state" not in plugin_run.output, plugin_run.report()


def test_a_selection_paints_only_the_selected_pixels(plugin_run):
    """The selection is the engine's mask: outside it the new layer holds the layer's own
    pixels bit for bit, so it needs no layer mask (a mask would blend feathered edges twice)."""
    data = case(plugin_run, "selection")
    succeeded(plugin_run, data)
    assert data["new_count"] == 1, plugin_run.report()
    new = data["new"]
    assert not new["has_mask"], plugin_run.report()
    width, height = CONTENT_SIZE
    selected = np.zeros((height, width), bool)
    x, y, w, h = SELECTION
    left, top = x - CONTENT_OFFSETS[0], y - CONTENT_OFFSETS[1]
    selected[top:top + h, left:left + w] = True
    result, content = pixels(new, "pixels", 8), pixels(data, "content_pixels", 8)
    assert np.array_equal(result[~selected], content[~selected]), "pixels outside the selection changed"
    change = np.abs(result[selected][:, :3].astype(int) - content[selected][:, :3].astype(int))
    assert change.mean() > 2.0, "the selected pixels barely changed"


def test_sixteen_bit_image_keeps_sixteen_bit_samples(plugin_run):
    data = case(plugin_run, "sixteen_bit")
    succeeded(plugin_run, data)
    assert data["precision"] == "u16-non-linear"
    assert data["new_count"] == 1, plugin_run.report()
    new = data["new"]
    assert new["bpp"] == 8  # RGBA, two bytes a sample
    result, content = pixels(new, "pixels", 16), pixels(data, "content_pixels", 16)
    # The test's own input is not 8-bit in disguise...
    assert (content[..., 3] % 257 != 0).mean() > 0.5
    # ...alpha comes back bit for bit, and the colours are not quantised to 8 bits.
    assert np.array_equal(result[..., 3], content[..., 3]), "16-bit alpha changed"
    colours = result[..., :3][content[..., 3] > 0]
    assert (colours % 257 != 0).mean() > 0.5, "colour samples look quantised to 8 bits"
    change = np.abs(colours.astype(int) - content[..., :3][content[..., 3] > 0].astype(int))
    assert change.mean() > 2.0 * 257, "pixels barely changed"


def test_engine_failure_returns_an_error_and_leaves_the_image_alone(failure_run):
    data = case(failure_run, "failure")
    assert data["status"] == "execution-error", failure_run.report()
    message = data["message"] or ""
    assert message.strip(), "no error message.\n%s" % failure_run.report()
    assert "Traceback" not in message
    assert BROKEN_PYTHON in message or "install.py" in message, message
    assert data["after"] == data["before"]
    assert data["style_after"] == data["style_before"]
    # It also reached the user as a GIMP message, not only the caller as a return value.
    shown = [line for line in failure_run.output.splitlines()
             if message in line and not line.startswith(RESULT_PREFIX)]
    assert shown, failure_run.report()


@pytest.mark.parametrize("which", ["plugin_run", "failure_run"])
def test_the_plugin_process_exits_after_each_call(which, request, gimp3):
    """The plug-in's process is gone within seconds of each call returning.

    Read from the process table inside GIMP's PID namespace. GIMP 3.2's own warning
    ("Zombie plug-in ... never exited") is no measure: on a busy machine it names GIMP's
    own python-eval plug-in too, whenever a plug-in is slower to exit than GIMP waits.
    """
    run = request.getfixturevalue(which)
    calls = {name: record["data"] for name, record in run.results.items()
             if record.get("ok") and "plugin_exit_seconds" in record["data"]}
    assert calls, run.report()
    for name, data in calls.items():
        assert data["plugin_exit_seconds"] is not None, (
            "%s: the plug-in still ran 15 s after the call.\n%s" % (name, run.report()))


@pytest.mark.parametrize("which", ["plugin_run", "failure_run"])
def test_no_run_folder_is_left_behind(which, request, gimp3):
    run = request.getfixturevalue(which)
    leftovers = [entry.name for entry in gimp3.host_path(run.workdir + "/tmp").iterdir()
                 if entry.name.startswith("neural-style-gimp-")]
    assert not leftovers, "temporary run folders left behind: %s" % leftovers
