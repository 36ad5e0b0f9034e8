"""Border step: how much of a frame a style-transfer result has along its edges (issue 12).

Definition (benchmarks/README.md, "Border step"; the same as in the quality-anchor notes):

* luma = 0.299 R + 0.587 G + 0.114 B, in 0..255 levels;
* for each side (top, bottom, left, right), the side's step is the mean luma of the outer
  4 px band (full length of the side) minus the mean luma of the next band, 4..16 px in;
* the border step of a result is, per side, |step of the result| - |step of the content|
  (the content resized to the result's size, so a photo's own vignette or sky does not
  count against the engine), and the largest of the four sides. 0 or below: no frame
  beyond the photo's own; the target of issue 12 is at most 3.

* what the same bands show inside the picture (interior_steps): the same measure taken
  with the bands moved 8, 12, 16 ... px in from each side, up to the middle. A painted
  result has strokes and bands of its own everywhere; a frame is a border step beyond the
  larger of those (its 90th percentile is printed beside the border step).

As a library:  border_step(result_rgb, content_rgb) -> float
               interior_steps(result_rgb, content_rgb) -> array of the same measure inside
               interior_p90(result_rgb, content_rgb) -> its 90th percentile
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
    return {side: _side_step(y, side) for side in SIDES}


def _resized_content(result_rgb: np.ndarray, content_rgb: np.ndarray) -> np.ndarray:
    height, width = np.asarray(result_rgb).shape[:2]
    content = np.asarray(content_rgb)
    if content.shape[:2] != (height, width):
        content = np.asarray(Image.fromarray(content.astype(np.uint8)).resize((width, height), Image.BICUBIC))
    return content


def border_steps(result_rgb: np.ndarray, content_rgb: np.ndarray) -> dict[str, float]:
    """Per side: |step of the result| - |step of the content resized to the result|."""
    ours, theirs = side_steps(result_rgb), side_steps(_resized_content(result_rgb, content_rgb))
    return {side: abs(ours[side]) - abs(theirs[side]) for side in SIDES}


def interior_steps(result_rgb: np.ndarray, content_rgb: np.ndarray, every: int = 4) -> np.ndarray:
    """border_steps' measure with both bands moved 8, 12, ... px in from each side, up to
    the middle: how large such steps are where there is no edge (all sides together)."""
    ours, theirs = luma(result_rgb), luma(_resized_content(result_rgb, content_rgb))
    found = []
    for offset in range(8, min(ours.shape) // 2 - INNER_PX + 1, every):
        cut = {"top": (slice(offset, None), slice(None)),
               "bottom": (slice(None, ours.shape[0] - offset), slice(None)),
               "left": (slice(None), slice(offset, None)),
               "right": (slice(None), slice(None, ours.shape[1] - offset))}
        for side, window in cut.items():
            found.append(abs(_side_step(ours[window], side)) - abs(_side_step(theirs[window], side)))
    return np.array(found)


def interior_p90(result_rgb: np.ndarray, content_rgb: np.ndarray) -> float:
    """The 90th percentile of interior_steps: what a result's strokes alone give."""
    return round(float(np.percentile(interior_steps(result_rgb, content_rgb), 90)), 1)


def _side_step(y: np.ndarray, side: str) -> float:
    """side_steps of one side of a luma map (no size check)."""
    if side == "top":
        return float(y[:OUTER_PX].mean() - y[OUTER_PX:INNER_PX].mean())
    if side == "bottom":
        return float(y[-OUTER_PX:].mean() - y[-INNER_PX:-OUTER_PX].mean())
    if side == "left":
        return float(y[:, :OUTER_PX].mean() - y[:, OUTER_PX:INNER_PX].mean())
    return float(y[:, -OUTER_PX:].mean() - y[:, -INNER_PX:-OUTER_PX].mean())


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
                      **{k: round(v, 1) for k, v in sides.items()},
                      "interior_p90": interior_p90(result, content)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
