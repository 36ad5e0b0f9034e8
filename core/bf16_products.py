"""Products of bfloat16 matrices summed and returned in float32 on the CPU, from Intel MKL.

The Gram matrices and channel means of the network's bfloat16 maps must be summed in float32
(core.losses). torch has no such product on the CPU: torch.mm of bfloat16 matrices rounds
its result to bfloat16. So the engine copies each map to float32 and has oneDNN multiply the
copies (core.precision.exact_bfloat16_products): at 512 px about 30 ms of an engine step on
2 cores, most of it passes over maps of up to 71 MB. MKL's cblas_gemm_bf16bf16f32 reads
the bfloat16 map as it is and sums in float32. torch's CPU library has MKL linked in and
exports that function, but torch does not call it for these products, so it is called here
through ctypes.

Used only where it was measured faster: on CPUs with AMX tiles. With MKL limited to AVX-512
or AVX2 (MKL_ENABLE_INSTRUCTIONS, as on CPUs without AMX), the same products took 5 times
as long as the float32 copies. It is checked once against a float64 product before its first
use. Where the function is missing (a torch built without MKL: ARM, macOS) or the check
fails, available() is False and the float32 copies are used; both give the same sums up to
their order (benchmarks/README.md, "Tenth round").
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch

from core.precision import cpu_has_amx

# CBLAS's enumerations (cblas.h).
_ROW_MAJOR, _NO_TRANSPOSE, _TRANSPOSE = 101, 111, 112
_LARGEST = 2 ** 31 - 1  # MKL_INT of the LP64 interface that this symbol belongs to
_LIBRARIES = ("libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu.dll")


@functools.cache
def _gemm() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """cblas_gemm_bf16bf16f32 from torch's CPU library, or None where it has none."""
    folder = Path(torch.__file__).parent / "lib"
    for name in _LIBRARIES:
        if (folder / name).exists():
            try:
                library = ctypes.CDLL(str(folder / name))
            except OSError:
                return None
            function = getattr(library, "cblas_gemm_bf16bf16f32", None)
            if function is None:
                return None
            function.restype = None
            function.argtypes = [ctypes.c_int] * 6 + [
                ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
            return function
    return None


@functools.cache
def available() -> bool:
    """Whether gram_and_sums can be used here (see the module's notes)."""
    return cpu_has_amx() and _gemm() is not None and _agrees_with_float64()


def _agrees_with_float64() -> bool:
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(203, 24, generator=generator).to(torch.bfloat16)
    exact = pixels.double()
    return all(float((found - wanted).abs().max()) < 1e-5 * float(wanted.abs().max())
               for found, wanted in zip(gram_and_sums(pixels), (exact.T @ exact, exact.sum(dim=0))))


@functools.lru_cache(maxsize=8)
def _ones(count: int) -> torch.Tensor:
    return torch.ones(count, dtype=torch.bfloat16)


def gram_and_sums(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """P^T P (C x C) and the column sums of P (C), in float32, for P of pixels x channels in
    bfloat16 on the CPU. Call only where available()."""
    gemm = _gemm()
    if gemm is None or pixels.dtype != torch.bfloat16 or pixels.device.type != "cpu" or pixels.dim() != 2:
        raise ValueError("gram_and_sums takes a 2-D bfloat16 CPU matrix, where MKL is available")
    count, channels = pixels.shape
    if count > _LARGEST:
        raise ValueError("too many pixels for one product: %d" % count)
    pixels = pixels.contiguous()
    gram = torch.empty(channels, channels)
    sums = torch.empty(1, channels)
    ones = _ones(count)
    # gram = P^T P: P is count x channels in rows, so op(A) = A^T with lda = channels.
    gemm(_ROW_MAJOR, _TRANSPOSE, _NO_TRANSPOSE, channels, channels, count, 1.0,
         pixels.data_ptr(), channels, pixels.data_ptr(), channels, 0.0, gram.data_ptr(), channels)
    # sums = 1^T P, a 1 x count row of ones times P.
    gemm(_ROW_MAJOR, _NO_TRANSPOSE, _NO_TRANSPOSE, 1, channels, count, 1.0,
         ones.data_ptr(), count, pixels.data_ptr(), channels, 0.0, sums.data_ptr(), channels)
    return gram, sums[0]
