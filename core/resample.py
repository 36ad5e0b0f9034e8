"""Resizing pixel tensors (N x C x H x W): bicubic, antialiased when shrinking."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bicubic resize of N x C x H x W pixels, antialiased when shrinking."""
    if image.shape[-2:] == (height, width):
        return image
    shrinking = height < image.shape[-2] or width < image.shape[-1]
    return F.interpolate(image, size=(height, width), mode="bicubic", align_corners=False,
                         antialias=shrinking)
