"""The events a job's response streams, one JSON object per line (application/x-ndjson).

start, progress and error are exactly the worker's (core.event_writer over
protocol.events). Three things differ because nothing is a file on the server:
  {"event": "queued",  "job": id, "position": n}    n jobs run or wait before this one
  {"event": "preview", "step": n, "pam": base64}     the picture so far, a PAM file
  {"event": "done",    "elapsed": s, "pam": base64}  the result, a PAM file
An empty line is a keep-alive (sent when nothing else was for a while); skip it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.image_write import picture_bytes
from core.picture import Picture

KEEPALIVE = b"\n"


@dataclass(frozen=True)
class Line:
    """One event line on its way to the client."""

    data: bytes
    preview: bool = False  # the client must take it before the job sends another preview


# The end of a job's stream: no more lines come after it.
END = Line(b"")


def _line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, sort_keys=True, allow_nan=False) + "\n").encode("ascii")


def queued_line(job_id: str, position: int) -> Line:
    return Line(_line({"event": "queued", "job": job_id, "position": position}))


def picture_as_pam(picture: Picture) -> bytes:
    return picture_bytes(picture, "pam")


def preview_line(picture: Picture, step: int) -> Line:
    pam = base64.b64encode(picture_as_pam(picture)).decode("ascii")
    return Line(_line({"event": "preview", "step": int(step), "pam": pam}), preview=True)


def done_line(picture: Picture, elapsed: float) -> Line:
    pam = base64.b64encode(picture_as_pam(picture)).decode("ascii")
    return Line(_line({"event": "done", "elapsed": round(elapsed, 3), "pam": pam}))


class LineSink:
    """A text stream for core.event_writer.EventWriter that hands each line on as a Line."""

    def __init__(self, deliver: Callable[[Line], None]) -> None:
        self._deliver = deliver

    def write(self, text: str) -> int:
        self._deliver(Line(text.encode("utf-8")))
        return len(text)

    def flush(self) -> None:
        pass
