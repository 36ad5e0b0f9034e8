"""Sockets handed over by systemd (socket activation), and leaving when idle.

systemd (or `systemd-socket-activate`) opens the listening socket itself and starts the
server on the first connection, passing the socket as file descriptor 3 onwards with
LISTEN_FDS=<count> and LISTEN_PID=<the server's pid> (sd_listen_fds(3)). The socket stays
with systemd when the server exits, so a server that leaves when idle is started again by
the next connection, and no connection is lost in between: it waits in the socket's queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import MutableMapping

from core.server.settings import is_loopback

log = logging.getLogger("neural-style.server")

LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START
_LISTEN_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ActivationError(Exception):
    """systemd passed something the server cannot listen on; the message is for people."""


def inherited_sockets(environ: MutableMapping[str, str] | None = None) -> list[socket.socket]:
    """The listening TCP sockets systemd passed to this process; [] when it passed none.

    The variables are removed, as sd_listen_fds(1) does, so a process this one starts does
    not take the sockets for its own.
    """
    environ = os.environ if environ is None else environ
    pid, count = environ.get("LISTEN_PID"), environ.get("LISTEN_FDS")
    for name in _LISTEN_VARIABLES:
        environ.pop(name, None)
    if pid is None or count is None:
        return []
    if pid.strip() != str(os.getpid()):  # meant for another process (the variables leaked)
        return []
    try:
        number = int(count)
    except ValueError:
        raise ActivationError("LISTEN_FDS=%r is not a number of sockets." % count)
    sockets = []
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + number):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as error:
            raise ActivationError("File descriptor %d from systemd is not a socket (%s)." % (
                fd, error.strerror or error))
        os.set_inheritable(fd, False)
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            raise ActivationError("systemd passed a socket that is not a TCP stream socket (file "
                                  "descriptor %d); the socket unit needs ListenStream=ADDRESS:PORT." % fd)
        sockets.append(sock)
    return sockets


def listening_host(sockets: list[socket.socket]) -> str:
    """The address the token rule judges: one that is not loopback if any socket has one."""
    hosts = [sock.getsockname()[0] for sock in sockets]
    return next((host for host in hosts if not is_loopback(host)), hosts[0])


def is_idle(scheduler) -> bool:
    """No job running, waiting or being uploaded, and the warm-up done."""
    return scheduler.ready and not (scheduler.busy or scheduler.waiting or scheduler.uploading)


async def exit_when_idle(scheduler, seconds: float, stop: asyncio.Event) -> None:
    """Set stop once the scheduler has had no job for `seconds` in a row."""
    loop = asyncio.get_running_loop()
    idle_since = loop.time()
    while not stop.is_set():
        await asyncio.sleep(min(1.0, seconds / 4))
        if not is_idle(scheduler):
            idle_since = loop.time()
        elif loop.time() - idle_since >= seconds:
            log.info("no job for %g s: leaving (the socket stays open; the next job starts the "
                     "server again when systemd manages it)", seconds)
            stop.set()
