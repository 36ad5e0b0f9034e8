"""Border step: how much of a frame a style-transfer result has along its edges (issue 12).

Definition (benchmarks/README.md, "Border step"; the same as in the quality-anchor notes):

* luma = 0.299 R + 0.587 G + 0.114 B, in 0..255 levels;
* for each side (top, bottom, left, right), the side's step is the mean luma of the outer
  4 px band (full length of the side) minus the mean luma of the next band, 4..16 px in;
* the border step of a result is, per side, |step of the result| - |step of the content|
  (the content resized to the result's size, so a photo's own vignette or sky does not
  count against the engine), and the largest of the four sides. 0 or below: no frame
  beyond the photo's own; the target of issue 12 is at most 3.

As a library:  border_step(result_rgb, content_rgb) -> float
               side_steps(rgb) -> {"top": ..., ...}  (signed: outer minus inner)
As a command:  python benchmarks/border_step.py RESULT CONTENT      (one JSON line)
               python benchmarks/border_step.py --image IMAGE       (signed side steps of one
                                                                     image, e.g. a style)
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from PIL import Image

OUTER_PX = 4
INNER_PX = 16
SIDES = ("top", "bottom", "left", "right")
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def luma(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 in 0..255 (any dtype) -> H x W float64 luma in 0..255."""
    return np.asarray(rgb, dtype=np.float64)[..., :3] @ LUMA_WEIGHTS


def side_steps(rgb: np.ndarray) -> dict[str, float]:
    """Signed step per side: mean luma of the outer 4 px minus that of the 4..16 px band."""
    y = luma(rgb)
    if min(y.shape) < 2 * INNER_PX:
        raise ValueError("image too small for the border step (%dx%d)" % (y.shape[1], y.shape[0]))
    bands = {
        "top": (y[:OUTER_PX], y[OUTER_PX:INNER_PX]),
        "bottom": (y[-OUTER_PX:], y[-INNER_PX:-OUTER_PX]),
        "left": (y[:, :OUTER_PX], y[:, OUTER_PX:INNER_PX]),
        "right": (y[:, -OUTER_PX:], y[:, -INNER_PX:-OUTER_PX]),
    }
    return {side: float(outer.mean() - inner.mean()) for side, (outer, inner) in bands.items()}


def border_steps(result_rgb: np.ndarray, content_rgb: np.ndarray) -> dict[str, float]:
    """Per side: |step of the result| - |step of the content resized to the result|."""
    height, width = np.asarray(result_rgb).shape[:2]
    content = np.asarray(content_rgb)
    if content.shape[:2] != (height, width):
        content = np.asarray(Image.fromarray(content.astype(np.uint8)).resize((width, height), Image.BICUBIC))
    ours, theirs = side_steps(result_rgb), side_steps(content)
    return {side: abs(ours[side]) - abs(theirs[side]) for side in SIDES}


def border_step(result_rgb: np.ndarray, content_rgb: np.ndarray) -> float:
    """The largest side of border_steps: the frame a result adds beyond its content's own."""
    return max(border_steps(result_rgb, content_rgb).values())


def load_rgb(path: str) -> np.ndarray:
    """An image file as H x W x 3 uint8 (8-bit RGB, as the metric is defined on)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("result", nargs="?", help="the stylised result")
    parser.add_argument("content", nargs="?", help="the content photo it was made from")
    parser.add_argument("--image", help="print the signed side steps of one image instead")
    args = parser.parse_args(argv)
    if args.image:
        steps = side_steps(load_rgb(args.image))
        print(json.dumps({"image": args.image, **{k: round(v, 1) for k, v in steps.items()}}))
        return 0
    if not (args.result and args.content):
        parser.error("give RESULT and CONTENT, or --image IMAGE")
    result, content = load_rgb(args.result), load_rgb(args.content)
    sides = border_steps(result, content)
    print(json.dumps({"result": args.result, "content": args.content,
                      "border_step": round(max(sides.values()), 1),
                      **{k: round(v, 1) for k, v in sides.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
