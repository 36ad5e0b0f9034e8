"""The raster both sides exchange: byte order, the alpha rule, grey from colour, the pixel limit."""

import array
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.pam import decode_pam, encode_pam
from protocol.raster import (
    BIG_ENDIAN,
    LUMA_WEIGHTS,
    MAX_PIXELS,
    NATIVE,
    Raster,
    RasterError,
    fits_pixel_limit,
)


def native16(values):
    return array.array("H", values).tobytes()


def test_sixteen_bit_samples_are_big_endian_in_pam_and_native_in_the_plugin():
    values = [0x0102, 0xFFFE, 7]
    native = Raster(3, 1, 1, 16, native16(values))
    blob = encode_pam(native)
    assert blob.endswith(b"\x01\x02\xff\xfe\x00\x07")  # big-endian on disk, whatever the machine
    decoded = decode_pam(blob)
    assert decoded.byte_order == BIG_ENDIAN and decoded.samples() == values
    assert decoded.in_byte_order(NATIVE).data == native.data
    assert NATIVE == sys.byteorder


@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([1, 2, 3, 4]), st.sampled_from([8, 16]),
       st.data())
def test_samples_survive_every_byte_order_and_the_pam_file(width, height, channels, bits, data):
    count = width * height * channels
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=count, max_size=count))
    raster = Raster.from_samples(width, height, channels, bits, values)
    assert raster.samples() == values
    assert raster.in_byte_order(BIG_ENDIAN).samples() == values
    assert decode_pam(encode_pam(raster)).samples() == values


def test_fully_transparent_means_every_alpha_sample_is_zero():
    assert Raster(2, 1, 4, 8, b"\x09\x09\x09\x00" * 2).is_fully_transparent()
    assert not Raster(2, 1, 4, 8, b"\x09\x09\x09\x00\x00\x00\x00\x01").is_fully_transparent()
    assert not Raster(2, 1, 3, 8, b"\x00" * 6).is_fully_transparent()  # no alpha: opaque
    grey_alpha = Raster(2, 1, 2, 16, b"\x00" * 8)
    assert grey_alpha.is_fully_transparent()
    for index in (6, 7):  # either byte of a 16-bit alpha makes it visible, in either order
        data = bytearray(8)
        data[index] = 1
        assert not Raster(2, 1, 2, 16, bytes(data)).is_fully_transparent()
        assert not Raster(2, 1, 2, 16, bytes(data), BIG_ENDIAN).is_fully_transparent()


def test_colour_becomes_grey_by_the_bt709_weights_gimp_uses():
    assert LUMA_WEIGHTS == (0.2126, 0.7152, 0.0722)
    rgb = Raster(3, 1, 3, 8, bytes(bytearray([255, 0, 0, 0, 255, 0, 0, 0, 255])))
    assert rgb.converted(1, 8).samples() == [54, 182, 18]


def test_conversions_between_grey_colour_alpha_and_bits():
    grey = Raster(2, 1, 1, 8, bytes(bytearray([0, 255])))
    assert grey.converted(4, 8).samples() == [0, 0, 0, 255, 255, 255, 255, 255]  # opaque alpha added
    assert grey.converted(2, 16).samples() == [0, 65535, 65535, 65535]
    deep = Raster(1, 1, 2, 16, native16([65535, 32896]))
    assert deep.converted(3, 8).samples() == [255, 255, 255]  # alpha dropped
    assert deep.converted(2, 8).samples() == [255, 128]
    assert deep.converted(2, 16).samples() == [65535, 32896]


def test_the_pixel_limit_is_16384_squared():
    assert MAX_PIXELS == 16384 * 16384
    assert fits_pixel_limit(16384, 16384) and fits_pixel_limit(1, MAX_PIXELS)
    assert not fits_pixel_limit(16385, 16384)


def test_samples_that_do_not_fit_the_shape_are_refused():
    with pytest.raises(RasterError):
        Raster(2, 2, 3, 8, b"\0")
    with pytest.raises(RasterError):
        Raster(1, 1, 5, 8, b"\0" * 5)
    with pytest.raises(RasterError):
        Raster(1, 1, 1, 12, b"\0\0")
    with pytest.raises(RasterError):
        Raster(1, 1, 1, 16, b"\0\0", byte_order="middle")
