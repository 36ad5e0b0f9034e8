#!/usr/bin/env python3
"""Set up Neural Style for GIMP: engine environment, plug-in in every GIMP profile, demo.

    python3 install.py              engine venv + plug-in + example result
    python3 install.py --check      diagnosis: GIMP profiles, plug-in, engine, weights, CUDA
    python3 install.py --uninstall  remove exactly what install.py put in place

Runs with the system's Python 3 (3.8 or newer) and its standard library only; the work is
done by the installer/ package beside this file (see installer/__init__.py).
"""

import sys

from installer.cli import main

if __name__ == "__main__":
    sys.exit(main())
