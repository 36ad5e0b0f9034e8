"""Neural style transfer engine (Gatys, Ecker, Bethge) for the GIMP plug-in.

Kept free of heavy imports so `python -m core` starts fast and reports missing packages
in plain words; see core.api.stylize for the Python API.
"""

import os

# How torch's CPU threads wait for each other between parallel regions. OpenMP's default
# (libgomp: spin 300,000 rounds, then sleep) made a Preview at 512 px on 2 cores take 108 s
# instead of 21 s beside one busy program, spinning against it; sleeping at once (PASSIVE)
# cost 45% on an idle machine (21.5 s against 14.8), where a step is many short regions.
# A spin of 1,000 rounds (what libgomp falls to under ACTIVE with more threads than CPUs)
# keeps most of both: 14.8 s idle, 23.9 s beside a busy program. benchmarks/openmp_wait.py
# measures it. GOMP_SPINCOUNT is libgomp's (torch on Linux); other OpenMP runtimes read
# the policy. Both must be set before torch is first imported.
OPENMP_WAIT = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "1000"}
for _name, _value in OPENMP_WAIT.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
