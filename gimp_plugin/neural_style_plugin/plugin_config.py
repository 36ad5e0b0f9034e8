"""Reading neural_style_config.json: which engine the plug-in uses, and how to reach it.

install.py writes the file beside the neural_style_plugin folder:
  {"version": 2,
   "engine": {"kind": "local"}                 # the engine process: "python" -m core.worker
          or {"kind": "server",                # an engine server (`neural-style serve`)
              "url": "http://127.0.0.1:8765",  # or https://host[:port][/prefix]
              "token_file": "/abs/path" | null},
   "python": "/abs/path/to/engine/python",     # local engine only
   "engine_root": "/abs/path/to/checkout"}     # local engine only
Version 1 files (no "engine" entry) mean the local engine. Anything wrong with the file (or
with what it points to) becomes a SetupError that tells the user how to repair it.
load_config returns the dict with "engine" always filled in.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

import json
import os

from protocol.options import string_types

CONFIG_NAME = "neural_style_config.json"
CONFIG_VERSION = 2
ACCEPTED_VERSIONS = (1, 2)
LOCAL, SERVER = "local", "server"


class SetupError(Exception):
    """The engine cannot be started; the message is for people."""


def default_config_path():
    """The config sits beside the neural_style_plugin folder in both GIMP layouts."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), CONFIG_NAME)


def load_config(path=None):
    """The checked config dict, or SetupError saying how to set the plug-in up."""
    path = path or default_config_path()
    not_set_up = ("The Neural Style Transfer plug-in is not set up (%s). "
                  "Run `python3 install.py` in the neural-style-gimp checkout, then restart GIMP.")
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (IOError, OSError):
        raise SetupError(not_set_up % ("%s is missing" % path))
    except ValueError:
        raise SetupError(not_set_up % ("%s is not valid JSON" % path))
    if not isinstance(config, dict):
        raise SetupError(not_set_up % ("%s is not a settings object" % path))
    if config.get("version") not in ACCEPTED_VERSIONS:
        raise SetupError(not_set_up % ("%s has version %r, expected %d" % (
            path, config.get("version"), CONFIG_VERSION)))
    engine = _engine_entry(config, path)
    config = dict(config, engine=engine)
    if engine["kind"] == SERVER:
        return config
    for key in ("python", "engine_root"):
        value = config.get(key)
        if not isinstance(value, string_types) or not value:
            raise SetupError(not_set_up % ("%s has no %r entry" % (path, key)))
    python, root = config["python"], config["engine_root"]
    if not os.path.isdir(root):
        raise SetupError("The engine folder %s recorded by install.py no longer exists. "
                         "Run `python3 install.py` again in the checkout, then restart GIMP." % root)
    if not os.path.isfile(python) or not os.access(python, os.X_OK):
        raise SetupError("The engine's Python %s recorded by install.py is missing. "
                         "Run `python3 install.py` again in %s, then restart GIMP." % (python, root))
    return config


def _engine_entry(config, path):
    """The checked "engine" entry; version 1 files and files without one mean the local engine."""
    engine = config.get("engine")
    if engine is None or config.get("version") == 1:
        return {"kind": LOCAL}
    repair = (" Run `python3 install.py` again (with --server URL [--token-file FILE] for an engine "
              "server), then restart GIMP.")
    if not isinstance(engine, dict) or engine.get("kind") not in (LOCAL, SERVER):
        raise SetupError("The engine entry in %s must be {\"kind\": \"local\"} or {\"kind\": \"server\", "
                         "\"url\": ...}, not %s.%s" % (path, json.dumps(engine), repair))
    if engine["kind"] == LOCAL:
        return {"kind": LOCAL}
    url = engine.get("url")
    if not isinstance(url, string_types) or not url.strip().lower().startswith(("http://", "https://")):
        raise SetupError("The engine server's address in %s must be an http:// or https:// URL (for "
                         "example http://127.0.0.1:8765), not %s.%s" % (path, json.dumps(url), repair))
    token_file = engine.get("token_file")
    if token_file is not None and (not isinstance(token_file, string_types) or not os.path.isabs(token_file)):
        raise SetupError("The engine server's token file in %s must be an absolute path or null, not "
                         "%s.%s" % (path, json.dumps(token_file), repair))
    return {"kind": SERVER, "url": url.strip(), "token_file": token_file}
