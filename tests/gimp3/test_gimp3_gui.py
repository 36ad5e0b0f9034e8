"""Undo in the real GIMP 3 GUI: one Ctrl+Z removes the plug-in's whole result.

GIMP 3's PDB can open and close undo groups but has no procedure that performs an undo,
so a batch script cannot undo. Here GIMP runs with its GUI on a private Xvfb screen and
xdotool presses Ctrl+Z in the image window, as a user would.
"""

from __future__ import annotations

import pytest
from gimp3_harness import HarnessError, Unavailable, ensure_gui_tools, unavailable

ARGUMENTS = {"steps": 2, "size": 32, "seed": 7, "preset": "preview", "device": "cpu"}
SELECTION = [15, 10, 20, 16]

# Waits until the script has run the plug-in, focuses the image window, presses Ctrl+Z
# once, and waits for the script's report.
UNDO_DRIVER = """
for i in $(seq 1 1200); do grep -q 'NSGIMP3-UNDO ready' {w}/gimp.log && break; sleep 0.5; done
window=$(xdotool search --onlyvisible --name 'Untitled' | head -n 1)
echo "image window: $window"
xdotool windowfocus "$window"
sleep 1
xdotool key ctrl+z
for i in $(seq 1 240); do grep -q '"case": "undo"' {w}/gimp.log && break; sleep 0.5; done
"""


@pytest.fixture(scope="module")
def gui(gimp3):
    try:
        ensure_gui_tools(gimp3.root, gimp3.series)
    except (Unavailable, HarnessError) as reason:
        unavailable("the GUI tools (Xvfb, xdotool) are not in the chroot and could not be added: %s"
                    % reason)
    return gimp3


def test_one_undo_removes_the_new_layer(gui, profile_factory):
    workdir, _ = profile_factory()
    script = gui.write_script(workdir, "undo_gui.py", {
        "arguments": ARGUMENTS, "selection": SELECTION, "cases_file": gui.gimp_side("cases.py")})
    run = gui.run_gui(script, workdir, UNDO_DRIVER.replace("{w}", workdir), timeout=600)
    record = run.results.get("undo")
    assert record is not None, "the undo script reported nothing.\n%s" % run.report()
    data = record["data"]
    assert data["status"] == "success", run.report()
    names = [layer["name"] for layer in data["after_run"]]
    assert names == ["overlay", "content in the style of style", "content", "background"], run.report()
    # One Ctrl+Z: the layer and its pixels go at once; the rest is as before.
    assert data["after_undo"] == data["before"], run.report()
    # ...and only one step went: the selection made just before the run is still there.
    assert data["selection_after_undo"] == data["selection_before"] == [True, 15, 10, 35, 26]
