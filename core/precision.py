"""Which 16-bit type, if any, the network computes in on a device.

The network's forward and backward passes run in bfloat16 (its layers copied once in that
type, core.vgg.VGGFeatures.body_in) on GPUs and CPUs that compute it natively (CUDA
compute capability 8+, CPUs where cpu_supports_bf16 measured it faster; float32 elsewhere).
Measured on 2 AMD EPYC cores: 1.5x less CPU time per step at 128-512 px, about 6-9% more loss
after the same number of steps, the same evaluator scores for the presets
(benchmarks/RESULTS-engine.md); with the engine of 2026-12-02 an engine step at 512 px is
1.7x faster than in float32 (benchmarks/README.md, "bfloat16 by CPU").
Everything else stays float32: the optimised pixels and L-BFGS, the Gram matrices' forward
products (on a bfloat16 CPU computed exactly by its bfloat16 units, exact_bfloat16_products)
and the losses, and the statistics of the fixed targets (their features come from
the network in its precision, so that a picture equal to the content has no content loss).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return handle.read(1 << 16)  # the first processor's block is enough
    except OSError:
        return ""


def cpu_supports_bf16() -> bool:
    """Whether this machine's CPU computes bfloat16 convolutions faster than float32."""
    return bf16_faster_on(_cpuinfo())


def cpu_has_amx() -> bool:
    """Whether this machine's CPU has AMX tiles for bfloat16 (Intel Xeon since Sapphire Rapids)."""
    return "amx_bf16" in _vendor_and_flags(_cpuinfo())[1]


def _vendor_and_flags(cpuinfo: str) -> tuple[str, list[str]]:
    vendor, flags = "", []
    for line in cpuinfo.splitlines():
        if line.startswith("vendor_id") and not vendor:
            vendor = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            break
    return vendor, flags


def bf16_faster_on(cpuinfo: str) -> bool:
    """From /proc/cpuinfo's text: whether bfloat16 convolutions beat float32 on that CPU.

    Measured (benchmarks/README.md, "bfloat16 by CPU"): yes with AMX tiles (Intel Xeon) and
    with AVX-512 BF16 on AMD EPYC; no with AVX-512 BF16 alone on an Intel Xeon.
    """
    vendor, flags = _vendor_and_flags(cpuinfo)
    return "amx_bf16" in flags or (vendor == "AuthenticAMD" and "avx512_bf16" in flags)


def network_precision(device: torch.device) -> torch.dtype | None:
    """The 16-bit type the network computes in on this device, or None for float32."""
    if device.type == "cuda":
        # Only native bfloat16 (Ampere and later): float16 would need loss scaling, since
        # the per-element gradients of these mean-normalised losses are around 1e-7, below
        # float16's normal range, and emulated bfloat16 is slower than float32.
        try:
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # torch before 2.3 has no such argument and no emulation
            native = torch.cuda.is_bf16_supported()
        return torch.bfloat16 if native else None
    if device.type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return None


@contextmanager
def exact_bfloat16_products(dtype: torch.dtype, device: torch.device) -> Iterator[None]:
    """Within it, float32 matrix products on the CPU run on its bfloat16 units (AMX or
    AVX-512 BF16), summing in float32, when the maps are bfloat16 there; else it does nothing.

    For the float32 copy of a bfloat16 map that loses nothing: each factor is a bfloat16
    number, and products of two are exact in float32, so only the order of the sums
    changes (1e-6 relative). torch has no bfloat16-in, float32-out product on the CPU, so
    this sets torch's process-wide oneDNN flag for the block and puts it back; any other
    float32 matrix would be rounded to bfloat16 under it. The engine runs one job at a time
    in a process (core.server.scheduler), so no other thread's products fall under it.
    Measured in benchmarks/README.md ("Step cost", fifth round)."""
    matmul = getattr(torch.backends.mkldnn, "matmul", None)  # torch 2.9 and later
    if dtype != torch.bfloat16 or device.type != "cpu" or matmul is None:
        yield
        return
    before = matmul.fp32_precision
    matmul.fp32_precision = "bf16"
    try:
        yield
    finally:
        matmul.fp32_precision = before
