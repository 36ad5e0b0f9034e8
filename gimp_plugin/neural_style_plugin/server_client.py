"""The plug-in's side of the engine server (`neural-style serve`, docs/server.md).

    server = EngineServer("http://127.0.0.1:8765", token=read_token_file(path))
    stream = server.submit(options, content_pam, [style_pam], preview_every=10)
    for event in stream:          # dicts, as the worker's events
        ...                       # "preview" and "done" carry the PAM file as bytes in "pam"
    stream.close()                # before the end: cancels the job on the server

Every failure is a ServerError subclass whose message is plain words for the user:
ServerUnreachable, WrongToken, QueueFull, JobRefused, ServerGone, MalformedResponse.
Python 2.7 (httplib) and 3 (http.client), standard library only.
"""

from __future__ import absolute_import

import base64
import json
import socket
import uuid

try:  # Python 3
    import http.client as httplib
    from urllib.parse import urlsplit
except ImportError:  # Python 2.7
    import httplib
    from urlparse import urlsplit

try:
    import ssl
except ImportError:  # a Python built without OpenSSL: http only
    ssl = None

from protocol.events import SERVER_EVENT_FIELDS, ProtocolError, decode_event

DEFAULT_PORT = 8765
CONNECT_TIMEOUT = 10.0
# The server sends a line at least every 15 s, even during a long step.
READ_TIMEOUT = 120.0
START_COMMAND = "neural-style serve"
_MAX_ERROR_BODY = 64 * 1024
_MAX_CHUNK_LINE = 1024
_FINAL_EVENTS = ("done", "error")
_PICTURE_TYPE = "image/x-portable-arbitrarymap"


class ServerError(Exception):
    """A failure talking to the engine server; str() is a message for the user."""

    kind = "server"

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message


class ServerUnreachable(ServerError):
    kind = "unreachable"


class WrongToken(ServerError):
    kind = "token"


class QueueFull(ServerError):
    kind = "busy"


class JobRefused(ServerError):
    """The server read the job and refused it (bad options, too large, too slow)."""

    kind = "refused"


class ServerGone(ServerError):
    kind = "gone"


class MalformedResponse(ServerError):
    kind = "malformed"


def read_token_file(path):
    """The token kept in path (the server's token file, copied to this machine)."""
    try:
        with open(path, "rb") as handle:
            token = handle.read().decode("utf-8").strip()
    except (IOError, OSError) as error:
        raise ServerError("Cannot read the server's token file %s (%s)." % (
            path, getattr(error, "strerror", None) or error))
    except UnicodeDecodeError:
        raise ServerError("The server's token file %s does not hold a token." % path)
    if not token or len(token.split()) != 1:
        raise ServerError("The server's token file %s does not hold a token." % path)
    return token


def _boundary(parts):
    while True:
        boundary = "neural-style-%s" % uuid.uuid4().hex
        marker = boundary.encode("ascii")
        if not any(marker in data for _, data, _ in parts):
            return boundary


def multipart_body(parts):
    """(content type, list of byte pieces, total length) for [(name, bytes, type), ...]."""
    boundary = _boundary(parts)
    pieces = []
    for name, data, content_type in parts:
        pieces.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\nContent-Type: %s\r\n\r\n" % (
            boundary, name, content_type)).encode("ascii"))
        pieces.append(data)
        pieces.append(b"\r\n")
    pieces.append(("--%s--\r\n" % boundary).encode("ascii"))
    return "multipart/form-data; boundary=%s" % boundary, pieces, sum(len(piece) for piece in pieces)


class EngineServer(object):
    """An engine server at a URL such as http://host:8765 or https://host/prefix."""

    def __init__(self, url, token=None, cafile=None, connect_timeout=CONNECT_TIMEOUT,
                 read_timeout=READ_TIMEOUT):
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerError("The engine server's address %r is not an http:// or https:// URL "
                              "(for example http://127.0.0.1:%d)." % (url, DEFAULT_PORT))
        if parts.scheme == "https" and ssl is None:
            raise ServerError("This Python has no TLS support (ssl module), so it cannot reach %s." % url)
        self.url = url.strip().rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        try:
            self.port = parts.port or (443 if parts.scheme == "https" else DEFAULT_PORT)
        except ValueError:
            raise ServerError("The engine server's address %r has an invalid port." % url)
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.cafile = cafile
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout

    # -- requests -------------------------------------------------------------------------
    def health(self):
        """The server's health: {"version", "device", "queue", "busy", ...}."""
        connection, response, _ = self._request("GET", "/v1/health")
        try:
            if response.status != 200:
                raise self._refusal(response)
            return self._json(response.read(_MAX_ERROR_BODY))
        except (socket.error, httplib.HTTPException) as error:
            raise self._gone(error)
        finally:
            connection.close()

    def cancel(self, job_id):
        """Ask the server to stop a job; False if it had already ended."""
        connection, response, _ = self._request("DELETE", "/v1/jobs/%s" % job_id)
        try:
            if response.status == 404:
                return False
            if response.status != 200:
                raise self._refusal(response)
            response.read(_MAX_ERROR_BODY)
            return True
        finally:
            connection.close()

    def submit(self, options, content, styles, mask=None, preview_every=None, init=None):
        """Send a job (PAM files as bytes; init: the picture to start from) and return its
        JobStream of events."""
        parts = [("options", json.dumps(options, sort_keys=True).encode("utf-8"), "application/json"),
                 ("content", content, _PICTURE_TYPE)]
        parts.extend(("style", style, _PICTURE_TYPE) for style in styles)
        if mask is not None:
            parts.append(("mask", mask, _PICTURE_TYPE))
        if init is not None:
            parts.append(("init", init, _PICTURE_TYPE))
        if preview_every:
            parts.append(("preview_every", str(int(preview_every)).encode("ascii"), "text/plain"))
        content_type, pieces, length = multipart_body(parts)
        connection, response, sock = self._request("POST", "/v1/jobs", pieces, {
            "Content-Type": content_type, "Content-Length": str(length),
            "Accept": "application/x-ndjson"})
        if response.status != 200:
            try:
                raise self._refusal(response)
            finally:
                connection.close()
        return JobStream(self, connection, response, sock)

    def _connection(self):
        if self.scheme == "https":
            context = ssl.create_default_context(cafile=self.cafile)
            return httplib.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout,
                                           context=context)
        return httplib.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)

    def _request(self, method, path, pieces=(), headers=None):
        """(connection, response, socket) after sending; ServerError with plain words on failure."""
        connection = self._connection()
        sock = None
        try:
            connection.putrequest(method, self.prefix + path, skip_accept_encoding=True)
            if self.token:
                connection.putheader("Authorization", "Bearer %s" % self.token)
            for name, value in sorted((headers or {}).items()):
                connection.putheader(name, value)
            if not pieces:
                connection.putheader("Content-Length", "0")
            connection.endheaders()
        except Exception as error:
            connection.close()
            raise self._unreachable(error)
        sock = connection.sock
        sock.settimeout(self.read_timeout)
        try:
            for piece in pieces:
                connection.send(piece)
        except (socket.error, httplib.HTTPException):
            # The server may have refused the job early (token, size, queue) and closed its
            # side: its answer can still be read.
            pass
        try:
            response = connection.getresponse()
        except socket.timeout:
            connection.close()
            raise ServerGone("The neural-style server at %s did not answer within %d s." % (
                self.url, self.read_timeout))
        except (socket.error, httplib.HTTPException) as error:
            connection.close()
            hint = "Check that it is still running (`%s`)" % START_COMMAND
            if self.scheme == "http":
                hint = "If the server uses TLS, its address starts with https://; otherwise c" + hint[1:]
            raise ServerGone("The neural-style server at %s closed the connection without answering (%s); "
                             "nothing was changed. %s." % (self.url, _short(error), hint))
        return connection, response, sock

    # -- plain words ----------------------------------------------------------------------
    def _unreachable(self, error):
        tls_errors = (ssl.SSLError, getattr(ssl, "CertificateError", ssl.SSLError)) if ssl else ()
        if tls_errors and isinstance(error, tls_errors):
            return ServerUnreachable("The TLS connection to the neural-style server at %s failed (%s). "
                                     "Check the address and the server's certificate." % (
                                         self.url, _short(error)))
        if isinstance(error, socket.gaierror):
            reason = "no such host name"
        elif isinstance(error, socket.timeout):
            reason = "no answer within %d s" % self.connect_timeout
        else:
            reason = getattr(error, "strerror", None) or _short(error)
        return ServerUnreachable("Cannot reach the neural-style server at %s (%s). Start it on that machine "
                                 "with `%s`, or check the server address in the plug-in's settings." % (
                                     self.url, reason.lower() if reason[:1].isupper() else reason,
                                     START_COMMAND))

    def _gone(self, error, when="during the run"):
        return ServerGone("The connection to the neural-style server at %s was lost %s (%s); nothing was "
                          "changed. Check that the server is still running (`%s`) and try again." % (
                              self.url, when, _short(error), START_COMMAND))

    def _json(self, body):
        try:
            value = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            value = None
        if not isinstance(value, dict):
            raise MalformedResponse("The server at %s did not answer like a neural-style server "
                                    "(not a JSON object); check the address." % self.url)
        return value

    def _refusal(self, response):
        """The ServerError for a response other than 200."""
        try:
            body = response.read(_MAX_ERROR_BODY)
        except (socket.error, httplib.HTTPException):
            body = b""
        try:
            message = json.loads(body.decode("utf-8"))["error"]
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            message = None
        if response.status == 401:
            if not self.token:
                return WrongToken("The neural-style server at %s needs a token, and none is set. Give the "
                                  "plug-in the server's token file (install.py --server URL --token-file "
                                  "FILE)." % self.url)
            return WrongToken("The neural-style server at %s refused the token: it is not the server's "
                              "token. Copy the server's token file again (install.py --server URL "
                              "--token-file FILE)." % self.url)
        if message is None or not isinstance(message, type(u"")) and not isinstance(message, str):
            return MalformedResponse("The server at %s did not answer like a neural-style server (HTTP %d); "
                                     "check the address." % (self.url, response.status))
        if response.status == 503:
            return QueueFull(message)
        if response.status in (400, 408, 413):
            return JobRefused(message)
        return ServerError("The neural-style server at %s answered HTTP %d: %s" % (
            self.url, response.status, message))


class JobStream(object):
    """A running job's events, as an iterator (several loops continue where the last one
    stopped). close() before the end cancels the job."""

    def __init__(self, server, connection, response, sock):
        self.server = server
        self.job_id = response.getheader("Neural-Style-Job")
        self.finished = False
        self._connection = connection
        self._response = response
        self._sock = sock
        self._closed = False
        self._events = self._read_events()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._events)

    next = __next__  # Python 2.7

    def _read_events(self):
        """Event dicts until done or error; ServerGone if the stream ends before either."""
        try:
            lines = self._lines()
            for line in lines:
                if not line.strip():
                    continue  # keep-alive
                event = self._event(line)
                if event["event"] in _FINAL_EVENTS:
                    self.finished = True
                    self._read_to_end(lines)
                yield event
                if self.finished:
                    return
            raise self.server._gone("end of stream")
        except socket.timeout:
            raise ServerGone("The neural-style server at %s stopped answering (nothing for %d s); nothing "
                             "was changed. Check that it is still running and try again." % (
                                 self.server.url, self.server.read_timeout))
        except (socket.error, httplib.HTTPException) as error:
            if self._closed:
                return
            raise self.server._gone(error)
        finally:
            self.close()

    def _read_to_end(self, lines, most=8):
        # The end of the body follows the last event at once: reading it lets the server
        # finish its answer cleanly instead of finding the connection gone.
        try:
            for count, _ in enumerate(lines):
                if count >= most:
                    break
        except (socket.error, httplib.HTTPException, ServerError):
            pass

    def close(self):
        """End the connection; a job not finished yet is cancelled by the server."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except (socket.error, AttributeError, ValueError):
            pass
        for thing in (self._response, self._connection, self._sock):
            try:
                thing.close()
            except Exception:
                pass

    def _event(self, line):
        try:
            event = decode_event(line.decode("utf-8"), SERVER_EVENT_FIELDS)
        except (ProtocolError, UnicodeDecodeError):
            raise MalformedResponse("The server at %s sent something that is not an event (%r); is it a "
                                    "neural-style server?" % (self.server.url, line[:80]))
        if event["event"] == "queued" and event.get("job"):
            self.job_id = event["job"]
        if event["event"] in ("preview", "done"):
            try:
                event["pam"] = base64.b64decode(event["pam"].encode("ascii"))
            except (AttributeError, ValueError, TypeError, UnicodeError):
                raise MalformedResponse("The server at %s sent a %s event without a readable picture." % (
                    self.server.url, event["event"]))
        return event

    def _lines(self):
        """The body's lines (bytes, without the newline), as they arrive."""
        pending = []
        for data in self._pieces():
            while data:
                end = data.find(b"\n")
                if end < 0:
                    pending.append(data)
                    break
                pending.append(data[:end])
                yield b"".join(pending)
                pending = []
                data = data[end + 1:]
        if pending and b"".join(pending).strip():
            yield b"".join(pending)

    def _pieces(self):
        """The body as it arrives: chunk by chunk (chunked) or line by line."""
        fp = self._response.fp
        if fp is None:
            return
        if not getattr(self._response, "chunked", False):
            while True:
                line = fp.readline()
                if not line:
                    return
                yield line
        while True:
            size_line = fp.readline(_MAX_CHUNK_LINE)
            if not size_line:
                return  # the connection ended without the last chunk: the server is gone
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise MalformedResponse("The server at %s sent a broken chunked response." % self.server.url)
            if size == 0:
                return
            data = fp.read(size)
            if len(data) < size:
                return
            fp.read(2)  # the CRLF after each chunk
            yield data


def _short(error):
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."
