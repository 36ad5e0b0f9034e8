"""Reading neural_style_config.json: which Python runs the engine, and where the engine is.

install.py writes the file beside the neural_style_plugin folder. Anything wrong with it
(or with what it points to) becomes a SetupError that tells the user how to repair it.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

import json
import os

from protocol.options import string_types

CONFIG_NAME = "neural_style_config.json"
CONFIG_VERSION = 1


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
    for key in ("python", "engine_root"):
        value = config.get(key)
        if not isinstance(value, string_types) or not value:
            raise SetupError(not_set_up % ("%s has no %r entry" % (path, key)))
    if config.get("version") != CONFIG_VERSION:
        raise SetupError(not_set_up % ("%s has version %r, expected %d" % (
            path, config.get("version"), CONFIG_VERSION)))
    python, root = config["python"], config["engine_root"]
    if not os.path.isdir(root):
        raise SetupError("The engine folder %s recorded by install.py no longer exists. "
                         "Run `python3 install.py` again in the checkout, then restart GIMP." % root)
    if not os.path.isfile(python) or not os.access(python, os.X_OK):
        raise SetupError("The engine's Python %s recorded by install.py is missing. "
                         "Run `python3 install.py` again in %s, then restart GIMP." % (python, root))
    return config
