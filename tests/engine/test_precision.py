"""core.precision.exact_bfloat16_products: bfloat16 units for exact products, and only there."""

from __future__ import annotations

import pytest
import torch

from core import losses
from core.precision import exact_bfloat16_products

CPU = torch.device("cpu")


def test_the_flag_is_set_for_bfloat16_maps_on_the_cpu_only_and_always_put_back():
    matmul = torch.backends.mkldnn.matmul
    before = matmul.fp32_precision
    with exact_bfloat16_products(torch.bfloat16, CPU):
        assert matmul.fp32_precision == "bf16"
    assert matmul.fp32_precision == before
    with pytest.raises(KeyError):
        with exact_bfloat16_products(torch.bfloat16, CPU):
            raise KeyError("a failing product")
    assert matmul.fp32_precision == before
    with exact_bfloat16_products(torch.float32, CPU):  # float32 maps: their products need float32
        assert matmul.fp32_precision == before


def test_a_bfloat16_maps_gram_matrix_is_its_exact_products_summed_in_float32():
    torch.manual_seed(0)
    features = (torch.rand(1, 64, 40, 40) * 10).bfloat16().contiguous(memory_format=torch.channels_last)
    gram, means = losses.feature_moments(features)
    values = features.double().reshape(64, -1)
    reference = values @ values.T / values.numel()
    assert torch.allclose(gram[0].double(), reference, rtol=1e-5, atol=0)
    assert torch.allclose(means[0].double(), values.mean(dim=1), rtol=1e-5, atol=0)
    # The tolerance tells a float32 sum from one rounded to bfloat16 (8 bits), which it would refuse.
    assert not torch.allclose(reference.bfloat16().double(), reference, rtol=1e-5, atol=0)
