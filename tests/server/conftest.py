"""The server tests import the plug-in's client the way GIMP does (tests/conftest.py)."""

import os

# As core/__init__.py does for the product: torch must not busy-wait on a shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
