"""Running a real `neural-style serve` for the tests, and tiny PAM pictures to send it.

Servers listen on 127.0.0.1 with --port 0 (the port they got is read from their first
line); test traffic never leaves loopback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from PIL import Image

from protocol.pam import PamImage, encode_pam

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")
LISTENING = re.compile(r"listening on (https?)://127\.0\.0\.1:(\d+) ")
# Small and quick: a few CPU tenths of a second per job.
QUICK = {"preset": "preview", "steps": 3, "device": "cpu"}


class RunningServer:
    def __init__(self, process: subprocess.Popen, url: str, home: str, log_path: str, banner: str) -> None:
        self.banner = banner  # what it printed up to the line saying where it listens
        self.process = process
        self.url = url
        self.home = home
        self.log_path = log_path

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def health(self, token: str | None = None, cafile: str | None = None) -> dict:
        import ssl

        request = urllib.request.Request(self.url + "/v1/health")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        context = ssl.create_default_context(cafile=cafile) if cafile else None
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def start_server(tmp_path, *arguments: str, timeout: float = 120) -> RunningServer:
    """`neural-style serve --port 0 ARGUMENTS`, its HOME and temporary folder in tmp_path."""
    home = tmp_path / "home"
    for folder in (home, tmp_path / "tmp"):
        folder.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), TMPDIR=str(tmp_path / "tmp"),
               OMP_WAIT_POLICY="PASSIVE")
    log_path = str(tmp_path / "server.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "core", "serve", "--port", "0", *arguments],
                                   cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=log, text=True)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = LISTENING.search(line)
        if found:
            return RunningServer(process, "%s://127.0.0.1:%s" % found.groups(), str(home), log_path,
                                 "".join(seen))
    process.kill()
    process.wait()
    with open(log_path) as handle:
        raise AssertionError("the server did not start:\n" + "".join(seen) + handle.read())


def wait_until_ready(server: RunningServer, timeout: float = 120, **auth) -> None:
    deadline = time.monotonic() + timeout
    while not server.health(**auth)["ready"]:
        assert time.monotonic() < deadline, "the server did not warm up"
        time.sleep(0.2)


def picture_pam(name: str, width: int, height: int, alpha: bool = False) -> bytes:
    """One of the test pictures at width x height as an 8-bit RGB(A) PAM file."""
    image = Image.open(os.path.join(DATA, name)).convert("RGB").resize((width, height))
    if alpha:
        image.putalpha(Image.linear_gradient("L").resize((width, height)).point(lambda v: 64 + v // 2))
    return encode_pam(PamImage(width, height, 4 if alpha else 3, 8, image.tobytes()))


def content_pam(width: int = 40, height: int = 32, alpha: bool = False) -> bytes:
    return picture_pam("engine_astronaut_96.png", width, height, alpha)


def style_pam(width: int = 40, height: int = 40) -> bytes:
    return picture_pam("engine_starry_night_128.png", width, height)


def pam_header_only(width: int, height: int, channels: int = 3) -> bytes:
    types = {1: "GRAYSCALE", 2: "GRAYSCALE_ALPHA", 3: "RGB", 4: "RGB_ALPHA"}
    return ("P7\nWIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL 255\nTUPLTYPE %s\nENDHDR\n" % (
        width, height, channels, types[channels])).encode("ascii")
