"""The engine's requirements, read from their one home: pyproject.toml's [project] table.

pip reads the same lines for `pip install -e .`; install.py reads them to tell, without pip,
whether an environment already has everything (so a second run needs no network).

install.py runs on Python 3.8+ before any environment exists, and tomllib comes with
Python 3.11 only, so older Pythons use a small reader of exactly what these entries use:
`key = "string"` and `key = [strings, ...]` (comments allowed) in a [table]. Anything else
there is an error naming the file, never a guess. tests/install checks that it reads
this pyproject.toml as tomllib does.
"""

from __future__ import annotations

import re
from collections import namedtuple

from installer.checkout import CHECKOUT
from installer.console import InstallError

try:
    import tomllib
except ImportError:  # Python before 3.11
    tomllib = None

PYPROJECT = CHECKOUT / "pyproject.toml"

EngineProject = namedtuple("EngineProject", "name requirements test_requirements")

_BLANKS = re.compile(r"(?:\s|,|#[^\n]*)*")  # between array items
_STRING = re.compile(r"\"([^\"\\\n]*)\"|'([^'\n]*)'")


def _string(text: str, at: int) -> tuple:
    match = _STRING.match(text, at)
    if not match:
        raise ValueError("expected a quoted string at %r" % text[at:at + 30])
    value = match.group(1) if match.group(1) is not None else match.group(2)
    return value, match.end()


def _value(text: str, at: int) -> object:
    """The string or array of strings that starts at text[at]."""
    if not text.startswith("[", at):
        return _string(text, at)[0]
    items, at = [], at + 1
    while True:
        at = _BLANKS.match(text, at).end()
        if text.startswith("]", at):
            return items
        item, at = _string(text, at)
        items.append(item)


def read_entry(text: str, table: str, key: str) -> object:
    """The value of `key` in `[table]` of a TOML text, for the two kinds of value above."""
    header = re.search(r"^\[%s\][ \t]*(?:#.*)?$" % re.escape(table), text, re.M)
    if not header:
        raise ValueError("no [%s] table" % table)
    following = re.compile(r"^\[", re.M).search(text, header.end())
    end = following.start() if following else len(text)
    entry = re.compile(r"^[ \t]*%s[ \t]*=[ \t]*" % re.escape(key), re.M).search(text, header.end(), end)
    if not entry:
        raise ValueError("no %s in [%s]" % (key, table))
    return _value(text, entry.end())


def _read(text: str) -> EngineProject:
    if tomllib is not None:
        project = tomllib.loads(text)["project"]
        return EngineProject(project["name"], project["dependencies"],
                             project["optional-dependencies"]["test"])
    return EngineProject(read_entry(text, "project", "name"), read_entry(text, "project", "dependencies"),
                         read_entry(text, "project.optional-dependencies", "test"))


def engine_project() -> EngineProject:
    """The engine's distribution name, its requirements and its test extra."""
    try:
        return _read(PYPROJECT.read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InstallError("Could not read the engine's requirements from %s (%s). Update or re-clone "
                           "the project (git pull) and run install.py again." % (PYPROJECT, error))
