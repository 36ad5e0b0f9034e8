"""Which engine the plug-in uses, as recorded in neural_style_config.json.

    {"version": 2, "python": ..., "engine_root": ..., "engine": {"kind": "local"}}
    {"version": 2, "engine": {"kind": "server", "url": "http://127.0.0.1:8765",
                              "token_file": "/abs/path" or null}}

"local": the plug-in starts the engine's Python for each run. "server": it sends each run
to `neural-style serve` at url, with the token kept in token_file (its path only: the
token itself never goes into the config). A server config still records python and
engine_root when this checkout has an engine environment. Version 1 (no "engine") is local.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from installer.checkout import CHECKOUT
from installer.console import InstallError

CONFIG_VERSION = 2


def local_config(python: Path) -> dict:
    return {"version": CONFIG_VERSION, "python": str(python), "engine_root": str(CHECKOUT),
            "engine": {"kind": "local"}}


def server_config(url: str, token_file: Path | None, python: Path | None) -> dict:
    config = {"version": CONFIG_VERSION,
              "engine": {"kind": "server", "url": url, "token_file": str(token_file) if token_file else None}}
    if python is not None:
        config.update(python=str(python), engine_root=str(CHECKOUT))
    return config


def engine_of(config: dict) -> dict:
    """The "engine" entry, {"kind": "local"} for a version 1 config."""
    engine = config.get("engine")
    return engine if isinstance(engine, dict) else {"kind": "local"}


def describe_engine(config: dict) -> str:
    engine = engine_of(config)
    if engine.get("kind") == "server":
        token = engine.get("token_file")
        return "server %s (%s)" % (engine.get("url"), "token file %s" % token if token else "no token")
    return "local Python %s" % config.get("python")


def checked_server_url(url: str) -> str:
    """url in the form the plug-in needs (http[s]://HOST[:PORT][/PATH]), or InstallError."""
    example = "for example http://192.168.1.20:8765 or https://gpu-box.example.org/neural-style"
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InstallError("--server %s is not a URL the plug-in can use (%s); give one like %s." % (
            url, error, example))
    if parts.scheme not in ("http", "https"):
        raise InstallError("--server %s must start with http:// or https://, %s." % (url, example))
    if not parts.hostname:
        raise InstallError("--server %s names no host; give one like %s." % (url, example))
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InstallError("--server %s must not carry a user name, password, ?query or #fragment "
                           "(the token goes in --token-file); give one like %s." % (url, example))
    if port == 0:
        raise InstallError("--server %s: port 0 is not a port a server listens on." % url)
    return text.rstrip("/")


def checked_token_file(path: str) -> Path:
    """The absolute path of a readable token file, or InstallError saying what is wrong."""
    token_file = Path(os.path.abspath(os.path.expanduser(path)))
    try:
        token = token_file.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise InstallError("Cannot read the token file %s (%s). Copy the server's token file to this "
                           "machine (the server prints where it keeps it) and give its path." % (
                               token_file, getattr(error, "strerror", None) or error))
    if not token or len(token.split()) != 1:
        raise InstallError("The token file %s does not hold a token (one word). Copy the server's "
                           "token file again." % token_file)
    if os.name == "posix" and token_file.stat().st_mode & 0o077:
        raise InstallError("The token file %s can be read by other users of this machine; make it yours "
                           "alone with `chmod 600 %s` and run install.py again." % (token_file, token_file))
    return token_file
