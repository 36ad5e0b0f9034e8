"""A stand-in for the engine's worker that speaks the real protocol.

Used as engine_root by the plug-in tests: `python -m core.worker job.json` reads the job,
emits start/progress/preview/done events and writes the colour-inverted content as the
result (alpha kept), so tests can check every pixel. Like the real engine, it keeps the
content where the job's mask is 0 bit for bit (and blends where the mask is partial).
FAKE_ENGINE_RECORD names a file to which each run appends one JSON line saying what
the job held (style sizes, mask, init, options), so tests can check what the plug-in
sent. FAKE_ENGINE_MODE picks a fault: ok, error, internal-error (a bug: traceback on
stderr, error event of kind internal), crash,
hang (honours the stdin watchdog), stubborn (ignores stdin and SIGTERM), wrong-size,
garbage-output (or the contents of the file FAKE_ENGINE_MODE_FILE names). It always
starts by printing "stand-in engine: <mode>" on stderr (for the run log).
FAKE_ENGINE_PIDFILE receives the worker's pid.
Python 2.7 and 3 (the 2.7 smoke test runs it too).
"""

import json
import os
import signal
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
sys.path.insert(0, os.environ.get("FAKE_ENGINE_PROTOCOL_ROOT", ROOT))

from protocol.events import encode_event  # noqa: E402
from protocol.job import read_job  # noqa: E402
from protocol.pam import PamImage, read_pam, write_pam_atomically  # noqa: E402


def emit(name, **fields):
    sys.stdout.write(encode_event(name, **fields) + "\n")
    sys.stdout.flush()


def watchdog():
    # The real worker exits when its stdin closes; so does this one (unless stubborn).
    while sys.stdin.read(1) if sys.version_info[0] < 3 else sys.stdin.buffer.read(1):
        pass
    os._exit(3)


def inverted(image):
    maximum = 255 if image.bits == 8 else 65535
    size = image.bits // 8
    data = bytearray(image.data)
    colour = 1 if image.channels <= 2 else 3
    for start in range(0, len(data), image.channels * size):
        for channel in range(colour):
            at = start + channel * size
            if size == 1:
                data[at] = maximum - data[at]
            else:
                value = maximum - (data[at] << 8 | data[at + 1])
                data[at], data[at + 1] = value >> 8, value & 255
    return PamImage(image.width, image.height, image.channels, image.bits, bytes(data))


def masked(result, content, mask):
    """The result where the mask is full, the content where it is 0, blended in between."""
    size = content.bits // 8
    maximum = 255 if size == 1 else 65535
    out, original, weights = bytearray(result.data), bytearray(content.data), bytearray(mask.data)
    colour = 1 if content.channels <= 2 else 3
    for pixel in range(content.width * content.height):
        weight = weights[pixel] if size == 1 else weights[2 * pixel] << 8 | weights[2 * pixel + 1]
        if weight == maximum:
            continue
        for channel in range(colour):
            at = (pixel * content.channels + channel) * size
            if size == 1:
                old, new = original[at], out[at]
                out[at] = int(round(old + (new - old) * weight / float(maximum)))
            else:
                old = original[at] << 8 | original[at + 1]
                new = out[at] << 8 | out[at + 1]
                value = int(round(old + (new - old) * weight / float(maximum)))
                out[at], out[at + 1] = value >> 8, value & 255
    return PamImage(content.width, content.height, content.channels, content.bits, bytes(out))


def record(job_path, job, content, styles):
    path = os.environ.get("FAKE_ENGINE_RECORD")
    if not path:
        return
    with open(job_path) as handle:
        raw = json.load(handle)
    mask = read_pam(job["mask"]) if job["mask"] else None
    init = raw.get("init")
    entry = {"content": [content.width, content.height],
             "styles": [[style.width, style.height, style.channels] for style in styles],
             "style_pixels": [list(bytearray(style.data[:4 * style.channels])) for style in styles],
             "mask": [mask.width, mask.height, mask.bits, list(bytearray(mask.data))] if mask else None,
             "init": init, "options": raw.get("options")}
    if init:
        initial = read_pam(os.path.join(os.path.dirname(job_path), init))
        entry["init_pixels"] = list(bytearray(initial.data[:8]))
    with open(path, "a") as handle:
        handle.write(json.dumps(entry) + "\n")


def main():
    mode = os.environ.get("FAKE_ENGINE_MODE", "ok")
    mode_file = os.environ.get("FAKE_ENGINE_MODE_FILE")  # lets a GIMP batch script switch modes
    if mode_file and os.path.exists(mode_file):
        with open(mode_file) as handle:
            mode = handle.read().strip() or mode
    pidfile = os.environ.get("FAKE_ENGINE_PIDFILE")
    if pidfile:
        with open(pidfile, "w") as handle:
            handle.write(str(os.getpid()))
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        thread = threading.Thread(target=watchdog)
        thread.daemon = True
        thread.start()
    sys.stderr.write("stand-in engine: %s\n" % mode)
    sys.stderr.flush()
    job = read_job(sys.argv[1])
    content = read_pam(job["content"])
    styles = [read_pam(style) for style in job["styles"]]
    record(sys.argv[1], job, content, styles)
    total = job["options"]["steps"]
    emit("start", total=total, scales=1, device="cpu", width=content.width, height=content.height)
    if mode == "crash":
        sys.stderr.write("Traceback (most recent call last):\nRuntimeError: simulated crash\n")
        sys.stderr.flush()
        os._exit(3)
    if mode == "internal-error":
        sys.stderr.write("Traceback (most recent call last):\n  File \"core/optimize.py\", line 1\n"
                         "ZeroDivisionError: simulated bug\n")
        sys.stderr.flush()
        emit("error", message="The engine failed unexpectedly (ZeroDivisionError: simulated bug).",
             kind="internal")
        return 1
    if mode == "error":
        emit("error", message="The style image is too small (simulated).", kind="input")
        return 1
    if mode in ("hang", "stubborn"):
        emit("progress", step=1, total=total, scale=1, scales=1,
             losses={"content": 1.0, "style": 1.0, "tv": 0.0, "total": 2.0}, elapsed=0.1, eta=100.0)
        while True:
            time.sleep(0.1)
    result = inverted(content)
    if job["mask"]:
        result = masked(result, content, read_pam(job["mask"]))
    if mode == "wrong-size":
        sample_bytes = content.channels * content.bits // 8
        result = PamImage(1, 1, content.channels, content.bits, result.data[:sample_bytes])
    for step in range(1, total + 1):
        emit("progress", step=step, total=total, scale=1, scales=1,
             losses={"content": 1.0, "style": 1.0, "tv": 0.0, "total": 2.0},
             elapsed=0.01 * step, eta=0.01 * (total - step))
        if job["preview"] and step % job["preview"]["every"] == 0:
            write_pam_atomically(job["preview"]["path"], content)
            emit("preview", path=os.path.basename(job["preview"]["path"]), step=step)
    if mode == "garbage-output":
        with open(job["output"], "wb") as handle:
            handle.write(b"not a picture")
    else:
        write_pam_atomically(job["output"], result)
    emit("done", output=os.path.basename(job["output"]), elapsed=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
