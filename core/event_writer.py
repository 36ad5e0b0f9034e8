"""JSON-lines events (protocol.events) written to a stream, one flushed line each, thread-safe.

The CLI (--progress json) and the worker both write events through this, so the plug-in
and other programs read exactly one format.
"""

from __future__ import annotations

import math
import threading
from typing import Any, TextIO

from protocol.events import encode_event


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a diverged loss is reported as null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # numpy or torch scalars
        return _finite(value.item())
    return value


class EventWriter:
    """Writes protocol events to a text stream; `write` may be called from any thread."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def write(self, name: str, timeout: float | None = None, final: bool = False, **fields: Any) -> bool:
        """Write one event line and flush; False if the lock was not free within timeout.
        final: the process's last words; the lock stays taken, so that no other thread's
        line can follow them before the process exits.

        Raises OSError (e.g. BrokenPipeError) when the reader has gone.
        """
        line = encode_event(name, **{key: _finite(value) for key, value in fields.items()})
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except BaseException:
            self._lock.release()
            raise
        if not final:
            self._lock.release()
        return True

    def forward(self, event: dict[str, Any]) -> None:
        """Write an event dict from core.api's progress callback ({"event": name, ...})."""
        fields = dict(event)
        name = fields.pop("event")
        self.write(name, **fields)
