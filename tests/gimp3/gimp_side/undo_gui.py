# GIMP-side script for the real undo check (GUI GIMP under Xvfb). GIMP 3.0's PDB has no
# procedure that performs an undo, so the harness presses Ctrl+Z in the image window with
# xdotool, like a user. This script runs the plug-in, says it is ready, waits for the new
# layer to go away, and reports the layer stack before, after the run and after the undo.
# ruff: noqa: F821  (Gimp, Gegl, PARAMS and the helpers of cases.py come from the harness)

import time

exec(open(PARAMS["cases_file"]).read())  # the helpers and scene of the headless cases

image, content, style_image, style = scene()
image.select_rectangle(Gimp.ChannelOps.REPLACE, *PARAMS["selection"])  # the run must still be one undo step
Gimp.Display.new(image)
Gimp.displays_flush()


def selection(image):
    bounds = Gimp.Selection.bounds(image)
    return [bounds.non_empty, bounds.x1, bounds.y1, bounds.x2, bounds.y2]


before = stack(image)
selection_before = selection(image)
run = run_plugin(image, content, style)
after_run = stack(image)
Gimp.displays_flush()
sys.stdout.write("NSGIMP3-UNDO ready\n")
sys.stdout.flush()
deadline = time.time() + PARAMS.get("wait", 60)
while len(image.get_layers()) == len(after_run) and time.time() < deadline:
    time.sleep(0.25)
time.sleep(1.0)  # a second undo, if one were pressed by mistake, would show up too
emit({"case": "undo", "ok": True, "seconds": 0,
      "data": dict(run, before=before, after_run=after_run, after_undo=stack(image),
                   selection_before=selection_before, selection_after_undo=selection(image))})
