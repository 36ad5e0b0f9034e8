"""Pixels as both sides exchange them: one raster type and the facts that go with it.

A `Raster` is raw samples row by row, channels interleaved (grey, grey+alpha, RGB, RGBA),
8 or 16 bits a sample. It knows the byte order of its 16-bit samples: GIMP hands the
plug-in native order, PAM files (protocol.pam) store big-endian. The module also holds
the largest picture the engine takes (MAX_PIXELS), when a picture counts as fully
transparent, and the luma weights that turn colour into grey.
Python 2.7 and 3, standard library only.
"""

from __future__ import division

import array
import sys

# 16384 x 16384: the largest working size the options allow; larger pictures are refused.
MAX_PIXELS = 16384 * 16384
# BT.709 luma, what GIMP uses to turn RGB into grey (sRGB primaries).
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)

BIG_ENDIAN = "big"
LITTLE_ENDIAN = "little"
NATIVE = sys.byteorder  # "little" or "big", as sys.byteorder names them
CHANNEL_COUNTS = (1, 2, 3, 4)  # grey, grey+alpha, RGB, RGBA
SAMPLE_BITS = (8, 16)


class RasterError(ValueError):
    """Samples that do not fit the shape they are said to have."""


def fits_pixel_limit(width, height):
    return width * height <= MAX_PIXELS


def luma(red, green, blue):
    """Grey value of one colour, in the same units as its samples."""
    return LUMA_WEIGHTS[0] * red + LUMA_WEIGHTS[1] * green + LUMA_WEIGHTS[2] * blue


def _swap16(data):
    samples = _unpack16(data)
    samples.byteswap()
    return _pack(samples)


def _unpack16(data):
    samples = array.array("H")
    if hasattr(samples, "frombytes"):
        samples.frombytes(bytes(data))
    else:  # Python 2.7
        samples.fromstring(bytes(data))
    return samples


def _pack(samples):
    return samples.tobytes() if hasattr(samples, "tobytes") else samples.tostring()


class Raster(object):
    """width x height pixels of `channels` samples with `bits` each; 16-bit in `byte_order`."""

    def __init__(self, width, height, channels, bits, data, byte_order=NATIVE):
        if channels not in CHANNEL_COUNTS or bits not in SAMPLE_BITS:
            raise RasterError("Only 1-4 channels of 8 or 16 bits are exchanged, not %r of %r."
                              % (channels, bits))
        if byte_order not in (BIG_ENDIAN, LITTLE_ENDIAN):
            raise RasterError("Unknown byte order %r." % (byte_order,))
        expected = width * height * channels * (bits // 8)
        if len(data) != expected:
            raise RasterError("Pixel data has %d bytes, expected %d." % (len(data), expected))
        self.width = width
        self.height = height
        self.channels = channels
        self.bits = bits
        self.data = data
        self.byte_order = byte_order

    @property
    def has_alpha(self):
        return self.channels in (2, 4)

    def shape(self):
        return (self.width, self.height, self.channels, self.bits)

    def in_byte_order(self, byte_order):
        """This raster with its 16-bit samples in byte_order (itself when nothing changes)."""
        if byte_order == self.byte_order:
            return self
        data = _swap16(self.data) if self.bits == 16 else self.data
        return Raster(self.width, self.height, self.channels, self.bits, data, byte_order)

    def is_fully_transparent(self):
        """True when it has alpha and every alpha sample is 0: nothing of it is visible."""
        if not self.has_alpha:
            return False
        size = self.bits // 8
        step = self.channels * size
        data = bytes(self.data)
        for index in range(size):  # each byte of the alpha sample (either byte order)
            alpha = data[step - size + index::step]
            if alpha.count(b"\0") != len(alpha):
                return False
        return True

    def samples(self):
        """The samples as a list of ints."""
        if self.bits == 8:
            return list(bytearray(self.data))
        return list(_unpack16(self.in_byte_order(NATIVE).data))

    @classmethod
    def from_samples(cls, width, height, channels, bits, samples):
        """A native-order raster holding a list of int samples."""
        if bits == 8:
            data = bytes(bytearray(samples))
        else:
            data = _pack(array.array("H", samples))
        return cls(width, height, channels, bits, data)

    def converted(self, channels, bits):
        """The same pixels as `channels` (grey/RGB, with/without alpha) at `bits`, native order.

        Colour becomes grey by LUMA_WEIGHTS; a missing alpha becomes opaque.
        """
        if (channels, bits) == (self.channels, self.bits):
            return self.in_byte_order(NATIVE)
        maximum, want_max = (1 << self.bits) - 1, (1 << bits) - 1
        colour, want_colour = (1 if self.channels <= 2 else 3), (1 if channels <= 2 else 3)
        want_alpha = channels in (2, 4)
        samples = self.samples()
        out = []
        for start in range(0, len(samples), self.channels):
            pixel = samples[start:start + self.channels]
            values = pixel[:colour]
            if colour == 1 and want_colour == 3:
                values = values * 3
            elif colour == 3 and want_colour == 1:
                values = [int(round(luma(values[0], values[1], values[2])))]
            if want_alpha:
                values = values + [pixel[-1] if self.has_alpha else maximum]
            if maximum != want_max:
                values = [int(round(value * want_max / maximum)) for value in values]
            out.extend(values)
        return Raster.from_samples(self.width, self.height, channels, bits, out)
