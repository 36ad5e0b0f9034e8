"""core.heap: large freed buffers are reused while the engine runs, and given back after."""

from __future__ import annotations

import resource

import pytest
import torch

from core import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="glibc only")

PAGES_OF_64_MIB = 64 * 2 ** 20 // resource.getpagesize()


def _page_faults_of_a_fresh_64_mib_buffer() -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = torch.ones(16 * 2 ** 20)  # 64 MiB of float32, every page written
    del buffer
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_a_freed_buffer_is_reused_inside_and_returned_outside():
    _page_faults_of_a_fresh_64_mib_buffer()
    assert _page_faults_of_a_fresh_64_mib_buffer() > PAGES_OF_64_MIB // 2
    with heap.reuse_freed_memory():
        _page_faults_of_a_fresh_64_mib_buffer()
        with heap.reuse_freed_memory():  # nested: the outer settings hold
            pass
        assert _page_faults_of_a_fresh_64_mib_buffer() < PAGES_OF_64_MIB // 10
    assert _page_faults_of_a_fresh_64_mib_buffer() > PAGES_OF_64_MIB // 2
