"""The plug-in's client under a real Python 2.7 (GIMP 2.10's), against a real server.

Python 2.7's httplib reads a streamed body differently from Python 3's, so a whole job
runs from inside the Debian 11 chroot of tests/py27_chroot.py (built on first use).
A chroot shares the network: the traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from py27_chroot import PYTHON, ensure_chroot
from server_helpers import ROOT, start_server

SCRIPT = r'''
import sys
sys.path.insert(0, sys.argv[2])
from server_client import EngineServer, QueueFull, JobRefused
import server_client

def pam(width, height):
    header = "P7\nWIDTH %d\nHEIGHT %d\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" % (width, height)
    return header.encode("ascii") + bytearray((x * 7 + y * 3) % 256 for y in range(height)
                                              for x in range(width * 3))

server = EngineServer(sys.argv[1])
assert server.health()["busy"] is False
names = []
result = None
for event in server.submit({"preset": "preview", "steps": 3, "device": "cpu"}, bytes(pam(40, 32)),
                           [bytes(pam(32, 32))], preview_every=1):
    names.append(event["event"])
    if event["event"] in ("preview", "done"):
        assert isinstance(event["pam"], bytes)
        result = event["pam"]
print(" ".join(names))
print(result[:30].split(b"\n")[1:3])
try:
    server.submit({"steps": 0}, bytes(pam(40, 32)), [bytes(pam(32, 32))])
except JobRefused as error:
    print("refused: %s" % error)
'''


def test_a_job_from_python27(tmp_path):
    chroot_dir = ensure_chroot()
    work = tempfile.mkdtemp(prefix="nst-server-py27-", dir=os.path.join(chroot_dir, "tmp"))
    inside = "/tmp/" + os.path.basename(work)
    shutil.copy(os.path.join(ROOT, "gimp_plugin", "neural_style_plugin", "server_client.py"), work)
    # The client decodes events with protocol.events, as it does inside the installed plug-in.
    shutil.copytree(os.path.join(ROOT, "protocol"), os.path.join(work, "protocol"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(work, "job.py"), "w") as handle:
        handle.write(SCRIPT)
    server = start_server(tmp_path, "--device", "cpu", "--no-warm-up")
    try:
        chroot = shutil.which("chroot") or "/usr/sbin/chroot"
        done = subprocess.run([chroot, chroot_dir, PYTHON, inside + "/job.py", server.url, inside],
                              capture_output=True, text=True, timeout=300,
                              env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"})
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "queued start progress preview progress preview progress preview done"
    assert lines[1] == "['WIDTH 40', 'HEIGHT 32']"
    assert lines[2] == "refused: The job's options cannot be used: steps must be at least 1, not 0."
