"""Max pooling in bands of rows (core.pooling): torch's own pooling, bit for bit, on all cores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core import pooling


@pytest.mark.parametrize(("height", "threads", "bands"), [
    (528, 2, 2),    # 264 row pairs: one band per thread
    (66, 2, 33),    # 33 pairs: 3 or 11 bands leave one thread 2x or 1.2x the other's rows
    (66, 3, 3),
    (136, 4, 4),    # 68 pairs: 17 per thread with 4 bands, and with 68 (ties: fewer bands)
    (23, 2, 1),     # odd: the last row is in no window, and a band would take it in
    (2, 2, 1),      # one row pair
    (528, 1, 1),
])
def test_bands_share_the_row_pairs_evenly_among_the_threads(height, threads, bands):
    assert pooling.row_bands(height, threads) == bands


def _channels_last_map(dtype: torch.dtype, height: int, width: int) -> torch.Tensor:
    torch.manual_seed(0)
    # Few values: many windows hold their maximum twice, where the first one must win.
    x = torch.randint(0, 4, (1, 8, height, width)).to(dtype)
    return x.contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("size", [(24, 30), (22, 31), (66, 10)])
def test_banded_pooling_equals_torchs_pooling_with_its_gradient(dtype, size):
    x = _channels_last_map(dtype, *size)
    bands = pooling.row_bands(size[0], 2)
    assert bands > 1
    pooled, indices = pooling.max_pool_with_indices(x, bands)
    plain_input = x.clone().requires_grad_(True)
    plain = nn.MaxPool2d(2, 2)(plain_input)
    assert torch.equal(pooled, plain)
    assert pooled.is_contiguous(memory_format=torch.channels_last)
    from_above = torch.randn(plain.shape).to(dtype).contiguous(memory_format=torch.channels_last)
    plain.backward(from_above)
    grad = pooling.max_pool_backward(from_above, x, indices, bands)
    assert grad.shape == x.shape
    assert torch.equal(grad, plain_input.grad)
    assert int((grad != 0).sum()) == plain.numel()  # one input pixel per window, ties included


def test_max_pool_through_autograd_cuts_channels_last_cpu_maps_only(monkeypatch):
    cut = []
    real = pooling.banded
    monkeypatch.setattr(pooling, "banded", lambda x, bands: cut.append(bands) or real(x, bands))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = _channels_last_map(torch.float32, 24, 30).requires_grad_(True)
        pooled = pooling.max_pool(x)
        assert cut == [2]
        pooling.max_pool(_channels_last_map(torch.float32, 24, 30).contiguous())  # NCHW
        assert cut == [2]
    finally:
        torch.set_num_threads(before)
    plain_input = x.detach().clone().requires_grad_(True)
    plain = nn.MaxPool2d(2, 2)(plain_input)
    assert torch.equal(pooled, plain)
    from_above = torch.randn(plain.shape)
    pooled.backward(from_above)
    plain.backward(from_above)
    assert torch.equal(x.grad, plain_input.grad)
