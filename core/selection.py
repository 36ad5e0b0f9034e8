"""Selection-aware runs: the part of a layer the engine works on when it has a mask.

With a mask (a GIMP selection), only the selected pixels may change, so the engine works
on the selection's bounding box (pixels with mask > 0) plus a margin of context around
it, and pastes the result back: time and memory then grow with the selected area, not
with the layer.

The margin gives the network the selection's surroundings, so its edge is not painted as
a picture's border (VGG-19 pads with zeros, and the first layers' features there are
unlike the rest). It is kept small on purpose: the margin's pixels cannot change but they
count in the crop's Gram matrices, so every extra pixel of it costs time and also dilutes
the style the selection gets. A sixteenth of the box's longer side, at least MIN_MARGIN
working pixels, keeps a 25% selection's box at a third of the layer (an eighth would make
it 39%, more than the 35% of the whole layer's time that the issue allows).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from core.errors import InputError

# Context around the selection's box: this share of its longer side...
MARGIN_SHARE = 1.0 / 16.0
# ...and at least this many pixels at the working scale (beyond relu2_1's 10-pixel receptive field).
MIN_MARGIN = 16


class Box(NamedTuple):
    """Rows top..bottom-1 and columns left..right-1 of a picture."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)


def whole(height: int, width: int) -> Box:
    return Box(0, height, 0, width)


def selected_box(mask: np.ndarray) -> Box:
    """The bounding box of the pixels with mask > 0; InputError when there are none."""
    selected = np.asarray(mask) > 0
    rows = np.flatnonzero(selected.any(axis=1))
    if rows.size == 0:
        raise InputError("The selection is empty: no pixel is selected, so nothing would change. "
                         "Select the part to style, or select all (or none) to style the whole layer.")
    columns = np.flatnonzero(selected.any(axis=0))
    return Box(int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1)


def working_box(mask: np.ndarray, factor: float) -> Box:
    """The selection's box plus its margin of context, clipped to the picture.

    factor: working pixels per picture pixel (the whole layer's), so the margin's minimum
    is MIN_MARGIN pixels where the network works, whatever the layer's size.
    """
    box = selected_box(mask)
    height, width = mask.shape
    margin = max(int(math.ceil(max(box.height, box.width) * MARGIN_SHARE)),
                 int(math.ceil(MIN_MARGIN / factor)))
    return Box(max(0, box.top - margin), min(height, box.bottom + margin),
               max(0, box.left - margin), min(width, box.right + margin))
