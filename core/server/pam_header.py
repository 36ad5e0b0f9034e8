"""The size a PAM header claims, read before any pixels are accepted.

The server must refuse a picture that would be too big before it reads (and stores) its
pixels, so it looks at the header alone; protocol.pam.decode_pam checks the whole file
again when the job runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.pam import TUPLTYPES

# A PAM header is a few short lines; anything longer is not one we exchange.
MAX_HEADER_BYTES = 1024
END_OF_HEADER = b"ENDHDR\n"


class PamHeaderError(ValueError):
    """A part that does not start with a PAM header this protocol exchanges."""


@dataclass(frozen=True)
class PamHeader:
    width: int
    height: int
    channels: int
    bits: int
    length: int  # bytes of the header itself, ENDHDR line included

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def data_bytes(self) -> int:
        return self.pixels * self.channels * (self.bits // 8)


def header_complete(head: bytes) -> bool:
    """True once head holds the whole header (or is long enough to say it never will)."""
    return END_OF_HEADER in head or len(head) >= MAX_HEADER_BYTES or (
        len(head) >= 3 and not head.startswith(b"P7\n"))


def parse_pam_header(head: bytes) -> PamHeader:
    """The header at the start of head (which may go on with pixels), or PamHeaderError."""
    if not head.startswith(b"P7\n"):
        raise PamHeaderError("it is not a PAM image (PAM files start with P7)")
    end = head.find(END_OF_HEADER, 0, MAX_HEADER_BYTES)
    if end < 0:
        raise PamHeaderError("its PAM header has no ENDHDR line")
    fields = {}
    for line in head[3:end].decode("ascii", "replace").splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and not parts[0].startswith("#"):
            fields[parts[0]] = parts[1].strip()
    try:
        width, height = int(fields["WIDTH"]), int(fields["HEIGHT"])
        channels, maxval = int(fields["DEPTH"]), int(fields["MAXVAL"])
    except (KeyError, ValueError):
        raise PamHeaderError("its PAM header lacks WIDTH, HEIGHT, DEPTH or MAXVAL")
    if width < 1 or height < 1:
        raise PamHeaderError("it has no pixels (%dx%d)" % (width, height))
    if channels not in TUPLTYPES or maxval not in (255, 65535):
        raise PamHeaderError("it has %d channels with maxval %d; 1-4 channels of 8 or 16 bits "
                             "(maxval 255 or 65535) are exchanged" % (channels, maxval))
    return PamHeader(width, height, channels, 8 if maxval == 255 else 16, end + len(END_OF_HEADER))
