"""Loss terms: content, style (Gram matrices as in Gatys et al., or the Wasserstein-2
distance between Gaussians of the features), total variation and the edge band.

Normalisation (fixed, so that weights mean the same at every image size):
  gram_matrix(F)     = F F^T / (C * H * W) for features F of C channels over H x W pixels.
  content_loss(F, P) = mean over C*H*W of (F - P)^2               (squared Euclidean / size)
  gram_loss(G, A)    = mean over C*C of (G - A)^2                 (one style layer)
  style_loss         = sum over layers of layer_weight * gram_loss, layer weights summing to 1,
                       and over styles of blend_weight * that, blend weights summing to 1.
  tv_loss(x)         = mean of squared differences of neighbouring pixels (0..1 units).
  edge_band_loss     = mean squared tone of the outer band against the strip inside it,
                       beyond the content's own (0..1 units, see there).
The engine multiplies these by CONTENT_SCALE, STYLE_SCALE, TV_SCALE and EDGE_SCALE before
the user's weights. pastiche weighs content 0.01 * MSE and each of 5 style layers
10 / C^2 * MSE of (F F^T / HW), which is 10 * gram_loss above, so STYLE_SCALE = 5 layers
* 10 with the layer weights summing to one. With that single-scale balance, our
coarse-to-fine runs paint over the subject (the coarse levels see relu4_2 as a 16x16 map):
measured with the independent evaluator in benchmarks/README.md, 16x pastiche's content
weight gives both a lower style and a lower content distance than pastiche's 300-step
result. So CONTENT_SCALE = 16 * 0.01, and content_weight = style_weight = 1 means that
calibrated balance.
The Wasserstein-2 style loss (`style_loss: w2`) compares each layer's features as a
Gaussian (channel means and covariance) with the style's:
  w2_loss = (|m - m_s|^2 + tr(S + S_s - 2 (S_s^1/2 S S_s^1/2)^1/2)) / C,
the squared W2 distance between N(m, S) and N(m_s, S_s) per channel. Unlike the Gram loss
it measures the spread of the features, not their raw second moments, so it does not pull
every channel's mean up (which repaints the subject); crowsonkb's style-transfer-pytorch
uses it (the quality-anchor notes measured it as what matters most for its look). Several
styles are blended as a mixture: their means and raw second moments are averaged.
W2_SCALE was chosen on the benchmark pairs (benchmarks/README.md, "Style loss"): at 100,
where its pull at the start of a run equals the Gram loss's, W2 painted the painting itself
into the photo; 5 keeps the subject.
All maths here runs in float32 even when the network ran in half precision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from core import bf16_products
from core.eigen_roots import EigenRoots, eigen_roots, eigen_roots_of_all
from core.precision import exact_bfloat16_products

CONTENT_SCALE = 0.16
STYLE_SCALE = 50.0
W2_SCALE = 5.0
# W2's layer weights when the user gives none (other layers: 1). With equal weights the deep
# layers, whose full covariance pins down the painting's composition, painted the painting
# itself into small photos (The Scream's figure over the 384 px cat); these keep the
# subject and the painting's strokes (benchmarks/README.md, "Style loss").
W2_LAYER_WEIGHTS = {"relu1_1": 4.0, "relu2_1": 4.0, "relu3_1": 2.0, "relu4_1": 1.0, "relu5_1": 0.5}
# Added to the style's covariance, relative to its mean variance, so that its square root
# is well defined for a style whose deep features span fewer dimensions than C.
W2_EPSILON = 1e-4
# tv_weight = 1 then smooths about as strongly as the style pulls at its start.
TV_SCALE = 1.0e5
# edge_weight = 1: chosen on the nine benchmark pairs (benchmarks/README.md, "The edge-band
# term"): 1e4 left the astronaut in The Scream its dark top band, 1e6 took it off with the
# sliced W2 distance within its noise.
EDGE_SCALE = 1.0e6


class _Moments(torch.autograd.Function):
    """F F^T / (C*H*W) and the channel means of features F, with a backward built for
    speed (issue 12, benchmarks/step_cost.py).

    autograd's own backward of bmm(F, F^T) makes two products and adds them in F^T's strided
    layout, in float32 even when the network ran in bfloat16, and the means would take two
    more passes over the map and a third to add the gradients up: on 2 CPU cores that was a
    third of an engine step at 512 px. Here the features are laid out pixels x channels
    (a view of the network's channels-last maps), multiplied and summed in float32 (exact
    products of bfloat16 numbers) by MKL as they are where core.bf16_products is available,
    else copied once to float32 for both the product and the means; and the backward is
    one product plus the means' share, dF = F (dG + dG^T) / (C*H*W) + dm / (H*W), in the
    features' own precision, which is what the network's backward runs in anyway."""

    @staticmethod
    def forward(ctx, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        ctx.deferred = getattr(features, DEFERRED_MOMENTS, None)
        n, c, h, w = features.shape
        pixels = features.permute(0, 2, 3, 1).reshape(n, h * w, c).contiguous()
        ctx.save_for_backward(pixels)
        ctx.shape = (n, c, h, w)
        if n == 1 and pixels.dtype == torch.bfloat16 and pixels.device.type == "cpu" \
                and bf16_products.available():
            gram, sums = bf16_products.gram_and_sums(pixels[0])
            return (gram / float(c * h * w)).unsqueeze(0), (sums / float(h * w)).unsqueeze(0)
        exact = pixels.to(torch.promote_types(pixels.dtype, torch.float32))
        with exact_bfloat16_products(pixels.dtype, pixels.device):
            gram = torch.bmm(exact.transpose(1, 2), exact) / float(c * h * w)
        return gram, exact.mean(dim=1)

    @staticmethod
    def backward(ctx, grad_gram: torch.Tensor | None, grad_mean: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        (pixels,) = ctx.saved_tensors
        n, c, h, w = ctx.shape
        if grad_gram is None:
            grad_gram = torch.zeros(n, c, c, dtype=torch.float32, device=pixels.device)
        symmetric = ((grad_gram + grad_gram.transpose(1, 2)) / float(c * h * w)).to(pixels.dtype)
        share = None if grad_mean is None else (grad_mean / float(h * w)).view(n, 1, c)
        if ctx.deferred is not None:
            ctx.deferred.append((symmetric, share))
            return None
        if share is None:
            grad = torch.bmm(pixels, symmetric)
        else:
            grad = torch.baddbmm(share.to(pixels.dtype), pixels, symmetric)
        return grad.view(n, h, w, c).permute(0, 3, 1, 2)


# The attribute of a map (N x C x H x W) that asks feature_moments' backward to leave its
# gradient as (symmetric, share) pairs in this list instead of making it: see
# defer_moments_gradients. symmetric: C x C in the map's precision; share: the means'
# gradient per pixel, N x 1 x C in float32, or None.
DEFERRED_MOMENTS = "deferred_moments_gradients"
MomentsGradients = list[tuple[torch.Tensor, torch.Tensor | None]]


def defer_moments_gradients(features: torch.Tensor) -> MomentsGradients:
    """From now on, the gradients that feature_moments sends to these features (the tensor
    itself, not a view of it) are kept in the returned list, for add_moments_gradients.

    Why: made as a map of its own, dF = F S + m is written once and then added into the
    network's gradient for the map (core.vgg.TappedFeatures), two passes over the map; added
    by one in-place product (F S added to the gradient as the product runs) and one add, it
    took 4.6 ms instead of 15 ms at relu1_1 for 512 px on 2 CPU cores."""
    deferred: MomentsGradients = []
    setattr(features, DEFERRED_MOMENTS, deferred)
    return deferred


def add_moments_gradients(grad: torch.Tensor, features: torch.Tensor, deferred: MomentsGradients) -> None:
    """grad (the features' shape) += the gradients deferred for features, in place."""
    n, c, h, w = grad.shape
    if not grad.is_contiguous(memory_format=torch.channels_last):
        dense = torch.zeros_like(features, memory_format=torch.channels_last)
        add_moments_gradients(dense, features, deferred)
        grad.add_(dense)
        return
    grad_pixels = grad.permute(0, 2, 3, 1).view(n, h * w, c)
    pixels = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
    for symmetric, share in deferred:
        grad_pixels.baddbmm_(pixels, symmetric)
        if share is not None:
            grad_pixels.add_(share.to(grad.dtype))


def take_mean_gradients(deferred: MomentsGradients) -> torch.Tensor | None:
    """The deferred gradients' shares (one value per channel, the same at every pixel) summed,
    float32, C; taken out of the list, so that add_moments_gradients no longer adds them.
    None when there are none, or they differ between the pictures of a batch.

    Why: the layer that reads the map adds them as the bias of its gradient to the map
    (core.conv_relu), inside the kernel that makes that gradient: a pass over the map fewer,
    4 ms at relu1_1 for 512 px on 2 CPU cores."""
    shares = [share for _, share in deferred if share is not None]
    if not shares or shares[0].shape[0] != 1:
        return None
    deferred[:] = [(symmetric, None) for symmetric, _ in deferred]
    return torch.stack(shares).sum(dim=0).view(-1)


def feature_moments(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """N x C x H x W -> (N x C x C Gram matrix divided by C*H*W, N x C channel means), float32."""
    return _Moments.apply(features)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """N x C x H x W -> N x C x C in float32, divided by C*H*W."""
    return feature_moments(features)[0]


class _ContentLoss(torch.autograd.Function):
    """mean((F - P)^2) in float32 over the maps as flat views (channels-last: no copies).

    Why not mse_loss: on 4-D channels-last maps (the network's layout) it took 10 ms at
    relu4_2 for 512 px on 2 CPU cores; on flat views, with the copy of bfloat16 features to
    float32 and its gradient's copy back, 4.4 ms. Here the difference is made once, in
    float32 (the bfloat16 features read as they are), and is its own gradient: 1.3 ms."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        exact = torch.promote_types(target.dtype, torch.float32)
        difference = torch.sub(_flat(features), _flat(target).to(exact))
        ctx.save_for_backward(difference)
        n, c, h, w = features.shape
        ctx.pixels_shape, ctx.dtype = (n, h, w, c), features.dtype
        return torch.dot(difference, difference) / difference.numel()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (difference,) = ctx.saved_tensors
        # Made in the flat views' order (channels-last), in the features' precision.
        result = torch.empty(ctx.pixels_shape, dtype=ctx.dtype, device=difference.device)
        torch.mul(difference.view(ctx.pixels_shape), grad * (2.0 / difference.numel()), out=result)
        return result.permute(0, 3, 1, 2), None


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean((F - P)^2) over N x C x H x W maps, in float32."""
    return _ContentLoss.apply(features, target)


def _flat(maps: torch.Tensor) -> torch.Tensor:
    # A view for channels-last maps; the same order of elements for both sides in any case.
    return maps.permute(0, 2, 3, 1).reshape(-1)


def gram_loss(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((gram - target) ** 2)


def normalised(weights: Sequence[float] | None, count: int) -> list[float]:
    """Weights scaled to sum to 1 (equal when None)."""
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError("expected %d weights, got %d" % (count, len(weights)))
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("weights must not all be zero")
    return [float(weight) / total for weight in weights]


@dataclass(frozen=True)
class StyleStats:
    """A style picture's features at one layer: F F^T / (C*H*W) and each channel's mean."""

    gram: torch.Tensor  # C x C, float32
    mean: torch.Tensor  # C, float32


def style_loss(features: Mapping[str, torch.Tensor],
               targets: Sequence[Mapping[str, StyleStats]],
               layer_weights: Mapping[str, float],
               blend: Sequence[float]) -> torch.Tensor:
    """Blend-weighted sum over styles of layer-weighted Gram losses.

    targets[i][layer] is style i's statistics at that layer; blend and layer_weights are
    already normalised. The result's Gram is computed once per layer for all styles.
    """
    total = torch.zeros((), dtype=torch.float32, device=next(iter(features.values())).device)
    for layer, layer_weight in layer_weights.items():
        if layer_weight == 0:
            continue
        gram = gram_matrix(features[layer])
        for style_targets, style_weight in zip(targets, blend):
            if style_weight == 0:
                continue
            total = total + (layer_weight * style_weight) * gram_loss(gram, style_targets[layer].gram)
    return total


@dataclass(frozen=True)
class GaussianTarget:
    """One layer's W2 target: the (blended) style's channel means, covariance + epsilon,
    the covariance's square root, and the epsilon added."""

    mean: torch.Tensor
    covariance: torch.Tensor
    covariance_sqrt: torch.Tensor
    epsilon: float


def _symmetric_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    # Once per scale, so exact (float64) is cheap; on the CPU, since Apple's GPU has no float64.
    values, vectors = torch.linalg.eigh(matrix.cpu().double())
    root = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    return root.to(device=matrix.device, dtype=matrix.dtype)


def gaussian_targets(targets: Sequence[Mapping[str, StyleStats]], blend: Sequence[float],
                     layers: Sequence[str]) -> dict[str, GaussianTarget]:
    """Each layer's Gaussian of the styles' mixture (means and raw second moments averaged)."""
    result = {}
    for layer in layers:
        channels = targets[0][layer].mean.shape[0]
        mean = sum(weight * style[layer].mean for style, weight in zip(targets, blend))
        second = sum(weight * style[layer].gram * channels for style, weight in zip(targets, blend))
        covariance = second - torch.outer(mean, mean)
        epsilon = W2_EPSILON * float(torch.diagonal(covariance).mean().clamp(min=1e-12))
        covariance = covariance + epsilon * torch.eye(channels, device=covariance.device)
        result[layer] = GaussianTarget(mean, covariance, _symmetric_sqrt(covariance), epsilon)
    return result


class _TraceSqrt(torch.autograd.Function):
    """tr(M^1/2) of a symmetric positive semi-definite M from its eigendecomposition (made
    beforehand, core.eigen_roots); d tr(M^1/2) = tr(M^-1/2 dM) / 2, the roots floored."""

    @staticmethod
    def forward(ctx, matrix: torch.Tensor, eigen: EigenRoots) -> torch.Tensor:  # type: ignore[override]
        ctx.eigen = eigen
        return eigen.roots.sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        roots, vectors = ctx.eigen.roots, ctx.eigen.vectors
        return grad * (vectors * (0.5 / roots.clamp(min=ctx.eigen.floor))) @ vectors.T, None


class _SandwichTraceSqrt(torch.autograd.Function):
    """tr((R S R)^1/2) for symmetric S and a constant symmetric R, from the eigendecomposition
    of R S R = V diag(roots) V^T (made beforehand).

    Its gradient to S, R V D V^T R with D = diag(0.5 / roots), is made as B D B^T with
    B = R V: two C x C products instead of autograd's three (V D V^T, then R times it twice),
    a millisecond for each 512-channel layer on 2 CPU cores."""

    @staticmethod
    def forward(ctx, matrix: torch.Tensor, root: torch.Tensor, eigen: EigenRoots) -> torch.Tensor:  # type: ignore[override]
        ctx.eigen, ctx.root = eigen, root
        return eigen.roots.sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        roots, rotated = ctx.eigen.roots, ctx.root @ ctx.eigen.vectors
        return grad * (rotated * (0.5 / roots.clamp(min=ctx.eigen.floor))) @ rotated.T, None, None


@dataclass(frozen=True)
class _W2Terms:
    """One layer's W2 distance in parts: the terms without the cross term, with their graph;
    the matrix whose roots' sum is the cross term (without a graph), for its
    eigendecomposition; and that sum as a function of the decomposition, with its graph."""

    rest: torch.Tensor
    matrix: torch.Tensor
    root_sum: Callable[[EigenRoots], torch.Tensor]
    channels: int

    def distance(self, eigen: EigenRoots) -> torch.Tensor:
        return (self.rest - 2.0 * self.root_sum(eigen)) / self.channels


def _w2_terms(features: torch.Tensor, target: GaussianTarget) -> _W2Terms:
    n, channels, height, width = features.shape
    if n != 1:
        raise ValueError("w2_loss takes the features of one picture")
    count = height * width
    root = target.covariance_sqrt
    if count >= channels:
        gram, means = feature_moments(features)
        mean = means[0]
        covariance = gram[0] * channels - torch.outer(mean, mean)
        matrix = root @ covariance.detach() @ root
        spread = torch.trace(covariance)

        def root_sum(eigen: EigenRoots) -> torch.Tensor:
            return _SandwichTraceSqrt.apply(covariance, root, eigen)
    else:
        # Fewer pixels than channels (deep layers at the coarse scales): the C x C
        # covariance, and its dense gradient, are never made. Its trace is the centred
        # features' squared norm over the pixels, and Y^T Y has the same non-zero
        # eigenvalues as Y Y^T = root S root and is only pixels x pixels.
        exact = features.to(torch.promote_types(features.dtype, torch.float32))
        flat = exact.permute(1, 0, 2, 3).reshape(channels, count)
        mean = flat.mean(dim=1)
        centred = flat - mean[:, None]
        projected = root @ centred
        cross = projected.T @ projected / count
        matrix = cross.detach()
        spread = torch.sum(centred * centred) / count

        def root_sum(eigen: EigenRoots) -> torch.Tensor:
            return _TraceSqrt.apply(cross, eigen)
    rest = torch.sum((mean - target.mean) ** 2) + spread + torch.trace(target.covariance)
    return _W2Terms(rest, matrix, root_sum, channels)


def w2_loss(features: torch.Tensor, target: GaussianTarget) -> torch.Tensor:
    """Squared W2 distance between the features' Gaussian and the target's, over C
    (features of one picture: 1 x C x H x W)."""
    terms = _w2_terms(features, target)
    return terms.distance(eigen_roots(terms.matrix))


def w2_style_loss(features: Mapping[str, torch.Tensor], targets: Mapping[str, GaussianTarget],
                  layer_weights: Mapping[str, float]) -> torch.Tensor:
    """Layer-weighted sum of W2 losses against gaussian_targets (styles already blended); the
    layers' eigendecompositions side by side (core.eigen_roots)."""
    total = torch.zeros((), dtype=torch.float32, device=next(iter(features.values())).device)
    weighted = [(weight, _w2_terms(features[layer], targets[layer]))
                for layer, weight in layer_weights.items() if weight]
    eigens = eigen_roots_of_all([terms.matrix for _, terms in weighted])
    for (weight, terms), eigen in zip(weighted, eigens):
        total = total + weight * terms.distance(eigen)
    return total


def tv_loss(pixels: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of horizontal and vertical neighbours, pixels in 0..255."""
    x = pixels.float() / 255.0
    loss = torch.zeros((), dtype=torch.float32, device=pixels.device)
    if x.shape[-1] > 1:
        loss = loss + torch.mean((x[..., :, 1:] - x[..., :, :-1]) ** 2)
    if x.shape[-2] > 1:
        loss = loss + torch.mean((x[..., 1:, :] - x[..., :-1, :]) ** 2)
    return loss


SIDES = ("top", "bottom", "left", "right")


def edge_band_depth(height: int, width: int) -> int:
    """How far in from each edge edge_band_loss looks: a sixteenth of the shorter side
    (32 px at 512 px), so that it covers the same part of the picture at every scale."""
    return max(4, round(min(height, width) / 16))


def _edge_strip(picture: torch.Tensor, side: str, depth: int) -> torch.Tensor:
    """The outer depth rows along one side, outermost row first, the side along the last axis."""
    if side == "top":
        return picture[..., :depth, :]
    if side == "bottom":
        return picture[..., -depth:, :].flip(-2)
    if side == "left":
        return picture[..., :, :depth].transpose(-1, -2)
    return picture[..., :, -depth:].flip(-1).transpose(-1, -2)


def edge_band_loss(pixels: torch.Tensor, content: torch.Tensor, sides: Sequence[str]) -> torch.Tensor:
    """How far the picture's outer band strays in tone from the strip just inside it, beyond
    what the content does there (a frame), in 0..1 units squared, averaged over the sides.

    Per side, the difference picture - content is averaged along the side in segments of
    twice the depth (a frame along part of a side counts too), for each of the outer depth
    rows; each row of the outer half is compared with the inner half's mean. Only these
    averages are held: strokes may still run up to and along the edge."""
    difference = (pixels.float() - content.float()) / 255.0
    depth = edge_band_depth(difference.shape[-2], difference.shape[-1])
    loss = torch.zeros((), dtype=torch.float32, device=pixels.device)
    for side in sides:
        strip = _edge_strip(difference, side, depth)
        segments = max(1, round(strip.shape[-1] / (2 * depth)))
        profile = torch.nn.functional.adaptive_avg_pool2d(strip, (depth, segments))
        inside = profile[..., depth // 2:, :].mean(dim=-2, keepdim=True)
        loss = loss + torch.mean((profile[..., :depth // 2, :] - inside) ** 2)
    return loss / max(1, len(sides))
