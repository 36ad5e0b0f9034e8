"""Lossless pixel exchange between plug-in and engine: the netpbm PAM format.

PAM is a header of text lines and then raw samples, row by row, channel interleaved;
8-bit samples are bytes, 16-bit samples big-endian. It holds grey, grey+alpha, RGB and
RGBA at 8 or 16 bits, which is all the plug-in exchanges, and needs no library. The
pixels themselves are a protocol.raster.Raster.
Python 2.7 and 3, standard library only.
"""

import os

from .raster import BIG_ENDIAN, Raster, RasterError

TUPLTYPES = {1: "GRAYSCALE", 2: "GRAYSCALE_ALPHA", 3: "RGB", 4: "RGB_ALPHA"}


class PamError(RasterError):
    """A file that is not a PAM image this protocol exchanges."""


def PamImage(width, height, channels, bits, data):
    """A Raster whose 16-bit data is already big-endian, as PAM stores it (core/imageio.py's name)."""
    try:
        return Raster(width, height, channels, bits, data, BIG_ENDIAN)
    except RasterError as error:
        raise PamError(str(error))


def encode_pam(image):
    """The PAM file for a Raster (in any byte order)."""
    header = "P7\nWIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL %d\nTUPLTYPE %s\nENDHDR\n" % (
        image.width, image.height, image.channels, 255 if image.bits == 8 else 65535,
        TUPLTYPES[image.channels])
    return header.encode("ascii") + bytes(image.in_byte_order(BIG_ENDIAN).data)


# A PAM header is a few short lines; anything longer is not one this protocol exchanges.
MAX_HEADER_BYTES = 1024
END_OF_HEADER = b"ENDHDR\n"


class PamHeader(object):
    """What a PAM header says: size, channels, bits, and its own length in bytes."""

    def __init__(self, width, height, channels, bits, length):
        self.width, self.height, self.channels, self.bits = width, height, channels, bits
        self.length = length  # the header's bytes, ENDHDR line included

    @property
    def data_bytes(self):
        return self.width * self.height * self.channels * (self.bits // 8)


def header_complete(head):
    """True once head holds a whole header (or is long enough to say it never will)."""
    return END_OF_HEADER in head or len(head) >= MAX_HEADER_BYTES or (
        len(head) >= 3 and not head.startswith(b"P7\n"))


def parse_header(head):
    """The header at the start of head (pixels may follow), or PamError in plain words.

    Reads only the header, so a reader can refuse a picture that is too large before
    it accepts the pixels (the engine server does).
    """
    if not head.startswith(b"P7\n"):
        raise PamError("it is not a PAM image (PAM files start with P7)")
    end = head.find(END_OF_HEADER, 0, MAX_HEADER_BYTES)
    if end < 0:
        raise PamError("its PAM header has no ENDHDR line")
    fields = {}
    for line in head[3:end].decode("ascii", "replace").splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and not parts[0].startswith("#"):
            fields[parts[0]] = parts[1].strip()
    try:
        width, height = int(fields["WIDTH"]), int(fields["HEIGHT"])
        channels, maxval = int(fields["DEPTH"]), int(fields["MAXVAL"])
    except (KeyError, ValueError):
        raise PamError("its PAM header lacks WIDTH, HEIGHT, DEPTH or MAXVAL")
    if width < 1 or height < 1:
        raise PamError("it has no pixels (%dx%d)" % (width, height))
    if channels not in TUPLTYPES or maxval not in (255, 65535):
        raise PamError("it has %d channels with maxval %d; 1-4 channels of 8 or 16 bits "
                       "(maxval 255 or 65535) are exchanged" % (channels, maxval))
    return PamHeader(width, height, channels, 8 if maxval == 255 else 16, end + len(END_OF_HEADER))


def decode_pam(blob):
    """The Raster a PAM file holds, its 16-bit samples big-endian as in the file."""
    header = parse_header(blob)
    body = blob[header.length:]
    if len(body) != header.data_bytes:
        raise PamError("its pixel data has %d bytes, expected %d" % (len(body), header.data_bytes))
    return Raster(header.width, header.height, header.channels, header.bits, body, BIG_ENDIAN)


def read_pam(path):
    with open(path, "rb") as handle:
        return decode_pam(handle.read())


def write_pam_atomically(path, image):
    """Write to a temporary name beside path, then rename: never a partial file at path."""
    temporary = "%s.partial-%d" % (path, os.getpid())
    try:
        with open(temporary, "wb") as handle:
            handle.write(encode_pam(image))
            handle.flush()
            os.fsync(handle.fileno())
        replace_file(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def replace_file(source, target):
    """os.replace, also on Python 2.7 (where rename does not replace on Windows)."""
    if hasattr(os, "replace"):
        os.replace(source, target)
    else:
        if os.name == "nt" and os.path.exists(target):
            os.remove(target)
        os.rename(source, target)
