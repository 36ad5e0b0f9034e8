"""Which 16-bit type, if any, the network computes in on a device.

The network's forward and backward passes run in bfloat16 (its layers copied once in that
type, core.vgg.VGGFeatures.body_in) on GPUs and CPUs that compute it natively (CUDA
compute capability 8+, AVX-512 BF16, AMX; float32 elsewhere). Measured on 2 CPU cores:
1.5x less CPU time per step at 128-512 px, about 6-9% more loss after the same number of
steps, the same evaluator scores for the presets (benchmarks/RESULTS-engine.md).
Everything else stays float32: the optimised pixels and L-BFGS, the Gram matrices' forward
products and the losses, and the fixed targets (content features and style Grams are
computed once per scale with the network in float32).
"""

from __future__ import annotations

import torch


def cpu_supports_bf16() -> bool:
    """Whether this CPU computes bfloat16 convolutions natively (AVX-512 BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = line.split()
                    return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        pass
    return False


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
