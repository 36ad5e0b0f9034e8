"""Time the engine's CUDA path through core.api.stylize and print one JSON summary.

Cases (issue 6 goals on an H100): 512x512 in 500 L-BFGS steps (goal: 5 s or less),
2048x2048 for a few steps (goal: peak GPU memory within 12 GB), 4096x4096 completes.
Content: benchmarks/data/astronaut.png scaled to each size; style: starry_night.jpg.
Each case is one stylize() call; "seconds" is the whole call (targets, optimisation,
result back on the CPU), "optimise_s" runs from the start event to the last step. Peak GPU
memory is torch.cuda.max_memory_allocated, reset before each case. A small untimed
warm-up run comes first (CUDA context, cuDNN autotuning).

  python benchmarks/gpu_bench.py                        # on a CUDA machine, a few minutes
  python benchmarks/gpu_bench.py --device cpu --quick   # smoke test of the script on a CPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from core.api import stylize  # noqa: E402
from core.picture import Picture  # noqa: E402

CONTENT = os.path.join(HERE, "data", "astronaut.png")
STYLE = os.path.join(HERE, "data", "starry_night.jpg")
GIB = 2.0 ** 30

# (name, side, steps, scales, goal): the full run on a GPU.
FULL_CASES = (
    ("512px_500steps", 512, 500, 1, {"max_seconds": 5.0}),
    ("2048px_30steps", 2048, 30, 1, {"max_peak_gib": 12.0}),
    ("4096px_10steps", 4096, 10, 1, {"completes": True}),
)
# Tiny versions for proving the script on a CPU.
QUICK_CASES = (
    ("96px_20steps", 96, 20, 1, {}),
    ("128px_4steps", 128, 4, 1, {}),
    ("160px_2steps", 160, 2, 2, {}),
)


def picture(path: str, side: int | None = None) -> Picture:
    with Image.open(path) as image:
        image = image.convert("RGB")
        if side is not None:
            scale = side / float(max(image.size))
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
        return Picture(rgb=np.asarray(image, dtype=np.float32) / 255.0)


def run_case(device: str, name: str, side: int, steps: int, scales: int, goal: dict) -> dict:
    content = picture(CONTENT, side)
    style = picture(STYLE)
    marks: dict = {}

    def progress(event: dict) -> None:
        if event["event"] == "start":
            marks["start"] = time.perf_counter()
            marks["info"] = {key: event[key] for key in ("device", "width", "height", "total", "scales")}
        else:
            marks["last"] = time.perf_counter()
            marks["losses"] = event["losses"]

    cuda = device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = {"case": name, "side": side, "steps": steps, "scales": scales}
    try:
        output = stylize(content, [style], {"device": device, "size": side, "steps": steps, "scales": scales},
                          progress=progress)
    except Exception as error:  # report and go on with the next case
        result.update(ok=False, error="%s: %s" % (type(error).__name__, error),
                      seconds=round(time.perf_counter() - started, 3))
    else:
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        optimise = marks.get("last", started) - marks.get("start", started)
        result.update(ok=output.width == content.width and output.height == content.height,
                      seconds=round(seconds, 3), optimise_s=round(optimise, 3),
                      steps_per_s=round(steps / optimise, 2) if optimise > 0 else None,
                      final_losses=marks.get("losses"), **marks.get("info", {}))
    if cuda:
        result["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / GIB, 3)
        result["peak_gpu_reserved_gib"] = round(torch.cuda.max_memory_reserved() / GIB, 3)
    result["process_peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 3)
    if goal and result.get("ok"):
        checks = {}
        if "max_seconds" in goal:
            checks["seconds<=%g" % goal["max_seconds"]] = result["seconds"] <= goal["max_seconds"]
        if "max_peak_gib" in goal and cuda:
            checks["peak_gpu_gib<=%g" % goal["max_peak_gib"]] = result["peak_gpu_gib"] <= goal["max_peak_gib"]
        if goal.get("completes"):
            checks["completes"] = True
        result["goals"] = checks
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu", "mps"))
    parser.add_argument("--quick", action="store_true", help="tiny cases (seconds), to test the script")
    parser.add_argument("--cases", help="comma-separated case names to run (default: all)")
    parser.add_argument("--json-out", help="also write the summary to this file")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("No CUDA device here; use --device cpu --quick for a smoke test.", file=sys.stderr)
        return 2
    cases = QUICK_CASES if args.quick else FULL_CASES
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = tuple(case for case in cases if case[0] in wanted)
    summary = {
        "device": torch.cuda.get_device_name() if args.device == "cuda"
        else "%s (%s)" % (args.device, platform.processor() or platform.machine()),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "threads": torch.get_num_threads(),
        "quick": args.quick,
    }
    warm = time.perf_counter()
    stylize(picture(CONTENT, 64 if args.quick else 256), [picture(STYLE, 128)],
            {"device": args.device, "steps": 3 if args.quick else 10, "scales": 1, "size": 0})
    summary["warmup_s"] = round(time.perf_counter() - warm, 3)
    summary["cases"] = [run_case(args.device, *case) for case in cases]
    summary["all_ok"] = all(case.get("ok") for case in summary["cases"])
    summary["goals_met"] = all(all(case.get("goals", {}).values()) for case in summary["cases"])
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as handle:
            handle.write(text + "\n")
    return 0 if summary["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
