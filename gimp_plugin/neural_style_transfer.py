#!/usr/bin/env python3
"""GIMP 3 entry of Neural Style Transfer (Filters > Artistic > Neural Style Transfer...).

install.py copies this file to <plug-ins>/neural_style_transfer/ next to the
neural_style_plugin/ and protocol/ packages and neural_style_config.json.
"""

import os
import sys

import gi

gi.require_version("Gimp", "3.0")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gi.repository import Gimp  # noqa: E402
from neural_style_plugin.backend_gimp3 import NeuralStyleTransfer  # noqa: E402

Gimp.main(NeuralStyleTransfer.__gtype__, sys.argv)
