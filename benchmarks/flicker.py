#!/usr/bin/env python3
"""Flicker of styled animation frames, with and without "start each layer from the
previous result" (the plug-in's from-previous: each frame's job gets the previous
frame's result as its `init`).

    .venv/bin/python benchmarks/flicker.py [--frames 6] [--size 96] [--steps 20] [--out FILE]

The frames are a camera pan: a crop window sliding over benchmarks/data/astronaut.png.
Each frame is styled (benchmarks/data/starry_night.jpg) by the engine's worker, exactly as
the plug-in drives it: PAM files and a job file in a run folder, `python -m core.worker`.
Flicker = mean absolute difference between consecutive styled frames, divided by that of
consecutive content frames (1.0: the styling changes as much as the picture does; lower
is steadier). Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from protocol.job import make_job, write_job  # noqa: E402
from protocol.pam import read_pam, write_pam_atomically  # noqa: E402
from protocol.raster import Raster  # noqa: E402

DATA = ROOT / "benchmarks" / "data"


def pan_frames(count: int, size: int, step: int) -> list[np.ndarray]:
    """`count` crops of `size` pixels, each `step` pixels right of the one before."""
    photo = np.asarray(Image.open(DATA / "astronaut.png").convert("RGB"))
    top = (photo.shape[0] - size) // 3
    return [photo[top:top + size, 40 + index * step:40 + index * step + size].copy()
            for index in range(count)]


def raster(pixels: np.ndarray) -> Raster:
    height, width, channels = pixels.shape
    return Raster(width, height, channels, 8, np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())


def style_frames(frames: list[np.ndarray], style: np.ndarray, options: dict, from_previous: bool,
                 python: str) -> tuple[list[np.ndarray], float]:
    results, previous, started = [], None, time.time()
    for frame in frames:
        with tempfile.TemporaryDirectory(prefix="flicker-") as folder:
            write_pam_atomically(os.path.join(folder, "content.pam"), raster(frame))
            write_pam_atomically(os.path.join(folder, "style0.pam"), raster(style))
            init = None
            if from_previous and previous is not None:
                write_pam_atomically(os.path.join(folder, "init.pam"), raster(previous))
                init = "init.pam"
            job = write_job(folder, make_job("content.pam", ["style0.pam"], "result.pam", options, init=init))
            done = subprocess.run([python, "-m", "core.worker", job], cwd=ROOT, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit("the worker failed:\n%s\n%s" % (done.stdout[-2000:], done.stderr[-2000:]))
            result = read_pam(os.path.join(folder, "result.pam"))
            previous = np.frombuffer(result.data, np.uint8).reshape(result.height, result.width, 3)
            results.append(previous)
    return results, time.time() - started


def mean_step(frames: list[np.ndarray]) -> float:
    steps = [np.abs(b.astype(float) - a.astype(float)).mean() for a, b in zip(frames, frames[1:])]
    return float(np.mean(steps))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--size", type=int, default=96, help="frame side in pixels")
    parser.add_argument("--pan", type=int, default=6, help="pixels the window moves per frame")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--python", default=sys.executable, help="the engine's Python")
    parser.add_argument("--out", help="also write the summary (JSON) here")
    args = parser.parse_args()
    frames = pan_frames(args.frames, args.size, args.pan)
    style = np.asarray(Image.open(DATA / "starry_night.jpg").convert("RGB").resize((128, 101)))
    options = {"steps": args.steps, "size": 0, "seed": 1, "device": "cpu", "preset": "preview"}
    content_step = mean_step(frames)
    summary = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "frames": args.frames,
               "size": args.size, "pan_px": args.pan, "steps": args.steps,
               "content_mean_abs_step": round(content_step, 3)}
    for name, from_previous in (("independent", False), ("from_previous", True)):
        styled, seconds = style_frames(frames, style, options, from_previous, args.python)
        step = mean_step(styled)
        summary[name] = {"styled_mean_abs_step": round(step, 3), "flicker": round(step / content_step, 3),
                         "seconds": round(seconds, 1)}
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
