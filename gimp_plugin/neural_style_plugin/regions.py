"""Selections as the engine sees them: the content's mask and the style's region.

A selection read over a layer's area is a 1-channel Raster (0 = not selected, the maximum
= fully selected, values between for feathered or partial selections). The content's
mask goes to the engine as it is (it keeps unselected pixels bit for bit and works only
on the selected area); a style layer is cropped to its selection's bounding box, because
the engine ignores a style's alpha: pixels made transparent would still teach their
hidden colours.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

from protocol.raster import Raster

EMPTY = "empty"
FULL = "full"
PARTIAL = "partial"


def coverage(mask):
    """EMPTY when nothing is selected, FULL when every pixel is fully selected, else PARTIAL."""
    data = bytes(mask.data)
    if data.count(b"\0") == len(data):
        return EMPTY
    if data.count(b"\xff") == len(data):  # 255, or 65535 in either byte order
        return FULL
    return PARTIAL


def bounding_box(mask):
    """(x1, y1, x2, y2) around the selected (non-zero) pixels, or None when none is."""
    size = mask.bits // 8
    row_bytes = mask.width * size
    data = bytes(mask.data)
    top = bottom = left = right = None
    for y in range(mask.height):
        row = data[y * row_bytes:(y + 1) * row_bytes]
        first = len(row) - len(row.lstrip(b"\0"))
        if first == len(row):
            continue
        last = len(row.rstrip(b"\0"))
        top = y if top is None else top
        bottom = y + 1
        left = first // size if left is None else min(left, first // size)
        right = (last + size - 1) // size if right is None else max(right, (last + size - 1) // size)
    if top is None:
        return None
    return (left, top, right, bottom)


def crop(raster, box):
    """The part of a raster inside box (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    pixel = raster.channels * raster.bits // 8
    row_bytes = raster.width * pixel
    data = bytes(raster.data)
    rows = [data[y * row_bytes + x1 * pixel:y * row_bytes + x2 * pixel] for y in range(y1, y2)]
    return Raster(x2 - x1, y2 - y1, raster.channels, raster.bits, b"".join(rows), raster.byte_order)
