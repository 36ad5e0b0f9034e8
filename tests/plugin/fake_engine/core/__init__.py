"""A stand-in engine for plug-in tests (see worker.py)."""
