"""A 3 x 3 convolution and the ReLU after it in one pass on the CPU (issue 12, step cost).

torch's eager ReLU after a convolution is a second pass over the whole map: at 512 px in
bfloat16 on 2 CPU cores a tenth of the network's forward and backward, most of it at the
64-channel 528 x 528 maps (benchmarks/README.md, "Step cost"). oneDNN, which runs torch's
CPU convolutions, applies the ReLU to each output block while it is still in the cache (a
post-op, the same kernel torch.compile's CPU fusion calls). ReLU commutes with the rounding
to the output's precision, so the maps are the same bit for bit in bfloat16. Not in
float32: there the fused kernel sums in another order than torch's own convolution, and was
no faster (a Preview at 256 px, 13.6 s against 13.2 s). The backward is torch's own two
steps (ReLU's mask, then the convolution's gradient to its input).

Where VGG's 2 x 2 max pooling follows (and nothing else reads the ReLU's map), the ReLU's
mask is applied to the pooled gradient, a quarter of the map, before the pooling's backward
instead of to the whole map after it. The same numbers: the pooling's backward puts each
pooled gradient on its window's largest value (the windows do not overlap) and zeros
elsewhere, and the ReLU's mask keeps it there exactly where that value, the pooled one, is
above zero.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from core import pooling

_ONE = [1, 1]


def fusable(conv: nn.Module, x: torch.Tensor) -> bool:
    """Whether fused_conv_relu can stand in for conv followed by ReLU on x: bfloat16 maps on
    the CPU, VGG's 3 x 3 convolutions with zero padding."""
    return (isinstance(conv, nn.Conv2d) and conv.padding_mode == "zeros"
            and conv.kernel_size == (3, 3) and conv.padding == (1, 1)
            and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
            and x.device.type == "cpu" and x.dtype == conv.weight.dtype == torch.bfloat16
            and _available())


@functools.cache
def _available() -> bool:
    # oneDNN's bfloat16 convolutions need AVX-512 (or AVX-NE-CONVERT): an AVX2 CPU has none.
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
            and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _conv_relu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._convolution_pointwise(x, weight, bias, _ONE, _ONE, _ONE, 1, "relu", [None], "")


def _gradient_to_input(before_relu: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    # x only for its shape and layout: the gradient to the input needs just the weights.
    return torch.ops.aten.convolution_backward(
        before_relu, x, weight, None, _ONE, _ONE, _ONE, False, [0, 0], 1, [True, False, False])[0]


class _ConvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        y = _conv_relu(x, weight, bias)
        ctx.save_for_backward(x, weight, y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:  # type: ignore[override]
        x, weight, y = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        return _gradient_to_input(torch.ops.aten.threshold_backward(grad, y, 0), x, weight), None, None


def fused_conv_relu(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """relu(conv(x)) in one pass (see fusable); gradients only to x, as the network is frozen."""
    return _ConvReLU.apply(x, conv.weight, conv.bias)


def poolable(pool: nn.Module) -> bool:
    """Whether pool is VGG's 2 x 2 max pooling, which fused_conv_relu_pool can take in."""
    return (isinstance(pool, nn.MaxPool2d) and pool.kernel_size in (2, (2, 2))
            and pool.stride in (2, (2, 2)) and pool.padding in (0, (0, 0))
            and pool.dilation in (1, (1, 1)) and not pool.ceil_mode and not pool.return_indices)


class _ConvReLUMaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        y = _conv_relu(x, weight, bias)
        ctx.bands = pooling.bands_for(y)
        pooled, indices = pooling.max_pool_with_indices(y, ctx.bands)
        # y only for the pooling's backward, which takes its shape and layout from it.
        ctx.save_for_backward(x, weight, y, pooled, indices)
        return pooled

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:  # type: ignore[override]
        x, weight, y, pooled, indices = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        kept = torch.ops.aten.threshold_backward(grad, pooled, 0)  # the ReLU's mask, see above
        before_relu = pooling.max_pool_backward(kept, y, indices, ctx.bands)
        return _gradient_to_input(before_relu, x, weight), None, None


def fused_conv_relu_pool(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """max_pool(relu(conv(x))) with 2 x 2 windows (see fusable and poolable); the ReLU's map
    is not handed out, so nothing else may read it."""
    return _ConvReLUMaxPool.apply(x, conv.weight, conv.bias)
