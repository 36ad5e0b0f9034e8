"""Whether GIMP runs inside a Flatpak sandbox, and what to tell the user there.

Flathub's GIMP runs plug-ins with the sandbox's own /usr: an engine set up on the host
cannot run inside it, so the plug-in reaches the engine server on the host instead. When
that fails, the message must say where the problem is and what to run on the host.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

import os

# Flatpak puts this file at the root of every sandbox (tests point it elsewhere).
FLATPAK_INFO = "/.flatpak-info"

SANDBOX_ADVICE = (
    "GIMP runs in a Flatpak sandbox, which cannot start the engine itself: it uses the engine "
    "server on the host. On the host (outside the sandbox), run `python3 install.py` in the "
    "neural-style-gimp checkout, which sets up that engine server, or start it there with "
    "`neural-style serve`; then try again.")


def in_flatpak():
    return os.path.exists(FLATPAK_INFO)


def with_sandbox_advice(message):
    """The message, followed by what to do on the host when GIMP runs in a Flatpak."""
    if not in_flatpak():
        return message
    return "%s\n%s" % (message, SANDBOX_ADVICE)
