"""A 3 x 3 convolution and the ReLU after it in one pass on the CPU (issue 12, step cost).

torch's eager ReLU after a convolution is a second pass over the whole map: at 512 px in
bfloat16 on 2 CPU cores a tenth of the network's forward and backward, most of it at the
64-channel 528 x 528 maps (benchmarks/README.md, "Step cost"). oneDNN, which runs torch's
CPU convolutions, applies the ReLU to each output block while it is still in the cache (a
post-op, the same kernel torch.compile's CPU fusion calls). ReLU commutes with the rounding
to the output's precision, so the maps are the same bit for bit in bfloat16. Not in
float32: there the fused kernel sums in another order than torch's own convolution, and was
no faster (a Preview at 256 px, 13.6 s against 13.2 s). The backward is ReLU's mask, then
the convolution's gradient to its input as oneDNN's transposed convolution, with the
weights in oneDNN's layouts packed once per layer (see _PACKED).

The gradient to the input can come with a bias, one value per input channel added at every
pixel (GradientBias): the losses' gradients for a map's channel means (core.losses,
take_mean_gradients), added by the kernel that makes the gradient instead of by a pass of
their own.

Where VGG's 2 x 2 max pooling follows (and nothing else reads the ReLU's map), the ReLU's
mask is applied to the pooled gradient, a quarter of the map, before the pooling's backward
instead of to the whole map after it. The same numbers: the pooling's backward puts each
pooled gradient on its window's largest value (the windows do not overlap) and zeros
elsewhere, and the ReLU's mask keeps it there exactly where that value, the pooled one, is
above zero.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable

import torch
from torch import nn

from core import pooling

_ONE = [1, 1]
_NONE = [0, 0]

# Called in the backward pass: a float32 bias (one value per input channel) to add to the
# gradient to the layer's input, or None.
GradientBias = Callable[[], torch.Tensor | None]


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


class _Packed:
    """One convolution's weights in oneDNN's own blocked layouts for maps of one shape: for
    the convolution, and (made on first use) for its transpose, the gradient to its input."""

    def __init__(self, conv: nn.Conv2d, shape: tuple[int, ...]) -> None:
        n, channels, h, w = shape
        self._weight = conv.weight
        self._gradient_shape = [n, conv.out_channels, h, w]
        self.forward = torch.ops.mkldnn._reorder_convolution_weight(
            conv.weight, _ONE, _ONE, _ONE, 1, [n, channels, h, w])
        self._transposed: torch.Tensor | None = None

    @property
    def transposed(self) -> torch.Tensor:
        if self._transposed is None:
            self._transposed = torch.ops.mkldnn._reorder_convolution_transpose_weight(
                self._weight, _ONE, _NONE, _ONE, _ONE, 1, self._gradient_shape)
        return self._transposed


# Why: given torch's plain weights, oneDNN reorders them into its layout on every call, 26 MB
# for VGG-19 up to relu5_1, twice a step: at 128 px (Preview's coarsest scale) that was
# half the time of the network's convolutions, forward and backward. Packed once per layer
# and shape of maps, the same kernels run on the same numbers: the same maps and gradients
# bit for bit (tests/engine/test_conv_relu.py). Per shape, because the layout oneDNN picks
# can depend on it: with oneDNN limited to AVX2, float32 weights packed for 136 x 136 maps
# made a 66 x 66 map's convolution 1.5 times as slow as plain weights. Only the last shape's
# are kept: a scale computes its style targets at one shape, then all its steps at another,
# and a second shape kept cost 110 MB more peak memory for no speed.
PACKED_SHAPES = 1
_PACKED: weakref.WeakKeyDictionary[nn.Conv2d, dict[tuple[int, ...], _Packed]] = weakref.WeakKeyDictionary()


def _packed(conv: nn.Conv2d, x: torch.Tensor) -> _Packed:
    shapes = _PACKED.setdefault(conv, {})
    key = tuple(x.shape)
    packed = shapes.pop(key, None) or _Packed(conv, key)
    shapes[key] = packed  # the most recent last
    while len(shapes) > PACKED_SHAPES:
        del shapes[next(iter(shapes))]
    return packed


def _conv_relu(x: torch.Tensor, packed: _Packed, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._convolution_pointwise(
        x, packed.forward, bias, _ONE, _ONE, _ONE, 1, "relu", [None], "")


def _gradient_to_input(before_relu: torch.Tensor, packed: _Packed,
                       gradient_bias: GradientBias | None) -> torch.Tensor:
    # The transposed convolution with the same padding: what oneDNN computes for
    # convolution_backward's gradient to the input, the same bits (without a bias).
    bias = None if gradient_bias is None else gradient_bias()
    return torch.ops.mkldnn._convolution_transpose_pointwise(
        before_relu, packed.transposed, bias, _ONE, _NONE, _ONE, _ONE, 1, "none", [], "")


class _ConvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, packed: _Packed, bias: torch.Tensor | None,  # type: ignore[override]
                gradient_bias: GradientBias | None) -> torch.Tensor:
        y = _conv_relu(x, packed, bias)
        ctx.packed, ctx.gradient_bias = packed, gradient_bias
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None]:  # type: ignore[override]
        (y,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        before_relu = torch.ops.aten.threshold_backward(grad, y, 0)
        return _gradient_to_input(before_relu, ctx.packed, ctx.gradient_bias), None, None, None


def fused_conv_relu(conv: nn.Conv2d, x: torch.Tensor,
                    gradient_bias: GradientBias | None = None) -> torch.Tensor:
    """relu(conv(x)) in one pass (see fusable); gradients only to x, as the network is frozen,
    plus gradient_bias's per channel."""
    return _ConvReLU.apply(x, _packed(conv, x), conv.bias, gradient_bias)


def poolable(pool: nn.Module) -> bool:
    """Whether pool is VGG's 2 x 2 max pooling, which fused_conv_relu_pool can take in."""
    return (isinstance(pool, nn.MaxPool2d) and pool.kernel_size in (2, (2, 2))
            and pool.stride in (2, (2, 2)) and pool.padding in (0, (0, 0))
            and pool.dilation in (1, (1, 1)) and not pool.ceil_mode and not pool.return_indices)


class _ConvReLUMaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, packed: _Packed, bias: torch.Tensor | None,  # type: ignore[override]
                gradient_bias: GradientBias | None) -> torch.Tensor:
        y = _conv_relu(x, packed, bias)
        ctx.packed, ctx.gradient_bias = packed, gradient_bias
        ctx.bands = pooling.bands_for(y)
        pooled, indices = pooling.max_pool_with_indices(y, ctx.bands)
        # y only for the pooling's backward, which takes its shape and layout from it.
        ctx.save_for_backward(y, pooled, indices)
        return pooled

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None]:  # type: ignore[override]
        y, pooled, indices = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        kept = torch.ops.aten.threshold_backward(grad, pooled, 0)  # the ReLU's mask, see above
        before_relu = pooling.max_pool_backward(kept, y, indices, ctx.bands)
        return _gradient_to_input(before_relu, ctx.packed, ctx.gradient_bias), None, None, None


def fused_conv_relu_pool(conv: nn.Conv2d, x: torch.Tensor,
                         gradient_bias: GradientBias | None = None) -> torch.Tensor:
    """max_pool(relu(conv(x))) with 2 x 2 windows (see fusable and poolable); the ReLU's map
    is not handed out, so nothing else may read it. gradient_bias: as for fused_conv_relu."""
    return _ConvReLUMaxPool.apply(x, _packed(conv, x), conv.bias, gradient_bias)
