"""The square roots of symmetric positive semi-definite matrices' eigenvalues, for the W2
style loss (core.losses), several matrices two at a time on the CPU.

Why two at a time: LAPACK's eigendecomposition (torch.linalg.eigh, MKL's ssyevd) hardly
gains from a second core. For a 512 x 512 matrix on 2 cores it took 10.7 ms on both and
13.3 ms on one. Balanced's five style layers have two such matrices (relu4_1, relu5_1), one
a core side by side: 14.7 ms for both instead of 21.5 (benchmarks/README.md, "Tenth
round"). A core's matrices are decomposed with its share of torch's threads, the same
numbers as with all of them up to their order of sums (a few float32 spacings).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

# Roots below this fraction of the largest count as it in a gradient: a nearly flat
# direction must not get an unbounded pull.
ROOT_FLOOR = 1e-3


@dataclass(frozen=True)
class EigenRoots:
    roots: torch.Tensor  # the eigenvalues' square roots (negative eigenvalues as 0)
    vectors: torch.Tensor  # the eigenvectors, as columns
    floor: float  # ROOT_FLOOR of the largest root


def eigen_roots(matrix: torch.Tensor) -> EigenRoots:
    """One matrix's roots and eigenvectors, on the matrix's device."""
    # On the CPU even for a GPU run: on an H200, cuSOLVER's eigendecompositions took 89% of
    # the GPU's time in a step (15 ms for 512 x 512); the CPU's LAPACK is faster, and
    # copying the matrix there and back costs little (benchmarks/README.md, "GPU").
    values, vectors = torch.linalg.eigh(matrix.detach().cpu())
    roots = values.clamp(min=0).sqrt()
    # Read here, from the CPU's copy: read later, it would make the CPU wait for a GPU.
    floor = ROOT_FLOOR * float(roots.max().clamp(min=1e-30))
    return EigenRoots(roots.to(matrix.device), vectors.to(matrix.device), floor)


def eigen_roots_of_all(matrices: Sequence[torch.Tensor]) -> list[EigenRoots]:
    """eigen_roots of each matrix, in two groups of about equal work side by side when torch
    has two threads or more: one group on a helper thread, the other on this one."""
    threads = torch.get_num_threads()
    if len(matrices) < 2 or threads < 2:
        return [eigen_roots(matrix) for matrix in matrices]
    # Largest first, each to the group with less work so far (an n x n matrix: n^3).
    order = sorted(range(len(matrices)), key=lambda i: -matrices[i].shape[-1])
    groups: tuple[list[int], list[int]] = ([], [])
    work = [0, 0]
    for i in order:
        lighter = 0 if work[0] <= work[1] else 1
        groups[lighter].append(i)
        work[lighter] += matrices[i].shape[-1] ** 3
    mine, helpers = groups
    results: dict[int, EigenRoots] = {}
    helped = _helper(threads // 2).submit(lambda: {i: eigen_roots(matrices[i]) for i in helpers})
    try:
        torch.set_num_threads(threads - threads // 2)
        results.update((i, eigen_roots(matrices[i])) for i in mine)
    finally:
        results.update(helped.result())
        # After the helper's own setting (it ran before its result): torch's count is
        # per thread, but a new thread starts with the last one set anywhere.
        torch.set_num_threads(threads)
    return [results[i] for i in range(len(matrices))]


_helpers: dict[int, ThreadPoolExecutor] = {}
_helpers_lock = threading.Lock()
if hasattr(os, "register_at_fork"):  # a forked child has none of its parent's threads
    os.register_at_fork(after_in_child=_helpers.clear)


def _helper(threads: int) -> ThreadPoolExecutor:
    """One helper thread that runs torch with this many threads (kept for later calls)."""
    with _helpers_lock:
        if threads not in _helpers:
            _helpers[threads] = ThreadPoolExecutor(
                1, thread_name_prefix="eigen-roots", initializer=torch.set_num_threads, initargs=(threads,))
        return _helpers[threads]
