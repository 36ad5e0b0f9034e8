"""VGG's 2 x 2 max pooling on the CPU with every core in its backward pass (issue 12).

torch's CPU max-pool backward for channels-last maps shares its work out only by the
pictures of the batch, so for one picture it runs on one core: in bfloat16 at 512 px on 2
cores, 34 ms of a 380 ms engine step (the four poolings; benchmarks/README.md, "Step cost").
Rows are the outermost dimension of a channels-last map, so cutting the map into bands of
rows, each one picture of a batch, is a view of the same memory. With an even number of
rows in each band every 2 x 2 window lies inside one band: the same maxima, the same
indices within each band, the same gradient bit for bit, from all cores at once.
"""

from __future__ import annotations

import functools

import torch
from torch.nn import functional

_POOL = ([2, 2], [2, 2], [0, 0], [1, 1], False)  # kernel, stride, padding, dilation, ceil_mode


@functools.cache  # a few heights a run, asked four times a step
def row_bands(height: int, threads: int) -> int:
    """How many bands to cut a map of that height into: each band's rows even and the same
    for all bands, and the fewest rows on the busiest of the threads (ties: fewer bands).
    1 where no cut helps: an odd height (its last row is in no window) or one thread."""
    if height % 2 or threads < 2:
        return 1
    pairs = height // 2
    best, best_load = 1, pairs
    for bands in range(2, pairs + 1):
        if pairs % bands == 0:
            load = -(-bands // threads) * (pairs // bands)  # the busiest thread's row pairs
            if load < best_load:
                best, best_load = bands, load
    return best


def banded(x: torch.Tensor, bands: int) -> torch.Tensor:
    """N x C x H x W (channels-last) as N*bands x C x H/bands x W, bands of rows, a view."""
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n * bands, h // bands, w, c).permute(0, 3, 1, 2)


def unbanded(x: torch.Tensor, pictures: int) -> torch.Tensor:
    """banded's inverse for a map made band by band: pictures x C x (all rows) x W."""
    m, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(pictures, m // pictures * h, w, c).permute(0, 3, 1, 2)


def bands_for(x: torch.Tensor) -> int:
    """The bands for pooling x: more than 1 only for channels-last maps on the CPU."""
    if x.device.type != "cpu" or x.dim() != 4 or not x.is_contiguous(memory_format=torch.channels_last):
        return 1
    return row_bands(x.shape[2], torch.get_num_threads())


def max_pool_with_indices(x: torch.Tensor, bands: int) -> tuple[torch.Tensor, torch.Tensor]:
    """2 x 2 max pooling of x cut into bands (see bands_for): the pooled map, and the
    indices for max_pool_backward (within each band)."""
    if bands == 1:
        return torch.ops.aten.max_pool2d_with_indices(x, *_POOL)
    pooled, indices = torch.ops.aten.max_pool2d_with_indices(banded(x, bands), *_POOL)
    return unbanded(pooled, x.shape[0]), indices


def max_pool_backward(grad: torch.Tensor, x: torch.Tensor, indices: torch.Tensor, bands: int) -> torch.Tensor:
    """The gradient to x (N x C x H x W) from the pooled map's gradient (N x C x H/2 x W/2)."""
    if bands == 1:
        return torch.ops.aten.max_pool2d_with_indices_backward(grad, x, *_POOL, indices)
    grad_bands = banded(grad.contiguous(memory_format=torch.channels_last), bands)
    result = torch.ops.aten.max_pool2d_with_indices_backward(grad_bands, banded(x, bands), *_POOL, indices)
    return unbanded(result, x.shape[0])


def max_pool(x: torch.Tensor) -> torch.Tensor:
    """nn.MaxPool2d(2, 2)(x) through autograd, in bands where that helps (see bands_for)."""
    bands = bands_for(x)
    if bands == 1:
        return functional.max_pool2d(x, 2, 2)
    return unbanded(functional.max_pool2d(banded(x, bands), 2, 2), x.shape[0])
