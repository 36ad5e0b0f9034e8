"""The Flatpak stand-in reuses the real-GIMP harness of tests/gimp3 (its cached chroots)."""

import os
import sys

GIMP3_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gimp3")
if GIMP3_TESTS not in sys.path:
    sys.path.insert(0, GIMP3_TESTS)
