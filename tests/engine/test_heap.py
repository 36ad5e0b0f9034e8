"""core.heap: while the engine runs, large freed buffers stay in the heap for reuse; after
it, large buffers are mapped and returned to the system again (glibc's defaults)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from core import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="glibc only")

# In a fresh interpreter, as the engine runs in its own process: the test process's heap,
# full of holes from other tests, could serve a buffer whatever the settings.
PROBE = textwrap.dedent("""
    import ctypes, json, torch
    from core import heap

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2

    def info():
        found = libc.mallinfo2()
        return {"mapped": found.hblkhd, "free_in_heap": found.fordblks}

    seen = {}
    buffer = torch.empty(16 * 2 ** 20)  # 64 MiB
    seen["outside"] = info()
    del buffer
    with heap.reuse_freed_memory():
        buffer = torch.empty(16 * 2 ** 20)
        with heap.reuse_freed_memory():  # nested: the outer settings hold
            pass
        seen["inside"] = info()
        del buffer
        seen["inside_freed"] = info()
    buffer = torch.empty(16 * 2 ** 20)
    seen["after"] = info()
    print(json.dumps(seen))
""")
MIB_64 = 64 * 2 ** 20


def test_large_buffers_stay_in_the_heap_inside_and_are_mapped_outside():
    completed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                               check=True)
    seen = json.loads(completed.stdout)
    assert seen["outside"]["mapped"] >= MIB_64, seen
    assert seen["inside"]["mapped"] < MIB_64, seen
    assert seen["inside_freed"]["free_in_heap"] >= MIB_64, seen
    assert seen["after"]["mapped"] >= MIB_64, seen
