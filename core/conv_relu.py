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
"""

from __future__ import annotations

import functools

import torch
from torch import nn

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


class _ConvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        y = torch.ops.mkldnn._convolution_pointwise(x, weight, bias, _ONE, _ONE, _ONE, 1, "relu", [None], "")
        # The input only for its shape and layout: the gradient to it needs just the weights.
        ctx.save_for_backward(x, weight, y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:  # type: ignore[override]
        x, weight, y = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        before_relu = torch.ops.aten.threshold_backward(grad, y, 0)
        grad_x = torch.ops.aten.convolution_backward(
            before_relu, x, weight, None, _ONE, _ONE, _ONE, False, [0, 0], 1, [True, False, False])[0]
        return grad_x, None, None


def fused_conv_relu(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """relu(conv(x)) in one pass (see fusable); gradients only to x, as the network is frozen."""
    return _ConvReLU.apply(x, conv.weight, conv.bias)
