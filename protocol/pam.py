"""Lossless pixel exchange between plug-in and engine: the netpbm PAM format.

PAM is a header of text lines and then raw samples, row by row, channel interleaved;
8-bit samples are bytes, 16-bit samples big-endian. It holds grey, grey+alpha, RGB and
RGBA at 8 or 16 bits, which is all the plug-in exchanges, and needs no library.
Python 2.7 and 3, standard library only.
"""

import array
import os
import sys

TUPLTYPES = {1: "GRAYSCALE", 2: "GRAYSCALE_ALPHA", 3: "RGB", 4: "RGB_ALPHA"}


class PamError(ValueError):
    """A file that is not a PAM image this protocol exchanges."""


class PamImage(object):
    """Raw samples (big-endian when 16-bit) with their shape."""

    def __init__(self, width, height, channels, bits, data):
        expected = width * height * channels * (bits // 8)
        if len(data) != expected:
            raise PamError("PAM data has %d bytes, expected %d." % (len(data), expected))
        self.width = width
        self.height = height
        self.channels = channels
        self.bits = bits
        self.data = data


def swap16(data):
    """Swap the bytes of 16-bit samples (native little-endian <-> PAM big-endian)."""
    samples = array.array("H")
    samples.frombytes(data) if hasattr(samples, "frombytes") else samples.fromstring(data)
    samples.byteswap()
    return samples.tobytes() if hasattr(samples, "tobytes") else samples.tostring()


def native_to_big_endian(data):
    return swap16(data) if sys.byteorder == "little" else data


big_endian_to_native = native_to_big_endian


def encode_pam(image):
    if image.channels not in TUPLTYPES or image.bits not in (8, 16):
        raise PamError("Only 1-4 channels of 8 or 16 bits are exchanged.")
    header = "P7\nWIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL %d\nTUPLTYPE %s\nENDHDR\n" % (
        image.width, image.height, image.channels, 255 if image.bits == 8 else 65535,
        TUPLTYPES[image.channels])
    return header.encode("ascii") + bytes(image.data)


def decode_pam(blob):
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
    return PamImage(width, height, channels, 8 if maxval == 255 else 16, blob[end + 7:])


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
