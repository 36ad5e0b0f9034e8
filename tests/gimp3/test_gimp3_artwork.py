"""Issue 13 in the real GIMP 3.0 and 3.2: a selection is the engine's mask (outside it the
pixels stay bit for bit, and the run is faster than the whole layer), a selection in the
style's image makes a style region, two style layers blend, a group of three layers gets
three new layers in one undo step (a real Ctrl+Z in the GUI), and Cancel during the
second layer of a group leaves the image as it was. Tiny pictures, 2-3 steps, except the
timing case, which needs a layer big enough for the difference to stand above the
engine's start-up time.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
from gimp3_harness import GimpRun, HarnessError, Unavailable, decode_bytes, ensure_gui_tools, unavailable
from test_gimp3_gui import UNDO_DRIVER
from test_gimp3_plugin import ARGUMENTS, case, succeeded
from test_gimp3_server import plugin_processes, wait_for

# The timing case's layer: the selection is 1/64 of it. Large enough that the work, not
# the engine's start, decides the time (at 384 px six steps took 3.4 s in all).
BIG = 768
BIG_ARGUMENTS = dict(ARGUMENTS, steps=6, size=0)
BIG_SELECTION = [104, 104, 96, 96]  # image coordinates (the layer sits at 8, 8)
CANCEL_ARGUMENTS = dict(ARGUMENTS, steps=60)
GIMP_TIMEOUT = 900


@pytest.fixture(scope="module")
def art_run(gimp3, profile_factory) -> GimpRun:
    workdir, _ = profile_factory()
    run = gimp3.run_cases(workdir, ["art_style_region", "art_two_styles", "art_group", "art_selection"],
                          params={"arguments": ARGUMENTS, "big_arguments": BIG_ARGUMENTS, "big_size": BIG,
                                  "big_selection": BIG_SELECTION, "feather": 6.0},
                          timeout=GIMP_TIMEOUT)
    sys.stderr.write("[gimp3] artwork run: %.1f s\n" % run.seconds)
    assert not run.timed_out, run.report()
    return run


def layer_pixels(layer: dict) -> np.ndarray:
    width, height = layer["size"]
    return np.frombuffer(decode_bytes(layer["pixels"]), dtype=np.uint8).reshape(height, width, 4)


def digest(record: dict) -> str:
    return hashlib.sha256(base64.b64decode(record["layer"]["pixels"])).hexdigest()


def painted(run: GimpRun, record: dict) -> dict:
    succeeded(run, record)
    assert len(record["added"]) == 1, run.report()
    return record["layer"]


def test_a_selection_changes_only_selected_pixels(art_run):
    data = case(art_run, "art_selection")
    whole, selected = painted(art_run, data["whole"]), painted(art_run, data["selected"])
    size = data["size"]
    content = np.frombuffer(decode_bytes(data["content_pixels"]), dtype=np.uint8).reshape(size, size, 4)
    mask = np.frombuffer(decode_bytes(data["mask"]), dtype=np.uint8).reshape(size, size)
    result = layer_pixels(selected)
    assert selected["size"] == [size, size] and selected["offsets"] == [8, 8]
    assert not selected["has_mask"]  # the pixels hold the blend; a mask would blend twice
    assert 0 < (mask == 255).mean() < 0.05 and ((mask > 0) & (mask < 255)).any()  # feathered
    assert np.array_equal(result[mask == 0], content[mask == 0]), "pixels outside the selection changed"
    inside = np.abs(result[mask == 255][:, :3].astype(int) - content[mask == 255][:, :3].astype(int))
    assert inside.mean() > 2.0, "the selected pixels barely changed (%.2f)" % inside.mean()
    assert not np.array_equal(layer_pixels(whole)[mask == 0], content[mask == 0])  # whole: all painted
    seconds = (data["whole"]["plugin_seconds"], data["selected"]["plugin_seconds"])
    # Reported, not asserted: a wall-clock ratio inside GIMP flaked (40 s against 21 s on one
    # CI run); that the work is confined to the selection's box is asserted by
    # tests/engine/test_selection.py, and its speed is measured by benchmarks/selection_speed.py.
    sys.stderr.write("[gimp3] whole layer %.1f s, selection %.1f s\n" % seconds)


def test_a_style_region_differs_from_the_whole_style(art_run):
    data = case(art_run, "art_style_region")
    whole, region = painted(art_run, data["whole"]), painted(art_run, data["region"])
    assert whole["name"] == "content in the style of halves"
    assert region["name"] == "content in the style of halves (selection)"
    assert digest(data["whole"]) != digest(data["region"])


def test_two_style_layers_blend(art_run):
    data = case(art_run, "art_two_styles")
    for name in ("first", "second", "both"):
        painted(art_run, data[name])
    assert data["both"]["layer"]["name"] == "content in the style of style + greens"
    digests = set(digest(data[name]) for name in ("first", "second", "both"))
    assert len(digests) == 3, "the blend equals one of the styles alone"


def test_a_group_of_three_gets_three_layers_each_above_its_source(art_run):
    data = case(art_run, "art_group")
    succeeded(art_run, data)
    names = [(name, depth) for name, depth, _ in data["after"]]
    assert names == [("frames", 0),
                     ("frame 3 in the style of style", 1), ("frame 3", 1),
                     ("frame 2 in the style of style", 1), ("frame 2", 1),
                     ("frame 1 in the style of style", 1), ("frame 1", 1),
                     ("background", 0)], art_run.report()
    assert data["dirty_after"] is True
    assert "undo in inconsistent state" not in art_run.output, art_run.report()


class CancelDriver(threading.Thread):
    """Kills the plug-in (as GIMP's Cancel does) once the second layer's engine runs."""

    def __init__(self, gimp3, workdir: str):
        super().__init__(daemon=True)
        self.gimp3, self.workdir, self.notes = gimp3, workdir, {}

    def run(self) -> None:
        tmp = self.gimp3.host_path(self.workdir + "/tmp")
        marker = self.gimp3.host_path(self.workdir + "/started-art_cancel")
        seen: set = set()

        def second_layer() -> bool:
            if tmp.exists():
                seen.update(name for name in os.listdir(tmp) if name.startswith("neural-style-gimp-"))
            return len(seen) >= 2

        if not (wait_for(marker.exists, 300) and wait_for(second_layer, 300)):
            self.notes["error"] = "the second layer's engine never started (run folders: %s)" % sorted(seen)
            return
        time.sleep(0.5)
        victims = plugin_processes(self.workdir)
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        self.notes["killed"] = len(victims)


@pytest.fixture(scope="module")
def cancel_run(gimp3, profile_factory) -> GimpRun:
    workdir, _ = profile_factory()
    driver = CancelDriver(gimp3, workdir)
    driver.start()
    run = gimp3.run_cases(workdir, ["art_cancel"], params={
        "arguments": ARGUMENTS, "cancel_arguments": CANCEL_ARGUMENTS, "workdir": workdir},
        timeout=GIMP_TIMEOUT)
    driver.join(30)
    run.driver = driver.notes
    assert not run.timed_out, run.report()
    return run


def test_cancel_during_the_second_layer_leaves_the_image_as_it_was(cancel_run):
    data = case(cancel_run, "art_cancel")
    assert cancel_run.driver.get("killed") == 1, "%r\n%s" % (cancel_run.driver, cancel_run.report())
    assert data["status"] != "success", cancel_run.report()
    assert data["after"] == data["before"], cancel_run.report()
    assert data["inner_after"] == data["inner_before"], cancel_run.report()


@pytest.fixture(scope="module")
def gui(gimp3):
    try:
        ensure_gui_tools(gimp3.root, gimp3.series)
    except (Unavailable, HarnessError) as reason:
        unavailable("the GUI tools (Xvfb, xdotool) are not in the chroot and could not be added: %s" % reason)
    return gimp3


def test_one_undo_removes_all_three_new_layers(gui, profile_factory):
    workdir, _ = profile_factory()
    script = gui.write_script(workdir, "undo_group_gui.py", {
        "arguments": dict(ARGUMENTS, steps=2), "cases_file": gui.gimp_side("cases.py")})
    run = gui.run_gui(script, workdir, UNDO_DRIVER.replace("{w}", workdir), timeout=600)
    record = run.results.get("undo")
    assert record is not None, "the undo script reported nothing.\n%s" % run.report()
    data = record["data"]
    assert data["status"] == "success", run.report()
    assert len(data["after_run"]) == len(data["before"]) + 3, run.report()
    assert data["after_undo"] == data["before"], run.report()  # one Ctrl+Z: all three gone
