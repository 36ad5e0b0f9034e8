"""Neural style transfer engine (Gatys, Ecker, Bethge) for the GIMP plug-in.

Kept free of heavy imports so `python -m core` starts fast and reports missing packages
in plain words; see core.api.stylize for the Python API.
"""

import os

# OpenMP's default busy-waiting makes torch's CPU threads spin against each other when the
# machine is busy (other programs, GIMP itself): measured 5-10x slower steps on 2 cores
# under load, and no loss when idle. It must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
