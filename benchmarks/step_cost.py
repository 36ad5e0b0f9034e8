"""One engine step against the bare network, same process, same precision (issue 12).

The bare network: VGG-19 up to relu5_1 (the deepest layer the presets use) as torch's own
layers (Conv2d, ReLU, MaxPool2d), forward plus backward to the input pixels, in the engine's
precision (core.precision, weights copied once), zero padding, no losses. The engine's
network: the same through core.vgg.VGGFeatures, which runs each convolution and its ReLU as
one oneDNN kernel in bfloat16, and the max pooling after it in the same autograd function
(core.conv_relu), cut into bands of rows so that its backward runs on every core
(core.pooling). The engine step: one optimiser step of
core.optimize.Engine on one scale at the same size (network with the engine's padding,
content and style losses, total variation, L-BFGS), timed between its progress events from
the third step on (the first two are warm-up). The ratio is the step's to the bare network's.
For bfloat16 it also times the bare network the way issue 12 first timed it, torch's
layers as torchvision leaves them under autocast (bare_autocast_s, not in the ratio). All are
medians over --repeat timings, alternated so that a change in the machine's load
touches both. Prints one JSON object.

    .venv/bin/python benchmarks/step_cost.py --size 512 --repeat 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# core before torch: the engine's OpenMP settings (core.OPENMP_WAIT) are read as torch loads.
import core  # noqa: E402,F401

# isort: split
import torch  # noqa: E402

from core import optimize  # noqa: E402
from core.heap import reuse_freed_memory  # noqa: E402
from core.optimize import Callbacks, Engine, Settings  # noqa: E402
from core.vgg import VGGFeatures, build_network, load_weights  # noqa: E402
from protocol.options import validate_options  # noqa: E402


def bare_step(network: VGGFeatures, pixels: torch.Tensor, dtype: torch.dtype | None) -> float:
    """torch's own layers (nn.Sequential: Conv2d, ReLU, MaxPool2d), as any VGG-19 runs them."""
    x = pixels.clone().requires_grad_(True)
    start = time.perf_counter()
    body_input = network.preprocess(x.contiguous(memory_format=torch.channels_last))
    if dtype is not None:
        body_input = body_input.to(dtype)
    network.body_in(dtype)(body_input).float().sum().backward()
    return time.perf_counter() - start


def autocast_step(network: VGGFeatures, pixels: torch.Tensor) -> float:
    """torch's own layers as torchvision leaves them (float32 weights, the default memory
    layout) under bfloat16 autocast, as issue 12 first timed "the bare VGG-19" (0.81 s on
    its machine): autocast casts and oneDNN reorders every weight again each pass."""
    x = pixels.clone().requires_grad_(True)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        body_output = network.body_in(None)(network.preprocess(x))
    body_output.float().sum().backward()
    return time.perf_counter() - start


def network_step(network: VGGFeatures, pixels: torch.Tensor, dtype: torch.dtype | None) -> float:
    """The engine's network code (VGGFeatures, with its fused layers), zero padding, no losses."""
    x = pixels.clone().requires_grad_(True)
    start = time.perf_counter()
    feats = network(x.contiguous(memory_format=torch.channels_last), precision=dtype)
    sum(feature.float().sum() for feature in feats.values()).backward()
    return time.perf_counter() - start


def engine_steps(options: dict, content: torch.Tensor, style: torch.Tensor, steps: int) -> list[float]:
    settings = Settings.from_options(validate_options(dict(options, steps=steps, scales=1)))
    network = build_network("embedded", settings.layers, "cpu")
    stamps: list[float] = []
    engine = Engine(network, torch.device("cpu"), settings,
                    Callbacks(progress=lambda event: stamps.append(time.perf_counter())))
    engine.run(content, [style])
    # Steps 1-2 include the targets and the first allocations: skip them.
    return [b - a for a, b in zip(stamps[2:], stamps[3:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=8)
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--float32", action="store_true",
                        help="run both in float32, as on CPUs without native bfloat16")
    args = parser.parse_args()
    if args.float32:
        optimize.network_precision = lambda device: None
    torch.manual_seed(0)
    size = args.size
    content = torch.rand(1, 3, size, size) * 255
    style = torch.rand(1, 3, size, size) * 255
    dtype = optimize.network_precision(torch.device("cpu"))
    bare_network = VGGFeatures(load_weights("embedded"), ["relu5_1"], padding="zeros").to(
        memory_format=torch.channels_last)
    bare_step(bare_network, content, dtype)  # warm-up
    network_step(bare_network, content, dtype)
    autocast = dtype == torch.bfloat16
    if autocast:  # only bfloat16 has an autocast baseline: no second network for --float32
        plain_network = VGGFeatures(load_weights("embedded"), ["relu5_1"], padding="zeros")
        autocast_step(plain_network, content)  # warm-up
    bare: list[float] = []
    bare_autocast: list[float] = []
    network: list[float] = []
    engine: list[float] = []
    options = {"preset": args.preset, "size": size, "device": "cpu"}
    # Both with the engine's allocator settings (core.heap), which the bare network gets too.
    with reuse_freed_memory():
        for _ in range(args.repeat):
            bare.append(bare_step(bare_network, content, dtype))
            if autocast:
                bare_autocast.append(autocast_step(plain_network, content))
            network.append(network_step(bare_network, content, dtype))
            engine.extend(engine_steps(options, content, style, 5))
    bare_median, engine_median = statistics.median(bare), statistics.median(engine)
    print(json.dumps({
        "size": size, "precision": str(dtype or torch.float32), "threads": torch.get_num_threads(),
        "bare_forward_backward_s": round(bare_median, 3),
        "bare_autocast_s": round(statistics.median(bare_autocast), 3) if autocast else None,
        "engine_network_s": round(statistics.median(network), 3),
        "engine_step_s": round(engine_median, 3), "ratio": round(engine_median / bare_median, 2),
        "preset": args.preset, "style_loss": validate_options({"preset": args.preset})["style_loss"]}))


if __name__ == "__main__":
    main()
