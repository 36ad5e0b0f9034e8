"""`neural-style serve`: the engine as a long-running HTTP server (see docs/server.md).

The server speaks the worker's protocol over HTTP: the options table
(protocol.options), JSON-lines events (protocol.events) and PAM pixels (protocol.pam),
with pixels sent inside the request and the events instead of files, so a client never
names a path on the server. Modules, one job each:

  settings    the command line and the limits it sets
  access_token the bearer token: where it lives, reading and creating it
  upload      reading one job's multipart body within the limits
  job         one job run in a worker thread, its events as lines
  scheduler   one job at a time, queue positions, cancelling
  app         the aiohttp application: routes, token check, streaming
  activation  sockets passed by systemd (socket activation), leaving when idle
  main        start-up: token rule, TLS, listening, shutting down
"""
