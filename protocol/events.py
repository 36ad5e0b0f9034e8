"""Engine events: one JSON object per line on the engine's standard output.

Schema (every event has "event"; numbers are JSON numbers):
  {"event": "start",    "total": int, "scales": int, "device": str, "width": int, "height": int}
  {"event": "progress", "step": int, "total": int, "scale": int, "scales": int,
                        "losses": {"content": float, "style": float, "tv": float, "edge": float,
                                   "total": float},
                        "elapsed": float, "eta": float|null}
  {"event": "preview",  "path": str, "step": int}
  {"event": "done",     "output": str, "elapsed": float}
  {"event": "error",    "message": str, "kind": str}
"step" counts from 1 to "total" over all scales; "scale" counts from 1 to "scales".
"error" kinds: "input", "options", "weights", "device", "memory", "cancelled", "internal".

The engine server (`neural-style serve`, docs/server.md) streams the same events, except
that nothing there is a file, and a job may wait for its turn (SERVER_EVENT_FIELDS):
  {"event": "queued",   "job": str, "position": int}   jobs running or waiting before it
  {"event": "preview",  "pam": str, "step": int}       the picture so far: a base64 PAM file
  {"event": "done",     "pam": str, "elapsed": float}  the result: a base64 PAM file
Python 2.7 and 3, standard library only.
"""

import json

EVENT_FIELDS = {
    "start": ("total", "scales", "device", "width", "height"),
    "progress": ("step", "total", "scale", "scales", "losses", "elapsed", "eta"),
    "preview": ("path", "step"),
    "done": ("output", "elapsed"),
    "error": ("message", "kind"),
}
SERVER_EVENT_FIELDS = dict(EVENT_FIELDS, queued=("job", "position"), preview=("pam", "step"),
                           done=("pam", "elapsed"))
ERROR_KINDS = ("input", "options", "weights", "device", "memory", "cancelled", "internal")


class ProtocolError(ValueError):
    """A line from the engine that is not a valid event."""


def encode_event(name, schema=EVENT_FIELDS, **fields):
    """One event as a single JSON line (without the newline); schema: EVENT_FIELDS (the
    worker's) or SERVER_EVENT_FIELDS (the engine server's)."""
    if name not in schema:
        raise ProtocolError("unknown event %r" % name)
    missing = [field for field in schema[name] if field not in fields]
    if missing:
        raise ProtocolError("event %r lacks %s" % (name, ", ".join(missing)))
    if name == "error" and fields["kind"] not in ERROR_KINDS:
        raise ProtocolError("unknown error kind %r" % fields["kind"])
    event = {"event": name}
    event.update(fields)
    return json.dumps(event, sort_keys=True, allow_nan=False)


def decode_event(line, schema=EVENT_FIELDS):
    """Parse one line into an event dict, or raise ProtocolError (schema as for encode_event)."""
    try:
        event = json.loads(line)
    except ValueError:
        raise ProtocolError("not JSON: %r" % line[:200])
    if not isinstance(event, dict) or event.get("event") not in schema:
        raise ProtocolError("not an event: %r" % line[:200])
    missing = [name for name in schema[event["event"]] if name not in event]
    if missing:
        raise ProtocolError("event %r lacks %s" % (event["event"], ", ".join(missing)))
    return event


def describe_progress(event):
    """Short text for a progress bar, e.g. 'Step 40/200, scale 2/3, about 1 min 20 s left'."""
    text = "Step %d/%d, scale %d/%d" % (event["step"], event["total"], event["scale"], event["scales"])
    eta = event.get("eta")
    if eta is not None:
        text += ", about %s left" % format_duration(eta)
    return text


def format_duration(seconds):
    seconds = int(round(max(0, seconds)))
    if seconds < 60:
        return "%d s" % seconds
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return "%d min %d s" % (minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    return "%d h %d min" % (hours, minutes)
