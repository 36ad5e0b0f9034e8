"""Start-up of `neural-style serve`: the token rule, TLS, listening, shutting down."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Sequence

from core.errors import EngineError
from core.server.access_token import TokenError, default_token_path, load_or_create_token
from core.server.activation import ActivationError, exit_when_idle, inherited_sockets, listening_host
from core.server.settings import PROGRAM, ServerSettings, SettingsError, is_loopback, parse_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# How long a stopping server waits for the running job to notice it must stop.
SHUTDOWN_WAIT = 3.0

log = logging.getLogger("neural-style.server")


class StartError(Exception):
    """The server cannot start; the message is for people."""


def token_required(settings: ServerSettings) -> bool:
    """Away from loopback anyone on the network could send jobs: a token is a must there."""
    return settings.require_token or not is_loopback(settings.host)


def resolve_token(settings: ServerSettings) -> tuple[str | None, str | None]:
    """(token or None, a line telling where the token is, or None)."""
    path = settings.token_file or (default_token_path() if token_required(settings) else None)
    if path is None:
        return None, None
    token, created = load_or_create_token(path)
    return token, "Clients must send the token %s %s (Authorization: Bearer ...)." % (
        "just written to" if created else "in", path)


def ssl_context(settings: ServerSettings) -> ssl.SSLContext | None:
    if not settings.certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.certfile, settings.keyfile)
    except (OSError, ssl.SSLError) as error:
        raise StartError("Cannot use the certificate %s with the key %s: %s." % (
            settings.certfile, settings.keyfile, getattr(error, "strerror", None) or error))
    return context


def warm_up(device: str) -> None:
    """Load everything a job needs (imports, weights, the network, kernels) with a tiny job."""
    import numpy as np

    from core.api import stylize
    from core.network_cache import cached_network
    from core.picture import Picture

    picture = Picture(rgb=np.full((32, 32, 3), 0.5, dtype=np.float32))
    stylize(picture, [picture], {"steps": 1, "size": 32, "scales": 1, "device": device},
            network_factory=cached_network)


def _listen_error(settings: ServerSettings, error: OSError) -> StartError:
    where = "%s port %d" % (settings.host, settings.port)
    if error.errno == errno.EADDRINUSE:
        return StartError("Cannot listen on %s: the port is in use (is a neural-style server already "
                          "running?). Choose another with --port." % where)
    if error.errno == errno.EACCES:
        return StartError("Cannot listen on %s: permission denied (ports below 1024 need "
                          "privileges). Choose another with --port." % where)
    return StartError("Cannot listen on %s: %s." % (where, error.strerror or error))


async def serve(settings: ServerSettings, token: str | None, context: ssl.SSLContext | None,
                device: str, device_text: str, sockets: Sequence[socket.socket] = ()) -> None:
    """Serve until SIGTERM/SIGINT (or idle for settings.exit_when_idle s), on the sockets
    systemd passed, or else on settings.host and settings.port."""
    from aiohttp import web

    from core.server.app import create_app
    from core.server.scheduler import Scheduler

    scheduler = Scheduler(settings.limits.max_queue, (lambda: warm_up(device)) if settings.warm_up else None)
    app = create_app(scheduler, settings.limits, token, device, device_text)
    # handler_cancellation: a client that disconnects cancels its handler, which stops its job.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    if sockets:
        sites = [web.SockSite(runner, sock, ssl_context=context) for sock in sockets]
    else:
        sites = [web.TCPSite(runner, settings.host, settings.port, ssl_context=context)]
    try:
        for site in sites:
            await site.start()
    except OSError as error:
        await runner.cleanup()
        raise _listen_error(settings, error)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(number, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C still raises KeyboardInterrupt
            pass
    scheme = "https" if context else "http"
    for host, port in (address[:2] for address in runner.addresses):
        shown = "[%s]" % host if ":" in host else host
        print("%s: listening on %s://%s:%d (device %s)%s" % (
            PROGRAM, scheme, shown, port, device_text, " on a socket from systemd" if sockets else ""),
              flush=True)
    runner_task = asyncio.create_task(scheduler.run_forever())
    idle_task = None
    if settings.exit_when_idle:
        print("%s: leaving after %g s without a job" % (PROGRAM, settings.exit_when_idle), flush=True)
        idle_task = asyncio.create_task(exit_when_idle(scheduler, settings.exit_when_idle, stop))
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await scheduler.shutdown("the server is shutting down", SHUTDOWN_WAIT)
        runner_task.cancel()
        if idle_task is not None:
            idle_task.cancel()
        await runner.cleanup()


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format=PROGRAM + ": %(message)s", stream=sys.stderr)
    try:
        settings = parse_settings(argv)
    except SettingsError as error:
        print("%s: error: %s" % (PROGRAM, error), file=sys.stderr)
        return EXIT_USAGE
    try:
        sockets = inherited_sockets()
    except ActivationError as error:
        print("%s: error: %s" % (PROGRAM, error), file=sys.stderr)
        return EXIT_FAILED
    if sockets:  # socket activation: --host and --port are systemd's business
        port = sockets[0].getsockname()[1]
        settings = dataclasses.replace(settings, host=listening_host(sockets), port=port)
    try:
        token, token_note = resolve_token(settings)
        context = ssl_context(settings)
        from core.device import describe_device, resolve_device

        resolved = resolve_device(settings.device)
    except (TokenError, StartError, EngineError) as error:
        print("%s: error: %s" % (PROGRAM, error), file=sys.stderr)
        return EXIT_FAILED
    if token_note:
        print("%s: %s" % (PROGRAM, token_note), flush=True)
    if not is_loopback(settings.host) and context is None:
        print("%s: warning: %s is reachable from the network without TLS: the token and the pictures "
              "travel unencrypted. Give --certfile and --keyfile, or put a TLS reverse proxy in front "
              "(docs/server.md)." % (PROGRAM, settings.host), file=sys.stderr, flush=True)
    try:
        asyncio.run(serve(settings, token, context, resolved.type, describe_device(resolved), sockets))
    except StartError as error:
        print("%s: error: %s" % (PROGRAM, error), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        pass
    return EXIT_OK
