# GIMP-side script for the real undo check of a group run (GUI GIMP under Xvfb): the
# plug-in paints every layer of a group of three, then the harness presses Ctrl+Z once
# (GIMP 3's PDB has no procedure that performs an undo) and this script reports the
# layers before, after the run and after the undo.
# ruff: noqa: F821  (Gimp, PARAMS and the helpers of cases.py come from the harness)

import time

exec(open(PARAMS["cases_file"]).read())  # the helpers and scenes of the headless cases

image, group, style = group_scene()
Gimp.Display.new(image)
Gimp.displays_flush()
before = all_items(image)
run = run_plugin(image, group.get_children()[1], style,
                 arguments=dict(PARAMS["arguments"], **{"apply-to": "group"}))
after_run = all_items(image)
Gimp.displays_flush()
sys.stdout.write("NSGIMP3-UNDO ready\n")
sys.stdout.flush()
deadline = time.time() + PARAMS.get("wait", 60)
while len(all_items(image)) == len(after_run) and time.time() < deadline:
    time.sleep(0.25)
time.sleep(1.0)  # a second undo, if one were pressed by mistake, would show up too
emit({"case": "undo", "ok": True, "seconds": 0,
      "data": dict(run, before=before, after_run=after_run, after_undo=all_items(image))})
