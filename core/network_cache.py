"""The VGG-19 network kept between jobs (of the engine server, of a batch run).

Building the network costs about half a CPU second even with the weights cached by
core.vgg (sixteen convolutions are made and filled), plus the copy to the GPU; a warm
server or a batch run pays it once per weights/layers/device. The network is frozen and stateless
(eval mode, no gradients on its parameters), so jobs, which run one at a time, can share it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from core.vgg import VGGFeatures, build_network

# A few combinations of weights, layers and device: each network is about 80 MB.
_KEEP = 2


@functools.lru_cache(maxsize=_KEEP)
def _cached(weights: str, layers: tuple[str, ...], device: str) -> VGGFeatures:
    return build_network(weights, layers, torch.device(device))


def cached_network(weights: str, layers: Sequence[str], device: torch.device) -> VGGFeatures:
    """core.api.stylize's network_factory: the same network object for the same request."""
    return _cached(weights, tuple(layers), str(device))


def forget_networks() -> None:
    _cached.cache_clear()
