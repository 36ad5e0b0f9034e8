"""The image type every engine module shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Picture:
    """An image as the engine works on it, plus what must come back out unchanged.

    rgb:   float32, height x width x 3, values 0..1, sRGB-encoded (what VGG was trained on).
           Grey images are stored with three equal channels.
    alpha: the original alpha samples, untouched (uint8 or uint16, height x width), or None.
    bits:  8 or 16: the sample depth to write back.
    grey:  the source had one colour channel; it is written back as grey.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    bits: int = 8
    grey: bool = False

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])
