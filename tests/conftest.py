"""Shared test set-up: make the plug-in side importable the way GIMP loads it."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "gimp_plugin")):
    if path not in sys.path:
        sys.path.insert(0, path)
