"""bfloat16 products summed in float32 by MKL (core.bf16_products), where this CPU has AMX."""

from __future__ import annotations

import pytest
import torch

from core import bf16_products, losses

needs_mkl_products = pytest.mark.skipif(not bf16_products.available(),
                                        reason="no AMX, or torch without MKL's bfloat16 product")


@needs_mkl_products
@pytest.mark.parametrize("count, channels", [(1, 3), (997, 64), (4356, 128)])
def test_gram_and_sums_are_float64s_within_float32s_rounding(count, channels):
    generator = torch.Generator().manual_seed(count)
    pixels = (torch.rand(count, channels, generator=generator) * 40).to(torch.bfloat16)
    gram, sums = bf16_products.gram_and_sums(pixels)
    exact = pixels.double()
    assert gram.dtype == sums.dtype == torch.float32
    assert torch.allclose(gram.double(), exact.T @ exact, rtol=1e-5, atol=0)
    assert torch.allclose(sums.double(), exact.sum(dim=0), rtol=1e-5, atol=0)


@needs_mkl_products
def test_the_losses_moments_of_a_bfloat16_map_are_those_of_its_float32_copy(monkeypatch):
    torch.manual_seed(0)
    features = torch.relu(torch.randn(1, 32, 30, 28)).to(torch.bfloat16).contiguous(
        memory_format=torch.channels_last)
    used = []
    real = bf16_products.gram_and_sums
    monkeypatch.setattr(bf16_products, "gram_and_sums", lambda pixels: used.append(1) or real(pixels))
    gram, mean = losses.feature_moments(features)
    assert used
    monkeypatch.setattr(bf16_products, "available", lambda: False)
    copied_gram, copied_mean = losses.feature_moments(features)
    assert torch.allclose(gram, copied_gram, rtol=1e-5, atol=0)
    assert torch.allclose(mean, copied_mean, rtol=1e-5, atol=0)


def test_gram_and_sums_refuses_what_it_cannot_multiply():
    with pytest.raises(ValueError):
        bf16_products.gram_and_sums(torch.ones(4, 3))  # float32
