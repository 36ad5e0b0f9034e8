"""The aiohttp application: routes, the token check, streaming a job's events.

  POST   /v1/jobs        a job (multipart/form-data) -> 200, its events as they happen
  DELETE /v1/jobs/{id}   cancel a waiting or running job
  GET    /v1/health      version, device, queue length, busy
Refusals are JSON {"error": "plain words"} with a 4xx/5xx status; once a job's events
have started, its outcome is its last event (done or error). See docs/server.md.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from core import __version__
from core.server.job import Job
from core.server.scheduler import QueueFull, Scheduler
from core.server.settings import Limits
from core.server.stream_events import END, KEEPALIVE
from core.server.upload import UploadError, read_job
from protocol import PROTOCOL_VERSION

log = logging.getLogger("neural-style.server")

# A line at least this often, so proxies and clients can tell a long step from a dead server.
KEEPALIVE_SECONDS = 15.0
SCHEDULER: web.AppKey[Scheduler] = web.AppKey("scheduler", Scheduler)
LIMITS: web.AppKey[Limits] = web.AppKey("limits", Limits)
DEVICE: web.AppKey[str] = web.AppKey("device", str)
DEVICE_TEXT: web.AppKey[str] = web.AppKey("device_text", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, close: bool = False) -> web.Response:
    response = web.json_response({"error": message}, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="neural-style"'
    if close:  # the rest of a refused body is not worth reading
        response.force_close()
    return response


def _guard(token: str | None) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Token check before anything else; every refusal as plain-words JSON."""
    expected = ("Bearer " + token).encode("utf-8") if token else None

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is not None:
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                words = "a wrong token" if given else "no token"
                return json_error(401, "This neural-style server needs its token, and the request came "
                                       "with %s. Use the token from the server's token file." % words,
                                  close=True)
        try:
            return await handler(request)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            return json_error(error.status, "%s: %s %s" % (error.reason, request.method, request.path))

    return guard


async def post_job(request: web.Request) -> web.StreamResponse:
    scheduler = request.app[SCHEDULER]
    try:
        scheduler.reserve()
    except QueueFull as error:
        return json_error(503, str(error), close=True)
    try:
        job_request = await read_job(request, request.app[LIMITS])
    except UploadError as error:
        log.info("job refused (%d): %s", error.status, error.message)
        return json_error(error.status, error.message, close=True)
    finally:
        scheduler.release()
    job = Job(job_request, asyncio.get_running_loop(), request.app[DEVICE])
    scheduler.submit(job)
    response = web.StreamResponse(headers={
        "Content-Type": "application/x-ndjson; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",  # nginx: pass each line on at once
        "Neural-Style-Job": job.id,
    })
    try:
        await response.prepare(request)
        await _send_events(job, response)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: nothing more to say to it
    finally:
        # The client disconnected (its handler is cancelled, or a write failed): the job stops
        # at once. A job that has ended is left as it is.
        scheduler.cancel(job, "its client disconnected")
    return response


async def _send_events(job: Job, response: web.StreamResponse) -> None:
    while True:
        try:
            line = await asyncio.wait_for(job.lines.get(), KEEPALIVE_SECONDS)
        except asyncio.TimeoutError:
            await response.write(KEEPALIVE)
            continue
        if line is END:
            return
        await response.write(line.data)
        if line.preview:
            job.preview_sent()


async def delete_job(request: web.Request) -> web.Response:
    scheduler = request.app[SCHEDULER]
    job_id = request.match_info["job_id"]
    job = scheduler.find(job_id)
    if job is None:
        return json_error(404, "There is no waiting or running job %s (it may have finished)." % job_id[:40])
    scheduler.cancel(job, "it was cancelled (DELETE request)")
    return web.json_response({"job": job.id, "cancelled": True})


async def health(request: web.Request) -> web.Response:
    scheduler = request.app[SCHEDULER]
    limits = request.app[LIMITS]
    return web.json_response({
        "version": __version__,
        "protocol": PROTOCOL_VERSION,
        "device": request.app[DEVICE_TEXT],
        "ready": scheduler.ready,
        "busy": scheduler.busy,
        "queue": len(scheduler.waiting),
        "accepted": scheduler.accepted,
        "limits": {"max_pixels": limits.max_pixels, "max_body_bytes": limits.max_body_bytes,
                   "max_queue": limits.max_queue, "max_styles": limits.max_styles},
    })


def create_app(scheduler: Scheduler, limits: Limits, token: str | None, device: str,
               device_text: str) -> web.Application:
    """device: what a job's device "auto" means here; device_text: how health names it."""
    app = web.Application(middlewares=[_guard(token)], client_max_size=limits.max_body_bytes)
    app[SCHEDULER] = scheduler
    app[LIMITS] = limits
    app[DEVICE] = device
    app[DEVICE_TEXT] = device_text
    app.router.add_post("/v1/jobs", post_job)
    app.router.add_delete("/v1/jobs/{job_id}", delete_job)
    app.router.add_get("/v1/health", health)
    return app
