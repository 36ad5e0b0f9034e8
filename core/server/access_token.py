"""The bearer token: where it is kept, reading it, and making one.

The token file is the only secret: readable by its owner only (like an ssh key), so a
token file others can read is refused rather than used.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys

TOKEN_FILE_NAME = "server-token"
MIN_TOKEN_LENGTH = 16


class TokenError(Exception):
    """A token file that cannot be used; the message is for people."""


def config_folder() -> str:
    """Where the server keeps its token: the user's configuration folder."""
    if os.name == "nt":
        base = os.environ.get("APPDATA") or os.path.expanduser("~")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(base, "neural-style")


def default_token_path() -> str:
    return os.path.join(config_folder(), TOKEN_FILE_NAME)


def create_token_file(path: str) -> str:
    """Write a new random token to path (which must not exist), readable by the owner only."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    token = secrets.token_urlsafe(32)
    try:
        # O_EXCL: never follow a link or reuse a file someone else put there.
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as error:
        raise TokenError("Cannot create the token file %s: %s." % (path, error.strerror or error))
    with os.fdopen(handle, "w") as stream:
        stream.write(token + "\n")
    return token


def read_token_file(path: str) -> str:
    """The token in path, or TokenError when it is missing, empty or readable by others."""
    try:
        info = os.stat(path)
        with open(path, encoding="utf-8") as stream:
            token = stream.read().strip()
    except FileNotFoundError:
        raise TokenError("The token file %s does not exist." % path)
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise TokenError("Cannot read the token file %s: %s." % (path, reason))
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenError("The token file %s can be read by other users; make it yours alone with "
                         "`chmod 600 %s` and start the server again." % (path, path))
    if len(token) < MIN_TOKEN_LENGTH or any(character.isspace() for character in token):
        raise TokenError("The token file %s must hold one token of at least %d characters without "
                         "spaces; delete it and the server makes a new one." % (path, MIN_TOKEN_LENGTH))
    return token


def load_or_create_token(path: str) -> tuple[str, bool]:
    """(token, created): the token in path, made first if the file does not exist."""
    if not os.path.lexists(path):
        return create_token_file(path), True
    return read_token_file(path), False
