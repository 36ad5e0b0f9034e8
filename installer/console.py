"""What the user reads: progress lines, the end of another program's output, and errors."""

from __future__ import annotations


class InstallError(Exception):
    """A failure the user can act on; the message says what happened and what to do."""


def say(message: str) -> None:
    print(message, flush=True)


def tail(text: str, lines: int = 15) -> str:
    """The last lines of another program's output, indented under our own message."""
    return "\n".join("    " + line for line in (text or "").strip().splitlines()[-lines:])
