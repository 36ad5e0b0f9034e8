"""GIMP side of Neural Style Transfer: shim, back ends, run logic, the engine's process.

Standard library only and valid in both Python 2.7 (GIMP 2.10) and Python 3 (GIMP 3):
the plug-in logic is written once against the gimpfu-style API in `shim`, and each
back end (GIMP 3, GIMP 2.10's gimpfu; tests/plugin/fake_host.py for tests) implements it.
"""
