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


def decode_pam(blob):
    """The Raster a PAM file holds, its 16-bit samples big-endian as in the file."""
    if not blob.startswith(b"P7\n"):
        raise PamError("Not a PAM image.")
    end = blob.find(b"ENDHDR\n")
    if end < 0:
        raise PamError("PAM header has no end.")
    fields = {}
    for line in blob[3:end].decode("ascii", "replace").splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and not parts[0].startswith("#"):
            fields[parts[0]] = parts[1].strip()
    try:
        width, height = int(fields["WIDTH"]), int(fields["HEIGHT"])
        channels, maxval = int(fields["DEPTH"]), int(fields["MAXVAL"])
    except (KeyError, ValueError):
        raise PamError("PAM header lacks WIDTH, HEIGHT, DEPTH or MAXVAL.")
    if width < 1 or height < 1 or channels not in TUPLTYPES or maxval not in (255, 65535):
        raise PamError("Unsupported PAM image (%dx%d, %d channels, maxval %d)." % (
            width, height, channels, maxval))
    bits = 8 if maxval == 255 else 16
    body = blob[end + 7:]
    expected = width * height * channels * (bits // 8)
    if len(body) != expected:
        raise PamError("PAM data has %d bytes, expected %d." % (len(body), expected))
    return Raster(width, height, channels, bits, body, BIG_ENDIAN)


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
