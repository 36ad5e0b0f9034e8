"""The command line of `neural-style serve` and the limits it sets."""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from protocol.job import MAX_STYLES
from protocol.raster import MAX_PIXELS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# 40 megapixels: a 7700 x 5200 photo. Larger jobs take hours on a CPU and many GB on a GPU.
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BODY_MB = 512
DEFAULT_MAX_QUEUE = 8
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_UPLOAD_TIMEOUT = 600.0
PROGRAM = "neural-style serve"


class SettingsError(Exception):
    """A command line that cannot be served; the message is for people."""


@dataclass(frozen=True)
class Limits:
    """What one job may bring, checked before anything big is allocated."""

    max_pixels: int = DEFAULT_MAX_PIXELS  # per picture
    max_body_bytes: int = DEFAULT_MAX_BODY_MB << 20
    max_queue: int = DEFAULT_MAX_QUEUE  # jobs waiting (and uploading), not counting the one running
    max_styles: int = MAX_STYLES
    read_timeout: float = DEFAULT_READ_TIMEOUT  # longest silence while a job is uploaded
    upload_timeout: float = DEFAULT_UPLOAD_TIMEOUT  # longest whole upload


@dataclass(frozen=True)
class ServerSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token_file: str | None = None
    require_token: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    device: str = "auto"
    limits: Limits = Limits()
    warm_up: bool = True
    exit_when_idle: float | None = None  # seconds without a job before the server leaves


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost).

    Any other name counts as reachable from outside, even one that happens to resolve to
    loopback: the token rule errs on the side of asking for a token.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SettingsError("%s (see %s --help)" % (message, self.prog))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROGRAM,
        description="Run the style-transfer engine as a server that keeps the network loaded "
                    "between jobs. The GIMP plug-in (or any HTTP client) sends jobs to it; "
                    "see docs/server.md.")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="Address to listen on. Default %s: only this machine can connect. "
                             "Any other address needs a token (see --token-file)." % DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="Port to listen on (0: any free port). Default %d." % DEFAULT_PORT)
    parser.add_argument("--token-file", metavar="FILE",
                        help="File holding the token every request must carry (Authorization: "
                             "Bearer TOKEN); created with a new token, readable by you only, if it "
                             "does not exist. Without it, a token is needed only away from "
                             "loopback, kept in your configuration folder.")
    parser.add_argument("--require-token", action="store_true",
                        help="Ask for the token on a loopback address too (other users of this "
                             "machine can reach loopback).")
    parser.add_argument("--certfile", metavar="FILE", help="TLS certificate chain (PEM): serve https.")
    parser.add_argument("--keyfile", metavar="FILE", help="TLS private key (PEM) for --certfile.")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                        help="Where jobs that ask for device auto run. Default auto: CUDA, then "
                             "MPS, then the CPU.")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help="Largest picture accepted, in pixels (at most %d). Default %d."
                             % (MAX_PIXELS, DEFAULT_MAX_PIXELS))
    parser.add_argument("--max-body-mb", type=int, default=DEFAULT_MAX_BODY_MB, metavar="MB",
                        help="Largest job upload in MiB. Default %d." % DEFAULT_MAX_BODY_MB)
    parser.add_argument("--max-queue", type=int, default=DEFAULT_MAX_QUEUE, metavar="N",
                        help="Jobs that may wait behind the running one; more are refused "
                             "(503). Default %d." % DEFAULT_MAX_QUEUE)
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT, metavar="S",
                        help="Longest silence while a job is being uploaded, in seconds. "
                             "Default %g." % DEFAULT_READ_TIMEOUT)
    parser.add_argument("--upload-timeout", type=float, default=DEFAULT_UPLOAD_TIMEOUT, metavar="S",
                        help="Longest time a whole upload may take, in seconds. Default %g."
                             % DEFAULT_UPLOAD_TIMEOUT)
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="Do not load the network at start-up (the first job does).")
    parser.add_argument("--exit-when-idle", type=float, metavar="S",
                        help="Leave after S seconds without a job, freeing the memory the network "
                             "holds. Meant for a server that systemd starts on the first connection "
                             "(socket activation): the socket stays open and the next job starts it "
                             "again.")
    return parser


def parse_settings(argv: Sequence[str]) -> ServerSettings:
    arguments = build_parser().parse_args(list(argv))
    if not 0 <= arguments.port <= 65535:
        raise SettingsError("--port must be from 0 to 65535, not %d." % arguments.port)
    if not 1 <= arguments.max_pixels <= MAX_PIXELS:
        raise SettingsError("--max-pixels must be from 1 to %d, not %d." % (MAX_PIXELS, arguments.max_pixels))
    if arguments.max_body_mb < 1:
        raise SettingsError("--max-body-mb must be at least 1, not %d." % arguments.max_body_mb)
    if arguments.max_queue < 0:
        raise SettingsError("--max-queue must be 0 or more, not %d." % arguments.max_queue)
    for name in ("read_timeout", "upload_timeout"):
        if not getattr(arguments, name) > 0:
            raise SettingsError("--%s must be more than 0 seconds." % name.replace("_", "-"))
    if arguments.exit_when_idle is not None and not arguments.exit_when_idle > 0:
        raise SettingsError("--exit-when-idle must be more than 0 seconds.")
    if bool(arguments.certfile) != bool(arguments.keyfile):
        raise SettingsError("--certfile and --keyfile go together: give both to serve https.")
    limits = Limits(max_pixels=arguments.max_pixels, max_body_bytes=arguments.max_body_mb << 20,
                    max_queue=arguments.max_queue, read_timeout=arguments.read_timeout,
                    upload_timeout=arguments.upload_timeout)
    return ServerSettings(host=arguments.host, port=arguments.port, token_file=arguments.token_file,
                          require_token=arguments.require_token, certfile=arguments.certfile,
                          keyfile=arguments.keyfile, device=arguments.device, limits=limits,
                          warm_up=arguments.warm_up, exit_when_idle=arguments.exit_when_idle)
