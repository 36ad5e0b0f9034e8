"""One job on an engine server (`neural-style serve`), behind the same interface as the
local engine process (engine_process.EngineProcess), so logic.py drives both alike:

  start()            -> self; SetupError (plain words) if the engine cannot be reached
  events()           -> the engine's events until the job ends (protocol.events); the
                        server's "preview" and "done" carry the PAM file as bytes in "pam",
                        and "queued" events say how many jobs run or wait before this one
  failure_message()  -> plain words for a job that ended without "done" or "error"
  with_log(message)  -> the message, pointing to where more details are
  stop()             -> close the connection: a job not finished yet is cancelled there

Nothing is written on this machine: the pictures travel inside the request and the events.
When GIMP kills the plug-in (Cancel), the kernel closes the connection and the server
cancels the job, so nothing needs cleaning up here.
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import

from .plugin_config import SetupError
from .server_client import EngineServer, ServerError, ServerUnreachable, read_token_file

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class ServerEngine(object):
    def __init__(self, engine, options, content, styles, mask=None, preview_every=None, init=None):
        """engine: the config's "engine" entry; content, styles, mask (None: paint all of
        the content) and init (None: start as the options say): PAM files as bytes."""
        self.engine = engine
        self.options = options
        self.content = content
        self.styles = styles
        self.mask = mask
        self.init = init
        self.preview_every = preview_every
        self.server = None
        self.stream = None
        self._failure = None

    def start(self):
        token = None
        try:
            if self.engine.get("token_file"):
                token = read_token_file(self.engine["token_file"])
            self.server = EngineServer(self.engine["url"], token=token)
            self.stream = self.server.submit(self.options, self.content, self.styles, mask=self.mask,
                                             preview_every=self.preview_every, init=self.init)
        except ServerUnreachable as error:
            raise SetupError(self._start_hint(error.message))
        except ServerError as error:
            raise SetupError(error.message)
        return self

    def _start_hint(self, message):
        # A server on this machine is usually started by the socket unit install.py sets up.
        if self.server is not None and self.server.host in LOOPBACK_HOSTS:
            return ("%s On this machine, `python3 install.py` sets the engine server up to start by "
                    "itself." % message)
        return message

    def events(self):
        try:
            for event in self.stream:
                yield event
        except ServerError as error:
            self._failure = error.message

    def failure_message(self):
        return self._failure or ("The neural-style server at %s ended the job without a result; "
                                 "nothing was changed. Try again." % self.engine["url"])

    def with_log(self, message):
        return "%s\nDetails: the engine server's output (stderr) on its machine." % message

    def stop(self):
        if self.stream is not None:
            self.stream.close()
