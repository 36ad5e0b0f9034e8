"""Asking an engine server whether it answers: GET /v1/health with the token.

Standard library only (urllib); the answer is one line of plain words either way.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

# A socket-activated server on this machine starts on this request: imports take a few s.
HEALTH_TIMEOUT = 20.0


def _token(token_file: str | None) -> str | None:
    if not token_file:
        return None
    return Path(token_file).read_text("utf-8").strip()


def probe_server(url: str, token_file: str | None, timeout: float = HEALTH_TIMEOUT) -> tuple:
    """(answers: bool, one line saying how it answered or why it did not)."""
    try:
        token = _token(token_file)
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        return False, "cannot read the token file %s (%s)" % (token_file, reason)
    request = urllib.request.Request(url.rstrip("/") + "/v1/health")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(64 * 1024)
    except urllib.error.HTTPError as error:
        if error.code == 401:
            which = " in %s" % token_file if token_file else " (none given)"
            return False, ("%s refuses the token%s (401, wrong token): copy the server's token file again "
                           "and give it with --token-file" % (url, which))
        return False, "%s answered HTTP %d: not a neural-style server (or the wrong path)" % (url, error.code)
    except urllib.error.URLError as error:
        return False, _unreachable(url, error.reason, timeout)
    except (socket.timeout, TimeoutError) as error:
        return False, _unreachable(url, error, timeout)
    except (OSError, ValueError) as error:
        return False, "%s: %s" % (url, error)
    try:
        health = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        health = None
    if not isinstance(health, dict) or "protocol" not in health or "device" not in health:
        return False, "%s answers, but it is not a neural-style server (no engine health in its reply)" % url
    return True, "%s answers: neural-style %s, device %s, %d job%s waiting" % (
        url, health.get("version"), health.get("device"), health.get("queue", 0),
        "" if health.get("queue", 0) == 1 else "s")


def _unreachable(url: str, reason: object, timeout: float) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "nothing answers at %s (connection refused): the server is not running there" % url
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "no answer from %s within %g s (server busy starting, a firewall, or a wrong address?)" % (
            url, timeout)
    if isinstance(reason, socket.gaierror):
        return "cannot find the host of %s (%s)" % (url, reason.strerror or reason)
    if isinstance(reason, ssl.SSLError):
        return "TLS with %s failed (%s): is it https, and is its certificate trusted here?" % (url, reason)
    return "cannot reach %s (%s)" % (url, getattr(reason, "strerror", None) or reason)
