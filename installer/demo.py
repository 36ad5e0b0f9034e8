"""The example result at the end of an install: the bundled photo in the bundled painting's style."""

from __future__ import annotations

import time
from pathlib import Path

from installer.checkout import CHECKOUT
from installer.console import InstallError, say
from installer.processes import run

EXAMPLE_PHOTO = "examples/photo.png"
EXAMPLE_PAINTING = "examples/painting.jpg"
DEMO_RESULT = "out/example-result.png"
# The Balanced preset at the photo's own size (384 px): the first result a user sees should
# look like the product. Measured on 2-core Intel Xeons: 15-19 s wall / 23 CPU s with AMX
# (bfloat16, 2026-12-05); 84 s wall / 137 CPU s without AMX (float32, see core.precision;
# 2026-12-02, with an engine since made faster). The cat in The Starry Night's strokes and
# palette.
# The Preview preset left magenta patches along the top (Gram loss); the former 40 Preview
# steps at 256 px (17 s) gave pink patterns, not the painting.
DEMO_OPTIONS = ("--preset", "balanced", "--size", "384")
DEMO_EXPECTED = "15-90 s on 2 CPU cores, less with more cores or a GPU"


def run_demo(python: Path) -> Path:
    """Paint the example through the engine's command line, its progress shown live."""
    photo, painting = CHECKOUT / EXAMPLE_PHOTO, CHECKOUT / EXAMPLE_PAINTING
    for path in (photo, painting):
        if not path.is_file():
            raise InstallError("The bundled example %s is missing. Update the checkout (git pull), or "
                               "skip the example with --no-demo." % path)
    result_path = CHECKOUT / DEMO_RESULT
    result_path.parent.mkdir(parents=True, exist_ok=True)
    say("Example: painting %s in the style of %s (%s)..." % (
        EXAMPLE_PHOTO, EXAMPLE_PAINTING, DEMO_EXPECTED))
    command = [python, "-m", "core", photo, painting, "-o", result_path] + list(DEMO_OPTIONS)
    started = time.time()
    result = run(command, capture=False)
    if result.returncode != 0 or not result_path.is_file():
        raise InstallError("The example run failed (the engine's message is above). Run "
                           "`python3 install.py --check` for a diagnosis.")
    say("Example: done in %.0f s: %s" % (time.time() - started, result_path))
    return result_path
