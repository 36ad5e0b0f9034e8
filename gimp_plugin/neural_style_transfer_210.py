#!/usr/bin/env python2
# -*- coding: utf-8 -*-
"""GIMP 2.10 entry of Neural Style Transfer (Filters > Artistic > Neural Style Transfer...).

install.py copies this file to <plug-ins>/neural_style_transfer.py; its code lives in
<plug-ins>/neural_style_transfer_support/ (neural_style_plugin/, protocol/ and
neural_style_config.json), which GIMP does not try to run as plug-ins.
Python 2.7: GIMP 2.10's Python-Fu.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "neural_style_transfer_support"))

from neural_style_plugin import backend_gimpfu  # noqa: E402

backend_gimpfu.register()
backend_gimpfu.main()
