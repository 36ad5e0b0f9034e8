"""Helpers shared by the plug-in tests (an engine config, deterministic pixels)."""

import array
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_ENGINE_ROOT = os.path.join(HERE, "fake_engine")


def write_config(folder, python=sys.executable, engine_root=FAKE_ENGINE_ROOT, **extra):
    config = {"python": python, "engine_root": engine_root, "version": 1}
    config.update(extra)
    path = os.path.join(str(folder), "neural_style_config.json")
    with open(path, "w") as handle:
        json.dump(config, handle)
    return path


def pattern(width, height, channels, bits=8, seed=1):
    """Deterministic, varied pixel bytes (native byte order for 16-bit)."""
    values = [(seed * 7919 + index * 104729) % (256 if bits == 8 else 65536)
              for index in range(width * height * channels)]
    if channels in (2, 4):  # an alpha with some variety but never all zero
        for index in range(channels - 1, len(values), channels):
            values[index] = max(1, values[index])
    if bits == 8:
        return bytes(bytearray(values))
    return array.array("H", values).tobytes()
