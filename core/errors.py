"""Errors the engine reports to people.

Every failure a user can cause or fix is an EngineError subclass with a plain-words
message; `kind` is one of protocol.events.ERROR_KINDS so the worker and the CLI can pass
it on without guessing.
"""

from __future__ import annotations


class EngineError(Exception):
    """A failure with a message meant for the person running the engine."""

    kind = "internal"


class InputError(EngineError):
    """An input image that cannot be used (empty, unreadable, wrong shape)."""

    kind = "input"


class OptionsError(EngineError):
    """An option value that cannot be used."""

    kind = "options"


class WeightsError(EngineError):
    """VGG-19 weights that are missing, damaged or in a format we do not read."""

    kind = "weights"


class DeviceError(EngineError):
    """A compute device that was asked for but is not there."""

    kind = "device"


class OutOfMemory(EngineError):
    """The work did not fit in memory; the message says what to lower."""

    kind = "memory"


class Cancelled(EngineError):
    """The caller asked the engine to stop."""

    kind = "cancelled"
