"""The fused convolution and ReLU: the same maps and gradients as torch's two layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core import conv_relu, losses, vgg

needs_onednn_bfloat16 = pytest.mark.skipif(not conv_relu._available(),
                                           reason="no oneDNN bfloat16 convolutions here (AVX2)")


def _within_bfloat16_steps(a: torch.Tensor, b: torch.Tensor, steps: float) -> bool:
    """a equals b within `steps` bfloat16 spacings at b's largest magnitude (2^-7 of it).

    On the CPUs measured (AMX; oneDNN limited to AVX-512 BF16 and to AVX-512) the fused layer
    was equal bit for bit (benchmarks/README.md, "Step cost", sixth round); another CPU's
    oneDNN may pick another kernel and sum in another order, which this margin allows. A
    missing ReLU or a wrong padding is off by the map's own magnitude."""
    a, b = a.detach().float(), b.detach().float()
    return float((a - b).abs().max()) <= steps * 2.0 ** -7 * float(b.abs().max())


def _bfloat16_conv(channels_in: int, channels_out: int) -> nn.Conv2d:
    torch.manual_seed(0)
    conv = nn.Conv2d(channels_in, channels_out, 3, padding=1)
    return conv.to(torch.bfloat16).requires_grad_(False)


@needs_onednn_bfloat16
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_fused_layer_equals_convolution_then_relu_in_bfloat16(layout):
    conv = _bfloat16_conv(16, 32)
    x = torch.randn(1, 16, 23, 31).to(torch.bfloat16).contiguous(memory_format=layout)
    assert conv_relu.fusable(conv, x)
    plain_input = x.clone().requires_grad_(True)
    plain = torch.relu(conv(plain_input))
    fused_input = x.clone().requires_grad_(True)
    fused = conv_relu.fused_conv_relu(conv, fused_input)
    assert _within_bfloat16_steps(fused, plain, 1)
    assert bool((fused == 0).any()) and bool((fused > 0).any()) and not bool((fused < 0).any())
    from_above = torch.randn_like(plain)
    plain.backward(from_above)
    fused.backward(from_above)
    assert _within_bfloat16_steps(fused_input.grad, plain_input.grad, 1)


@needs_onednn_bfloat16
def test_the_layer_packs_its_weights_once_a_shape_and_keeps_the_last_shapes(monkeypatch):
    monkeypatch.setattr(conv_relu, "PACKED_SHAPES", 2)
    conv = _bfloat16_conv(16, 32)
    packs = []
    for size in [(20, 28), (9, 13), (20, 28), (40, 24), (9, 13)]:
        x = torch.randn(1, 16, *size).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        plain_input = x.clone().requires_grad_(True)
        plain = torch.relu(conv(plain_input))
        fused_input = x.clone().requires_grad_(True)
        fused = conv_relu.fused_conv_relu(conv, fused_input)
        packs.append(conv_relu._PACKED[conv][tuple(x.shape)])
        assert _within_bfloat16_steps(fused, plain, 1)
        from_above = torch.randn_like(plain)
        plain.backward(from_above)
        fused.backward(from_above)
        assert _within_bfloat16_steps(fused_input.grad, plain_input.grad, 1)
        assert bool((fused_input.grad != 0).any())
    assert packs[0] is packs[2]  # 20 x 28 again: its pack was kept
    assert packs[1] is not packs[4]  # 9 x 13 was dropped for 40 x 24
    assert list(conv_relu._PACKED[conv]) == [(1, 16, 40, 24), (1, 16, 9, 13)]


def test_only_bfloat16_zero_padded_3x3_convolutions_on_the_cpu_are_fused():
    x = torch.randn(1, 16, 8, 8).to(torch.bfloat16)
    assert not conv_relu.fusable(_bfloat16_conv(16, 8).float(), x.float())  # float32 sums differ
    reflect = _bfloat16_conv(16, 8)
    reflect.padding_mode = "reflect"
    assert not conv_relu.fusable(reflect, x)
    assert not conv_relu.fusable(nn.ReLU(), x)


def _maps_and_gradient(network: vgg.VGGFeatures, pixels: torch.Tensor):
    """The network's bfloat16 maps of pixels, and the pixels' gradient of a loss on them."""
    x = pixels.clone().requires_grad_(True)
    maps = network(x, precision=torch.bfloat16)
    sum((m.float() * m.float()).mean() for m in maps.values()).backward()
    return maps, x.grad


@needs_onednn_bfloat16
def test_the_networks_bfloat16_maps_and_gradient_are_those_of_torchs_own_layers(monkeypatch):
    network = vgg.VGGFeatures(vgg.random_weights(3), ["relu1_1", "relu2_1", "relu3_1"])
    torch.manual_seed(1)
    pixels = torch.rand(1, 3, 36, 44) * 255
    fused_maps, fused_grad = _maps_and_gradient(network, pixels)
    monkeypatch.setattr(vgg, "fusable", lambda conv, x: False)
    plain_maps, plain_grad = _maps_and_gradient(network, pixels)
    # Five layers deep, a step's difference in one layer can grow through the next ones.
    assert all(_within_bfloat16_steps(fused_maps[name], plain_maps[name], 4) for name in plain_maps)
    assert _within_bfloat16_steps(fused_grad, plain_grad, 4)


@needs_onednn_bfloat16
@pytest.mark.parametrize("size", [(22, 30), (23, 31)])  # odd: the last row and column are left out
def test_fused_pooling_gives_the_same_bits_as_pooling_after_the_fused_layer(size):
    conv = _bfloat16_conv(16, 32)
    x = torch.randn(1, 16, *size).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    pool = nn.MaxPool2d(2, 2)
    assert conv_relu.poolable(pool) and not conv_relu.poolable(nn.AvgPool2d(2, 2))
    assert not conv_relu.poolable(nn.MaxPool2d(2, 2, ceil_mode=True))
    apart_input = x.clone().requires_grad_(True)
    apart = pool(conv_relu.fused_conv_relu(conv, apart_input))
    fused_input = x.clone().requires_grad_(True)
    fused = conv_relu.fused_conv_relu_pool(conv, fused_input)
    assert torch.equal(fused, apart)
    assert bool((fused == 0).any()), "some windows must be all zero for the mask to matter"
    from_above = torch.randn_like(apart)
    apart.backward(from_above)
    fused.backward(from_above)
    assert torch.equal(fused_input.grad, apart_input.grad)
    assert bool((fused_input.grad != 0).any())


@needs_onednn_bfloat16
@pytest.mark.parametrize("layers", [["relu1_1", "relu2_1", "relu3_1", "relu4_2"], ["relu1_2", "relu2_2"]])
def test_the_network_pools_inside_the_fused_layer_only_where_no_loss_reads_the_relu(monkeypatch, layers):
    network = vgg.VGGFeatures(vgg.random_weights(3), layers)
    torch.manual_seed(1)
    pixels = torch.rand(1, 3, 37, 44) * 255
    pooled_in = []
    real = vgg.fused_conv_relu_pool
    monkeypatch.setattr(vgg, "fused_conv_relu_pool",
                        lambda conv, x, bias: pooled_in.append(x.shape[1]) or real(conv, x, bias))
    fused_maps, fused_grad = _maps_and_gradient(network, pixels)
    # Blocks 1-3 pool after convolutions of 64, 128 and 256 channels; a read ReLU map stays.
    assert pooled_in == ([64, 128, 256] if layers[0] == "relu1_1" else [])
    monkeypatch.setattr(vgg, "poolable", lambda pool: False)
    apart_maps, apart_grad = _maps_and_gradient(network, pixels)
    assert all(torch.equal(fused_maps[name], apart_maps[name]) for name in layers)
    assert torch.equal(fused_grad, apart_grad)


@needs_onednn_bfloat16
def test_the_layer_reading_a_tapped_map_adds_its_means_gradient_as_the_bias_of_its_own():
    # The means' gradient of a map the losses read (the same at every pixel) is added by the
    # fused layer that reads the map, inside its gradient kernel (vgg.VGGFeatures._maps):
    # the pixels' gradient must be that of adding it afterwards, within bfloat16's rounding.
    network = vgg.VGGFeatures(vgg.random_weights(3), ["relu1_1", "relu2_1", "relu3_1"])
    torch.manual_seed(2)
    pixels = torch.rand(1, 3, 48, 40) * 255
    target = {name: torch.rand(1, channels) * 50 for name, channels in
              (("relu1_1", 64), ("relu2_1", 128), ("relu3_1", 256))}

    def gradient() -> torch.Tensor:
        x = pixels.clone().requires_grad_(True)
        taps = network.tapped(x, precision=torch.bfloat16)
        total = torch.zeros(())
        for name, features in taps.features.items():
            gram, mean = losses.feature_moments(features)
            total = total + (gram ** 2).mean() * 1e-4 + ((mean - target[name]) ** 2).sum()
        total.backward()
        taps.backward()
        return x.grad

    biases = []

    def take(deferred):
        biases.append(losses.take_mean_gradients(deferred))
        return biases[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vgg, "take_mean_gradients", take)
        as_bias = gradient()
        # relu1_1's and relu2_1's, each as long as its map has channels; relu3_1 is the
        # last map, read by no layer, and keeps its means' gradient in the in-place add.
        assert sorted(bias.shape[0] for bias in biases) == [64, 128]
        patch.setattr(vgg, "take_mean_gradients", lambda deferred: None)
        added_after = gradient()
    assert _within_bfloat16_steps(as_bias, added_after, 2)
