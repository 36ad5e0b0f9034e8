# GIMP-side script for the dialog screenshot (GUI GIMP under Xvfb): opens the bundled
# photo and painting, shows the photo, and opens the plug-in's dialog the way the menu
# does (interactive run). The harness grabs the screen meanwhile and then closes GIMP.
# ruff: noqa: F821  (Gimp, Gio and PARAMS come from python-fu-eval and the harness)

import sys

PROCEDURE = "python-fu-neural-style-transfer"


def load(path):
    return Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))


photo = load(PARAMS["photo"])
painting = load(PARAMS["painting"])
Gimp.Display.new(painting)
Gimp.Display.new(photo)
Gimp.displays_flush()
proc = Gimp.get_pdb().lookup_procedure(PROCEDURE)
config = proc.create_config()
config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
config.set_property("image", photo)
config.set_core_object_array("drawables", photo.get_layers()[:1])
config.set_property("style-layer", painting.get_layers()[0])
sys.stdout.write("NSGIMP3-DIALOG opening\n")
sys.stdout.flush()
proc.run(config)
