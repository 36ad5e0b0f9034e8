"""`python -m core.selfcheck [--smoke-test]`: can this environment run the engine? One JSON line.

install.py runs it with the engine's Python (when installing, and for --check) and reads the
last line of stdout, an object with these keys, checked in this order:

  engine      "core VERSION from PATH": the engine and protocol/ import
  torch       torch's version; also cuda (bool), cuda_device (its name, with cuda), mps (bool)
  weights     "VGG-19, 16 conv layers, FILE": the embedded weights, read and checksummed by
              the engine's own loader (core.vgg)
  smoke_test  only with --smoke-test: {"steps", "width", "height", "seconds"} of a short run
              through core.api.stylize on the CPU, on pictures made in memory

A part that fails gives NAME_error instead (the engine's own plain-words message), the
parts after it are not tried (each needs the one before), and the exit status is 1.
Heavy imports happen inside the checks, so a missing torch is a report, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import core
from core.errors import DeviceError, EngineError

SMOKE_STEPS = 2
SMOKE_CONTENT_SIZE = (20, 24)  # height, width: tiny, and not square
SMOKE_STYLE_SIDE = 24
SMOKE_OPTIONS = {"size": 32, "steps": SMOKE_STEPS, "device": "cpu"}


def _failure(error: BaseException) -> str:
    """The engine's errors already speak plain words; others get their type for context."""
    if isinstance(error, EngineError):
        return str(error)
    return "%s: %s" % (type(error).__name__, error)


def check_engine() -> dict[str, Any]:
    import protocol  # noqa: F401  (the half of the engine shared with the plug-in)

    return {"engine": "core %s from %s" % (core.__version__, core.__file__)}


def check_torch() -> dict[str, Any]:
    import torch

    from core.device import resolve_device
    from core.precision import network_precision

    def available(name: str) -> bool:
        try:
            resolve_device(name)
        except DeviceError:
            return False
        return True

    report: dict[str, Any] = {"torch": torch.__version__, "cuda": available("cuda"), "mps": available("mps")}
    if report["cuda"]:
        report["cuda_device"] = torch.cuda.get_device_name(0)
    # Whether the network runs in bfloat16 on the device "auto" picks (the speed figures differ).
    report["bf16"] = network_precision(resolve_device("auto")) is not None
    return report


def check_weights() -> dict[str, Any]:
    from core.vgg import load_weights

    weights = load_weights("embedded")
    return {"weights": "VGG-19, %d conv layers, %s" % (len(weights.convs), os.path.basename(weights.source))}


def smoke_pictures() -> tuple[Any, Any]:
    """A colour ramp as content and a yellow/blue checkerboard as style."""
    import numpy as np

    from core.picture import Picture

    height, width = SMOKE_CONTENT_SIZE
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = np.stack([x / width, y / height, np.full_like(x, 0.5)], axis=2)
    y, x = np.mgrid[0:SMOKE_STYLE_SIDE, 0:SMOKE_STYLE_SIDE]
    squares = ((x // 4 + y // 4) % 2).astype(bool)[..., None]
    checks = np.where(squares, np.float32([1.0, 0.8, 0.0]), np.float32([0.1, 0.15, 0.6]))
    return Picture(rgb=ramp.astype(np.float32)), Picture(rgb=checks.astype(np.float32))


def smoke_test() -> dict[str, Any]:
    import numpy as np

    from core.api import stylize

    content, style = smoke_pictures()
    steps: list[int] = []
    started = time.perf_counter()
    result = stylize(content, [style], SMOKE_OPTIONS,
                     progress=lambda event: steps.append(1) if event["event"] == "progress" else None)
    seconds = time.perf_counter() - started
    if result.rgb.shape != content.rgb.shape or not np.isfinite(result.rgb).all():
        raise EngineError("The test run gave a %s result with invalid values for a %s content." % (
            result.rgb.shape, content.rgb.shape))
    return {"smoke_test": {"steps": len(steps), "width": content.width, "height": content.height,
                           "seconds": round(seconds, 2)}}


def run_checks(with_smoke_test: bool) -> dict[str, Any]:
    checks = [("engine", check_engine), ("torch", check_torch), ("weights", check_weights)]
    if with_smoke_test:
        checks.append(("smoke_test", smoke_test))
    report: dict[str, Any] = {}
    for name, check in checks:
        try:
            report.update(check())
        except Exception as error:
            report[name + "_error"] = _failure(error)
            break
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.selfcheck",
                                     description="Check that this environment can run the engine; "
                                                 "print the findings as one JSON line.")
    parser.add_argument("--smoke-test", action="store_true",
                        help="also run %d steps on a tiny picture on the CPU" % SMOKE_STEPS)
    args = parser.parse_args(argv)
    report = run_checks(args.smoke_test)
    print(json.dumps(report), flush=True)
    return 1 if any(key.endswith("_error") for key in report) else 0


if __name__ == "__main__":
    sys.exit(main())
