"""Peak memory of the engine on large layers (issue 6: 2048x2048 within 24 GB, 4096x4096 completes).

Makes a SIDExSIDE content by upscaling benchmarks/data/astronaut.png (bicubic), then runs
`python -m core` on it at full size (--size 0) under benchmarks/measure.py, which records
that run's wall time, CPU time and peak resident memory. Few steps are enough: memory
does not grow with the number of steps.

  python benchmarks/memory_bench.py --side 2048 --engine-args "--preset preview --steps 20"
  python benchmarks/memory_bench.py --side 4096 --engine-args "--preset preview --steps 8"
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONTENT = os.path.join(HERE, "data", "astronaut.png")
STYLE = os.path.join(HERE, "data", "starry_night.jpg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=2048)
    parser.add_argument("--engine-args", default="--preset preview --steps 20",
                        help="options for `python -m core` (--size 0 and --device cpu are added)")
    parser.add_argument("--out", default="/tmp/bench/memory")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    content = os.path.join(args.out, "astronaut_%d.png" % args.side)
    if not os.path.exists(content):
        with Image.open(CONTENT) as image:
            image.convert("RGB").resize((args.side, args.side), Image.BICUBIC).save(content)
    tag = "%dpx_%s" % (args.side, "_".join(part.lstrip("-") for part in shlex.split(args.engine_args)))
    output = os.path.join(args.out, "result_%s.png" % tag)
    result_path = os.path.join(args.out, "result_%s.json" % tag)
    command = [sys.executable, "-m", "core", content, STYLE, "--output", output, "--size", "0",
               "--device", "cpu", "--progress", "json"] + shlex.split(args.engine_args)
    print("running: %s" % shlex.join(command), flush=True)
    with open(os.path.join(args.out, "result_%s.log" % tag), "w") as log:
        subprocess.run([sys.executable, os.path.join(HERE, "measure.py"), result_path, "--"] + command,
                       stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    with open(result_path) as handle:
        result = json.load(handle)
    result["side"] = args.side
    if result["returncode"] == 0:
        with Image.open(output) as image:
            result["output_size"] = list(image.size)
    print(json.dumps(result, indent=2))
    return result["returncode"]


if __name__ == "__main__":
    sys.exit(main())
