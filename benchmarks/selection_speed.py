"""A selection run against the whole layer, side by side (issue 13's goal: a 25% selection
of a 1024 px layer takes at most 35% of the whole layer's time).

Content: benchmarks/data/astronaut.png scaled (bicubic) to SIDE x SIDE; style:
starry_night.jpg; the selection: a centred square of half the side (25% of the pixels).
Both runs are one core.api.stylize call each with the same options and the same cached
network (built by an untimed warm-up, so neither run pays for it); they alternate when
--repeats is above 1. Reported per run: wall seconds, CPU seconds of this process, the
working size from the start event; then the ratios (selection / whole), and a check that
every pixel outside the selection came back unchanged.

  python benchmarks/selection_speed.py                       # Preview preset, --size 512
  python benchmarks/selection_speed.py --steps 20 --repeats 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from core.api import stylize  # noqa: E402
from core.image_write import samples_from_picture  # noqa: E402
from core.network_cache import cached_network  # noqa: E402
from core.picture import Picture  # noqa: E402


def picture(name: str, side: int | None = None) -> Picture:
    image = Image.open(os.path.join(HERE, "data", name)).convert("RGB")
    if side is not None:
        image = image.resize((side, side), Image.BICUBIC)
    return Picture(rgb=np.asarray(image, dtype=np.float32) / 255.0)


def timed(content: Picture, style: Picture, options: dict, mask: np.ndarray | None) -> dict:
    events: list[dict] = []
    wall, cpu = time.monotonic(), time.process_time()
    result = stylize(content, [style], options, mask=mask, progress=events.append,
                     network_factory=cached_network)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    start = events[0]
    row = {"selection": mask is not None, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
           "working": "%dx%d" % (start["width"], start["height"]), "steps": start["total"]}
    if mask is not None:
        outside = mask == 0
        row["outside_unchanged"] = bool(np.array_equal(samples_from_picture(result)[outside],
                                                       samples_from_picture(content)[outside]))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=1024, help="the layer's side in pixels")
    parser.add_argument("--preset", default="preview")
    parser.add_argument("--size", type=int, default=512, help="working size (the whole layer's longest side)")
    parser.add_argument("--steps", type=int, default=None, help="default: the preset's")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the rows and ratios to this file")
    arguments = parser.parse_args()

    content = picture("astronaut.png", arguments.side)
    style = picture("starry_night.jpg")
    side = arguments.side
    mask = np.zeros((side, side), np.float32)
    mask[side // 4:side // 4 + side // 2, side // 4:side // 4 + side // 2] = 1.0
    options = {"preset": arguments.preset, "size": arguments.size, "device": arguments.device}
    if arguments.steps is not None:
        options["steps"] = arguments.steps
    stylize(content, [style], dict(options, steps=1, scales=1, size=64), network_factory=cached_network)

    rows = []
    for _ in range(arguments.repeats):
        for selection in (None, mask):
            rows.append(timed(content, style, options, selection))
            print(json.dumps(rows[-1]), flush=True)
    whole = [row for row in rows if not row["selection"]]
    part = [row for row in rows if row["selection"]]
    summary = {
        "command": " ".join(["python", "benchmarks/selection_speed.py"] + sys.argv[1:]),
        "options": options, "side": side, "selected_share": 0.25,
        "wall_ratio": round(sum(r["wall_s"] for r in part) / sum(r["wall_s"] for r in whole), 3),
        "cpu_ratio": round(sum(r["cpu_s"] for r in part) / sum(r["cpu_s"] for r in whole), 3),
        "rows": rows,
    }
    print(json.dumps({key: value for key, value in summary.items() if key != "rows"}))
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(summary, handle, indent=1)


if __name__ == "__main__":
    main()
