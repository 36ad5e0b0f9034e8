"""Find and cut the frame around a photographed painting before it is used as a style.

Photos of paintings often carry a border: a black mat, a light line, the bare edge of the
board (The Starry Night's public-domain photo has 8 px of black and a cream line; The
Scream a strip of bare cardboard on its right). The Gram style loss does not know where a
feature came from, but VGG's zero padding makes features at an image's border unlike the
rest, so a style with dark borders paints dark borders into every result: a frame (issue 12).
Cutting the style's own frame off removes it.

A frame is a band along a side that is unlike the painting along the WHOLE length of the
side. For each side separately:

* Lines parallel to the side (rows for top and bottom, columns for left and right) are cut
  into SEGMENTS pieces along their length, measured over the middle of the line only (the
  neighbouring sides may have frames of their own); each piece is described by its mean
  colour.
* The painting just inside is the band from MAX_DEPTH to 2 x MAX_DEPTH of the side in from
  the edge. A piece of a line nearer the edge is far from it when its colour, in some
  channel, differs from that band's median colour at that place along the side by more than
  STRAY_FACTOR times what the band's own lines stray there (their 90th percentile) and by at
  least MIN_DIFFERENCE levels (0..255): a busy painting strays far, a flat colour or a
  photo's slight vignette never differs enough.
* A line that repeats a line of the painting is texture, not frame (a grid, stripes, a
  checkerboard whose edge line recurs inside): each line is compared piece by piece with
  every line of the wider interior, MAX_DEPTH to INTERIOR_END of the side (a few periods of
  a texture), and is novel when even the closest of them differs by MIN_DIFFERENCE levels
  in at least FRAME_SHARE of the pieces.
* A line is frame when it is novel and at least FRAME_SHARE of its pieces are far (a
  subject that touches the edge covers part of a side, a frame all of it; a slightly
  rotated photo leaves a piece or two of the frame's inner line on painting). The frame is the run
  of frame lines that starts at the edge, plus a margin of MARGIN_SHARE of the side for the
  blurred transition. A run that reaches MAX_DEPTH is painting (a sky, a dark field), not a
  frame: that side is left whole.

Each side loses at most MAX_DEPTH (8 %) plus the margin, so the style keeps well over 80 %
of each side. Pictures too small to have an interior band are never cut.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# A frame is a thin band: a run this deep (share of the side) is part of the painting.
MAX_DEPTH = 0.08
# The painting to compare with: the lines from MAX_DEPTH to this share of the side (wide
# enough to hold a few periods of a repeating texture).
INTERIOR_END = 0.3
# Pieces each line is cut into along its length.
SEGMENTS = 8
# How many times farther than the painting's own lines stray a frame piece must be...
STRAY_FACTOR = 2.5
STRAY_PERCENTILE = 90
# ...and by at least this many levels (0..255) in one channel.
MIN_DIFFERENCE = 16.0
# A line is frame when at least this share of its pieces is unlike the painting.
FRAME_SHARE = 0.75
# Cut this share of the side beyond the last frame line: the frame's inner edge is blurred.
MARGIN_SHARE = 0.01
# Below this many lines in the interior band there is nothing to compare with.
MIN_INTERIOR_LINES = 4


class CropBox(NamedTuple):
    """Rows top..bottom-1 and columns left..right-1 of the picture are the painting."""

    top: int
    bottom: int
    left: int
    right: int


def piece_colours(lines: np.ndarray) -> np.ndarray:
    """N lines x M pixels x 3 -> N x SEGMENTS x 3: the mean colour of each piece of each line."""
    pieces = np.array_split(lines, SEGMENTS, axis=1)
    return np.stack([piece.mean(axis=1, dtype=np.float64) for piece in pieces], axis=1)


def frame_lines(colours: np.ndarray, near: np.ndarray, wide: np.ndarray) -> np.ndarray:
    """Which of the lines `colours` (N x SEGMENTS x 3) are frame: along at least FRAME_SHARE of
    their length unlike the painting just inside (`near`, K x SEGMENTS x 3) and unlike every
    line of the wider interior (`wide`)."""
    median = np.median(near, axis=0)
    stray = np.percentile(np.abs(near - median), STRAY_PERCENTILE, axis=0)
    far = (np.abs(colours - median) > np.maximum(STRAY_FACTOR * stray, MIN_DIFFERENCE)).any(axis=2)
    # A line that repeats one of the interior's lines (a grid, stripes, a checkerboard) is
    # texture: compare it piece by piece with every interior line and keep the closest.
    differs = (np.abs(colours[:, None] - wide[None]).max(axis=3) > MIN_DIFFERENCE).mean(axis=2)
    return (far.mean(axis=1) >= FRAME_SHARE) & (differs.min(axis=1) >= FRAME_SHARE)


def frame_depth(lines: np.ndarray) -> int:
    """How many of `lines` (edge first; N lines x M pixels x 3, in 0..255) to cut as frame."""
    count, length = lines.shape[:2]
    max_depth = int(count * MAX_DEPTH)
    if max_depth < MIN_INTERIOR_LINES or length < SEGMENTS:
        return 0
    colours = piece_colours(lines[:max(2 * max_depth, int(count * INTERIOR_END))])
    is_frame = frame_lines(colours[:max_depth], colours[max_depth:2 * max_depth], colours[max_depth:])
    depth = int(np.argmin(is_frame)) if not is_frame.all() else max_depth
    if depth == 0 or depth >= max_depth:
        return 0
    return depth + int(np.ceil(count * MARGIN_SHARE))


def find_frame(rgb: np.ndarray) -> CropBox:
    """The box of `rgb` (H x W x 3, values 0..1) that is painting, without its frame.

    The whole picture when no side has a frame."""
    pixels = np.asarray(rgb, dtype=np.float32) * np.float32(255.0)
    height, width = pixels.shape[:2]
    # Each line is measured over its middle only: the neighbouring sides may have frames too.
    rows = pixels[:, int(width * MAX_DEPTH):width - int(width * MAX_DEPTH)]
    columns = pixels[int(height * MAX_DEPTH):height - int(height * MAX_DEPTH)].transpose(1, 0, 2)
    top, bottom = frame_depth(rows), frame_depth(rows[::-1])
    left, right = frame_depth(columns), frame_depth(columns[::-1])
    return CropBox(top=top, bottom=height - bottom, left=left, right=width - right)


def crop_frame(rgb: np.ndarray) -> np.ndarray:
    """`rgb` (H x W x 3, values 0..1) without its frame; the same array when it has none."""
    box = find_frame(rgb)
    if box == (0, rgb.shape[0], 0, rgb.shape[1]):
        return rgb
    return np.ascontiguousarray(rgb[box.top:box.bottom, box.left:box.right])


# Cut from every side of what crop_frame leaves: photos of paintings carry edge lines too
# faint or too uneven for find_frame (The Scream's light top fringe, about 12 rows fading
# into its sky, which painted a pale band along the top of the 384 px cat: border step 14.3,
# 4.8 with this cut). A style loses 10% of its area, and nothing of its character.
EDGE_TRIM = 0.025


def style_region(rgb: np.ndarray) -> np.ndarray:
    """The part of a style picture (H x W x 3, 0..1) the engine learns from: without its
    frame (crop_frame) and without EDGE_TRIM of each remaining side."""
    painting = crop_frame(rgb)
    height, width = painting.shape[:2]
    rows, columns = int(height * EDGE_TRIM), int(width * EDGE_TRIM)
    if rows == 0 and columns == 0:
        return painting
    return np.ascontiguousarray(painting[rows:height - rows, columns:width - columns])
