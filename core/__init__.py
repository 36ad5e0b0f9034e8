"""Neural style transfer engine (Gatys, Ecker, Bethge) for the GIMP plug-in.

Kept free of heavy imports so `python -m core` starts fast and reports missing packages
in plain words; see core.api.stylize for the Python API.
"""

__version__ = "0.1.0"
