"""The server tests import the plug-in's client the way GIMP does (tests/conftest.py)."""


# core sets how torch's threads wait (core.OPENMP_WAIT); test modules may import torch
# first, so core is imported here, before any of them loads.
import core  # noqa: F401,E402
