"""The checkout install.py runs from: the engine's root, which the plug-in is pointed at."""

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
