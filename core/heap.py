"""Keep freed memory for reuse while the optimiser runs (glibc only; elsewhere a no-op).

Every engine step allocates and frees the same large buffers (feature maps of 30-80 MB at
512 px). glibc serves blocks that large with mmap and returns them with munmap, so every
step page-faults its whole working set in again. Measured with benchmarks/step_cost.py at
512 px on 2 cores (bfloat16): 0.66 s per step with glibc's defaults, 0.56 s with mmap off
and trimming off. PyTorch's CPU tuning guide suggests swapping the allocator (jemalloc,
tcmalloc) for the same reason; glibc's own mallopt needs no extra library and no LD_PRELOAD.
When the run ends, the settings go back to glibc's defaults and the heap is trimmed.

Only in a run on the process's main thread (the command line, the plug-in's worker, batch).
The engine server runs its jobs on a thread beside its event loop, where glibc allocates
from other arenas (heaps of at most 64 MB, so larger blocks are mapped whatever the
settings) and a process-wide switch would also reach the event loop: it keeps glibc's
defaults there; not measured.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
import threading
from collections.abc import Iterator

# mallopt parameters from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
# glibc's defaults (mallopt(3)).
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
NEVER_TRIM = 2 ** 31 - 1  # mallopt takes an int


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_depth = 0  # nested uses (a benchmark around the engine) keep the outermost settings


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[None]:
    global _depth
    libc = _glibc() if threading.current_thread() is threading.main_thread() else None
    if libc is None or _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM)
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
