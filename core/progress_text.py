"""A progress bar on stderr for people running the CLI in a terminal."""

from __future__ import annotations

import time
from typing import Any, TextIO

from protocol.events import describe_progress, format_duration


class ProgressBar:
    """Draws start and progress events (core.api's progress dicts) as one updating line.

    On a terminal the line is redrawn in place; elsewhere (a log file) a line is printed
    about every tenth of the run, so logs stay readable.
    """

    def __init__(self, stream: TextIO, width: int = 24) -> None:
        self.stream = stream
        self.width = width
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._drawn = 0
        self._last_draw = 0.0
        self._last_tenth = -1

    def __call__(self, event: dict[str, Any]) -> None:
        name = event.get("event")
        if name == "start":
            self._print("Painting %dx%d on %s: %d steps in %d scale%s" % (
                event["width"], event["height"], event["device"], event["total"], event["scales"],
                "" if event["scales"] == 1 else "s"))
        elif name == "progress":
            self._progress(event)

    def _progress(self, event: dict[str, Any]) -> None:
        step, total = int(event["step"]), max(1, int(event["total"]))
        loss = (event.get("losses") or {}).get("total")
        text = describe_progress(event)
        if isinstance(loss, (int, float)):
            text += ", loss %.3g" % loss
        if self.interactive:
            now = time.monotonic()
            if step < total and now - self._last_draw < 0.1:
                return  # redraw at most ten times a second
            self._last_draw = now
            filled = self.width * step // total
            line = "[%s%s] %s" % ("#" * filled, "." * (self.width - filled), text)
            self.stream.write("\r" + line.ljust(self._drawn))
            self._drawn = len(line)
            self.stream.flush()
        else:
            tenth = 10 * step // total
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                self._print(text)

    def _print(self, text: str) -> None:
        self.finish()
        self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, message: str | None = None) -> None:
        """End the bar's line; then print message (e.g. 'Wrote out.png in 1 min 3 s')."""
        if self._drawn:
            self.stream.write("\n")
            self._drawn = 0
        if message:
            self.stream.write(message + "\n")
        self.stream.flush()


def finished_message(output: str, width: int, height: int, seconds: float) -> str:
    return "Wrote %s (%dx%d) in %s." % (output, width, height, format_duration(seconds))
