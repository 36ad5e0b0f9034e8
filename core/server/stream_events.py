"""The events a job's response streams, one JSON object per line (application/x-ndjson).

start, progress and error are exactly the worker's (core.event_writer over
protocol.events); queued, preview and done follow protocol.events.SERVER_EVENT_FIELDS,
since nothing is a file on the server. An empty line is a keep-alive (sent when nothing
else was for a while); skip it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.image_write import picture_bytes
from core.picture import Picture
from protocol.events import SERVER_EVENT_FIELDS, encode_event

KEEPALIVE = b"\n"


@dataclass(frozen=True)
class Line:
    """One event line on its way to the client."""

    data: bytes
    preview: bool = False  # the client must take it before the job sends another preview


# The end of a job's stream: no more lines come after it.
END = Line(b"")


def _line(name: str, **fields: Any) -> bytes:
    return (encode_event(name, SERVER_EVENT_FIELDS, **fields) + "\n").encode("ascii")


def queued_line(job_id: str, position: int) -> Line:
    return Line(_line("queued", job=job_id, position=position))


def picture_as_pam(picture: Picture) -> bytes:
    return picture_bytes(picture, "pam")


def preview_line(picture: Picture, step: int) -> Line:
    pam = base64.b64encode(picture_as_pam(picture)).decode("ascii")
    return Line(_line("preview", step=int(step), pam=pam), preview=True)


def done_line(picture: Picture, elapsed: float) -> Line:
    pam = base64.b64encode(picture_as_pam(picture)).decode("ascii")
    return Line(_line("done", elapsed=round(elapsed, 3), pam=pam))


class LineSink:
    """A text stream for core.event_writer.EventWriter that hands each line on as a Line."""

    def __init__(self, deliver: Callable[[Line], None]) -> None:
        self._deliver = deliver

    def write(self, text: str) -> int:
        self._deliver(Line(text.encode("utf-8")))
        return len(text)

    def flush(self) -> None:
        pass
