"""Time from OK to the first progress event, and in all, of one Preview run at 512 px:
the plug-in's logic (in the fake GIMP of tests/plugin) with the local engine process
against a warm engine server (`neural-style serve` on 127.0.0.1), same machine.

    .venv/bin/python benchmarks/server_latency.py [--device cpu] [--size 512]

"OK" is the call of logic.run (what GIMP does when the dialog's OK is pressed); the first
progress event is the first progress bar update that an engine step caused. The server
is started first and waited for until it has warmed up (network loaded, one tiny step),
as a socket-activated or long-running server is when the user presses OK.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "gimp_plugin"), os.path.join(ROOT, "tests", "plugin"),
                os.path.join(ROOT, "tests", "server")]

from fake_host import SUCCESS, FakeGimp  # noqa: E402
from server_helpers import start_server, wait_until_ready  # noqa: E402

DATA = os.path.join(ROOT, "benchmarks", "data")


class TimedGimp(FakeGimp):
    """The fake GIMP, noting when the first engine step reached the progress bar."""

    def __init__(self) -> None:
        super().__init__()
        self.first_progress: float | None = None

    def progress_update(self, fraction: float) -> None:
        if self.first_progress is None:
            self.first_progress = time.perf_counter()
        super().progress_update(fraction)


def picture(name: str, size: int) -> Image.Image:
    image = Image.open(os.path.join(DATA, name)).convert("RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def one_run(config_path: str, temp_root: str, size: int, device: str) -> tuple[float, float]:
    """(seconds to the first progress event, seconds in all) of one Preview run."""
    gimp = TimedGimp()
    content, style = picture("astronaut.png", size), picture("starry_night.jpg", size)
    image = gimp.new_image(*content.size)
    layer = image.add_layer("astronaut", content.width, content.height, content.tobytes())
    style_image = gimp.new_image(*style.size)
    style_layer = style_image.add_layer("starry night", style.width, style.height, style.tobytes())
    started = time.perf_counter()
    status, message, _ = gimp.call(image, layer, config_path=config_path, temp_root=temp_root,
                                   style_layer=style_layer, preset="preview", size=size, device=device,
                                   live_preview=True)
    finished = time.perf_counter()
    if status != SUCCESS or gimp.first_progress is None:
        raise SystemExit("the run failed: %s" % message)
    return gimp.first_progress - started, finished - started


def write_config(folder: str, engine: dict) -> str:
    path = os.path.join(folder, "neural_style_config.json")
    with open(path, "w") as handle:
        json.dump({"version": 2, "engine": engine, "python": sys.executable, "engine_root": ROOT}, handle)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="the run's device option (default cpu)")
    parser.add_argument("--size", type=int, default=512, help="working size in pixels (default 512)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ns-latency-") as folder:
        temp_root = os.path.join(folder, "tmp")
        os.mkdir(temp_root)
        server = start_server(Path(folder))
        try:
            wait_until_ready(server)
            server_times = one_run(write_config(folder, {"kind": "server", "url": server.url}),
                                   temp_root, arguments.size, arguments.device)
        finally:
            server.stop()
        local_times = one_run(write_config(folder, {"kind": "local"}), temp_root, arguments.size,
                              arguments.device)
    print("Preview run at %d px, device %s" % (arguments.size, arguments.device))
    print("| engine | OK -> first progress (s) | OK -> new layer (s) |")
    print("| --- | --- | --- |")
    print("| local engine process | %.2f | %.2f |" % local_times)
    print("| warm engine server | %.2f | %.2f |" % server_times)
    print("| ratio local / server | %.1fx | %.2fx |" % (local_times[0] / server_times[0],
                                                      local_times[1] / server_times[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
