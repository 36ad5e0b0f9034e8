"""One job: decoded from memory, painted in a worker thread, reported as event lines.

The thread hands every line to the event loop (call_soon_threadsafe); the response
handler sends them. Nothing touches the disk: pictures arrive and leave as PAM bytes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from typing import Any

from core.errors import Cancelled, EngineError
from core.event_writer import EventWriter
from core.image_read import check_paintable, mask_from_picture, picture_from_bytes
from core.network_cache import cached_network
from core.picture import Picture
from core.server.stream_events import END, Line, LineSink, done_line, preview_line, queued_line
from core.server.upload import JobRequest

log = logging.getLogger("neural-style.server")


def _one_line(text: str) -> str:
    return " ".join(text.split())


class Job:
    """A job's state, shared by the event loop (queue, response) and its worker thread."""

    def __init__(self, request: JobRequest, loop: asyncio.AbstractEventLoop, device: str) -> None:
        self.id = secrets.token_hex(8)
        self.request: JobRequest | None = request
        self.device = device  # what the option device "auto" means on this server
        self.lines: asyncio.Queue[Line] = asyncio.Queue()
        self._loop = loop
        self._stop = threading.Event()
        self._stop_reason = ""
        self._preview_unsent = threading.Event()
        self.ended = False
        self._position = -1

    # -- either thread --------------------------------------------------------------------
    def deliver(self, line: Line) -> None:
        try:
            self._loop.call_soon_threadsafe(self.lines.put_nowait, line)
        except RuntimeError:  # the loop is closed: the server is gone, nobody is listening
            pass

    def stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- event loop -----------------------------------------------------------------------
    def announce(self, position: int) -> None:
        """Tell the client its place in the queue, when it has changed."""
        if position != self._position:
            self._position = position
            self.deliver(queued_line(self.id, position))

    def end_unstarted(self, reason: str) -> None:
        """Finish a job that never ran (cancelled while waiting, or the server stopping)."""
        self.stop(reason)
        self.ended = True
        self.request = None
        writer = EventWriter(LineSink(self.deliver))
        writer.write("error", kind="cancelled",
                     message="The job was cancelled before it started: %s." % reason)
        self.deliver(END)

    def preview_sent(self) -> None:
        self._preview_unsent.clear()

    # -- worker thread --------------------------------------------------------------------
    def run(self) -> None:
        """Paint, and send every outcome as an event; the last line is always END."""
        writer = EventWriter(LineSink(self.deliver))
        # The last event is held back until the job counts as ended: a client that reads
        # it and at once asks to cancel must hear that the job is over.
        last: list[Line] = []
        last_writer = EventWriter(LineSink(last.append))
        started = time.monotonic()
        try:
            if self.stopping():
                raise Cancelled("stopped before it started")
            result = self._paint(writer)
            last.append(done_line(result, time.monotonic() - started))
        except Cancelled as error:
            last_writer.write("error", kind="cancelled", message="The job stopped because %s; nothing "
                              "was made." % (self._stop_reason or error))
        except EngineError as error:
            last_writer.write("error", message=_one_line(str(error)), kind=error.kind)
        except MemoryError:
            last_writer.write("error", kind="memory",
                              message="The server ran out of memory for this job; choose a smaller size.")
        except Exception as error:  # a bug: plain words for the client, the details in the server's log
            log.exception("job %s failed", self.id)
            last_writer.write("error", kind="internal", message=_one_line(
                "The engine failed unexpectedly (%s: %s). Details are in the server's log." % (
                    type(error).__name__, str(error)[:200])))
        finally:
            self.ended = True
            self.request = None  # the pictures can go as soon as the job has
            for line in last:
                self.deliver(line)
            self.deliver(END)

    def _paint(self, writer: EventWriter) -> Picture:
        from core.api import stylize

        request = self.request
        assert request is not None and request.content is not None
        content = picture_from_bytes(request.content.data, "The content picture")
        check_paintable(content, "The content picture")
        styles = [picture_from_bytes(style.data, "The style picture") for style in request.styles]
        for style in styles:
            check_paintable(style, "The style picture", "style")
        mask = mask_from_picture(picture_from_bytes(request.mask.data, "The mask")) if request.mask else None
        start = picture_from_bytes(request.init.data, "The starting picture") if request.init else None
        options: dict[str, Any] = dict(request.options)
        if options["device"] == "auto":
            options["device"] = self.device
        every = request.preview_every
        return stylize(content, styles, options, mask=mask, init_picture=start, progress=writer.forward,
                       preview=self._preview if every else None, preview_every=every,
                       should_stop=self.stopping, network_factory=cached_network)

    def _preview(self, picture: Picture, step: int) -> None:
        # A client that has not taken the last preview yet gets no new one: the previews of
        # a slow client must not pile up in the server's memory.
        if self._preview_unsent.is_set():
            return
        self._preview_unsent.set()
        self.deliver(preview_line(picture, step))
