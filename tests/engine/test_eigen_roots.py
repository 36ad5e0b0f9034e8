"""Eigendecompositions for the W2 style loss, several side by side."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import torch

from core import eigen_roots


def _symmetric(size: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(size + 7, size, generator=generator)
    return features.T @ features / (size + 7)


def test_roots_are_the_eigenvalues_square_roots_with_their_vectors():
    matrix = _symmetric(12, 0)
    found = eigen_roots.eigen_roots(matrix)
    rebuilt = (found.vectors * found.roots ** 2) @ found.vectors.T
    assert torch.allclose(rebuilt, matrix, atol=1e-5)
    assert found.floor == eigen_roots.ROOT_FLOOR * float(found.roots.max())


@pytest.mark.skipif(torch.get_num_threads() < 2, reason="one thread: one at a time")
def test_several_side_by_side_are_each_ones_own_and_leave_torchs_threads_as_they_were(monkeypatch):
    matrices = [_symmetric(size, seed) for seed, size in enumerate((64, 8, 48, 64, 16))]
    threads_before = torch.get_num_threads()
    callers = set()
    real = eigen_roots.eigen_roots
    monkeypatch.setattr(eigen_roots, "eigen_roots",
                        lambda matrix: callers.add(threading.current_thread().name) or real(matrix))
    found = eigen_roots.eigen_roots_of_all(matrices)
    monkeypatch.undo()
    assert len(callers) == 2  # this thread and the helper
    assert torch.get_num_threads() == threads_before
    for matrix, roots in zip(matrices, found):
        alone = eigen_roots.eigen_roots(matrix)
        assert torch.allclose(roots.roots, alone.roots, rtol=1e-5, atol=1e-6)
        # Eigenvectors up to sign: the rebuilt matrix is the same.
        assert torch.allclose((roots.vectors * roots.roots ** 2) @ roots.vectors.T, matrix, atol=1e-5)


@pytest.mark.skipif(not hasattr(os, "fork") or torch.get_num_threads() < 2, reason="no fork, or one thread")
def test_a_forked_child_makes_its_own_helper():
    matrices = [_symmetric(16, 0), _symmetric(16, 1)]
    eigen_roots.eigen_roots_of_all(matrices)  # the parent's helper thread now exists
    child = os.fork()
    if child == 0:  # the child: its parent's helper thread is not there to run anything
        try:
            eigen_roots.eigen_roots_of_all(matrices)
        except BaseException:
            os._exit(1)
        os._exit(0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    pytest.fail("the child waited for a helper thread that forking left behind")
