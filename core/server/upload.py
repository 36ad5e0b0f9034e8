"""Reading one job's multipart/form-data body, within the limits.

Parts: "options" (JSON object, protocol.options), "content" (PAM), "style" (PAM, once per
style picture), optional "mask" (PAM), "init" (PAM, the picture to start from) and
"preview_every" (a whole number). Every limit is
checked before the bytes it guards are stored: the body's declared length, each picture's
size from its PAM header, the bytes still allowed, and how long the client takes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web

from core.server.settings import Limits
from core.worker import BUILT_IN_WEIGHTS
from protocol import pam
from protocol.options import OptionError, validate_options

PARTS_HELP = ("a job is multipart/form-data with the parts options (JSON), content (PAM), style "
              "(PAM, one part per style picture), and optionally mask (PAM), init (PAM) and preview_every")
# The options and preview_every parts are short texts.
MAX_FIELD_BYTES = 64 * 1024
CHUNK = 256 * 1024
PICTURE_ROLES = {"content": "content picture", "style": "style picture", "mask": "mask",
                 "init": "starting picture"}
T = TypeVar("T")


class UploadError(Exception):
    """A job refused while it is read: HTTP status and one line of plain words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class PamUpload:
    """A PAM file as the client sent it (header and samples), and its header."""

    header: pam.PamHeader
    data: bytearray


@dataclass
class JobRequest:
    options: dict[str, Any] = field(default_factory=lambda: validate_options({}))
    content: PamUpload | None = None
    styles: list[PamUpload] = field(default_factory=list)
    mask: PamUpload | None = None
    init: PamUpload | None = None
    preview_every: int = 0


class _Reader:
    """Reads parts with a byte budget and a limit on silence."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.left = limits.max_body_bytes

    async def _timed(self, waiting: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(waiting, self.limits.read_timeout)
        except asyncio.TimeoutError:
            raise UploadError(408, "The job's upload stalled: no data came for %g s; send it again." % (
                self.limits.read_timeout))

    async def chunk(self, part: BodyPartReader, size: int = CHUNK) -> bytes:
        data = await self._timed(part.read_chunk(size))
        self.left -= len(data)
        if self.left < 0:
            raise self.too_large()
        return data

    def too_large(self) -> UploadError:
        return UploadError(413, "The job is larger than this server takes (%d MiB); send smaller "
                                "pictures or start the server with a larger --max-body-mb."
                           % (self.limits.max_body_bytes >> 20))

    async def field(self, part: BodyPartReader, name: str) -> str:
        data = bytearray()
        while True:
            piece = await self.chunk(part)
            if not piece:
                break
            data += piece
            if len(data) > MAX_FIELD_BYTES:
                raise UploadError(400, "The job's %s part is longer than %d KiB." % (
                    name, MAX_FIELD_BYTES >> 10))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadError(400, "The job's %s part is not UTF-8 text." % name)

    async def picture(self, part: BodyPartReader, role: str) -> PamUpload:
        what = PICTURE_ROLES[role]
        data = bytearray()
        while not pam.header_complete(bytes(data[:pam.MAX_HEADER_BYTES])):
            piece = await self.chunk(part, pam.MAX_HEADER_BYTES)
            if not piece:
                break
            data += piece
        try:
            header = pam.parse_header(bytes(data[:pam.MAX_HEADER_BYTES]))
        except pam.PamError as error:
            raise UploadError(400, "The job's %s cannot be used: %s." % (what, error))
        if header.width * header.height > self.limits.max_pixels:
            raise UploadError(413, "The job's %s is %dx%d pixels; this server takes at most %.1f megapixels "
                                   "per picture. Scale it down, or start the server with a larger "
                                   "--max-pixels." % (what, header.width, header.height,
                                                      self.limits.max_pixels / 1e6))
        expected = header.length + header.data_bytes
        if expected - len(data) > self.left:
            raise self.too_large()
        while len(data) <= expected:
            piece = await self.chunk(part)
            if not piece:
                break
            data += piece
        if len(data) != expected:
            raise UploadError(400, "The job's %s is %s: its PAM header promises %d bytes of pixels, "
                                   "it has %d." % (what, "cut short" if len(data) < expected else "too long",
                                                   header.data_bytes, len(data) - header.length))
        return PamUpload(header, data)


def _parse_options(text: str) -> dict[str, Any]:
    try:
        given = json.loads(text)
    except ValueError as error:
        raise UploadError(400, "The job's options are not valid JSON (%s)." % error)
    try:
        options = validate_options(given)
    except OptionError as error:
        raise UploadError(400, "The job's options cannot be used: %s" % error)
    if options["weights"] not in BUILT_IN_WEIGHTS:
        # A weights path would name a file on the server.
        raise UploadError(400, "The job's options name the weights %r; a server job may only use the "
                               "weights %s." % (options["weights"], " or ".join(BUILT_IN_WEIGHTS)))
    return options


def _parse_preview_every(text: str) -> int:
    try:
        every = int(text.strip())
    except ValueError:
        every = 0
    if not 1 <= every <= 10000:
        raise UploadError(400, "The job's preview_every must be a whole number from 1 to 10000, not %r."
                          % text[:40])
    return every


async def _read_parts(request: web.Request, limits: Limits) -> JobRequest:
    reader = _Reader(limits)
    try:
        multipart = await request.multipart()
    except (AssertionError, ValueError, KeyError) as error:  # aiohttp's words for a bad Content-Type
        raise UploadError(400, "The job is not readable multipart/form-data (%s); %s." % (error, PARTS_HELP))
    job = JobRequest()
    seen: set[str] = set()
    while True:
        part = await reader._timed(multipart.next())
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise UploadError(400, "The job has a nested multipart part; %s." % PARTS_HELP)
        name = part.name or ""
        if name in seen and name != "style":
            raise UploadError(400, "The job has more than one %s part." % name)
        seen.add(name)
        if name == "options":
            job.options = _parse_options(await reader.field(part, name))
        elif name == "preview_every":
            job.preview_every = _parse_preview_every(await reader.field(part, name))
        elif name == "style":
            if len(job.styles) >= limits.max_styles:
                raise UploadError(400, "The job has more than %d style pictures." % limits.max_styles)
            job.styles.append(await reader.picture(part, name))
        elif name == "content":
            job.content = await reader.picture(part, name)
        elif name == "mask":
            job.mask = await reader.picture(part, name)
        elif name == "init":
            job.init = await reader.picture(part, name)
        else:
            raise UploadError(400, "The job has an unknown part %r; %s." % (name[:40], PARTS_HELP))
    return _checked(job)


def _checked(job: JobRequest) -> JobRequest:
    if job.content is None:
        raise UploadError(400, "The job has no content picture; %s." % PARTS_HELP)
    if not job.styles:
        raise UploadError(400, "The job has no style picture; %s." % PARTS_HELP)
    blend = job.options["style_blend"]
    if blend is not None and len(blend) != len(job.styles):
        raise UploadError(400, "style_blend has %d weights but the job has %d style pictures." % (
            len(blend), len(job.styles)))
    content = job.content.header
    for picture, what in ((job.mask, "mask"), (job.init, "starting picture")):
        if picture is None:
            continue
        size = picture.header
        if (size.width, size.height) != (content.width, content.height):
            raise UploadError(400, "The job's %s is %dx%d but its content picture is %dx%d; they must be "
                                   "the same size." % (what, size.width, size.height, content.width,
                                                       content.height))
    return job


async def read_job(request: web.Request, limits: Limits) -> JobRequest:
    """The job in request's body, or UploadError (400, 408 or 413) with plain words."""
    declared = request.content_length
    if declared is not None and declared > limits.max_body_bytes:
        raise _Reader(limits).too_large()
    if request.content_type != "multipart/form-data":
        raise UploadError(400, "The job was sent as %s; %s." % (
            request.content_type or "nothing", PARTS_HELP))
    try:
        return await asyncio.wait_for(_read_parts(request, limits), limits.upload_timeout)
    except (ValueError, AssertionError) as error:  # aiohttp's multipart parser on a broken body
        raise UploadError(400, "The job is not readable multipart/form-data (%s); %s." % (
            str(error)[:120], PARTS_HELP))
    except asyncio.TimeoutError:
        raise UploadError(408, "The job's upload took longer than %g s; send smaller pictures or start "
                               "the server with a larger --upload-timeout." % limits.upload_timeout)
