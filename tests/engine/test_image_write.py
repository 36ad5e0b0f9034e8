"""Writing pictures (core.image_write): formats, depths, grey, alpha, exact round trips."""

import numpy as np
import pytest
from engine_helpers import random_samples
from PIL import Image

from core import image_read, image_write
from core.errors import InputError
from core.picture import Picture
from protocol import pam


@pytest.mark.parametrize("extension", [".png", ".tif", ".tiff", ".pam"])
@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_round_trip_is_exact(tmp_path, extension, bits, channels):
    samples = random_samples(channels, bits)
    picture = image_read.picture_from_samples(samples, bits)
    assert picture.bits == bits
    assert picture.grey == (channels in (1, 2))
    assert (picture.alpha is not None) == (channels in (2, 4))
    path = tmp_path / ("picture" + extension)
    image_write.save_picture(picture, path)
    back, back_bits = image_read.load_samples(path)
    assert back_bits == bits
    assert back.dtype == samples.dtype
    np.testing.assert_array_equal(back, samples)
    again = image_read.load_picture(path)
    np.testing.assert_array_equal(again.rgb, picture.rgb)
    if picture.alpha is not None:
        np.testing.assert_array_equal(again.alpha, picture.alpha)
        assert again.alpha.dtype == picture.alpha.dtype


def test_png_and_tiff_are_readable_by_other_decoders(tmp_path):
    eight = random_samples(4, 8)
    image_write.save_picture(image_read.picture_from_samples(eight, 8), tmp_path / "a.png")
    with Image.open(tmp_path / "a.png") as image:
        assert image.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(image), eight)
    grey16 = random_samples(1, 16)
    image_write.save_picture(image_read.picture_from_samples(grey16, 16), tmp_path / "g.tif")
    image_write.save_picture(image_read.picture_from_samples(grey16, 16), tmp_path / "g.png")
    for name in ("g.tif", "g.png"):
        with Image.open(tmp_path / name) as image:
            assert image.mode == "I;16"
            np.testing.assert_array_equal(np.asarray(image), grey16[:, :, 0])
    rgb16 = random_samples(3, 16)
    image_write.save_picture(image_read.picture_from_samples(rgb16, 16), tmp_path / "c.tif")
    with Image.open(tmp_path / "c.tif") as image:  # Pillow keeps only the high bytes
        np.testing.assert_array_equal(np.asarray(image), rgb16 >> 8)


def test_grey_picture_is_written_as_grey(tmp_path):
    value = np.linspace(0, 1, 5 * 7, dtype=np.float32).reshape(5, 7, 1)
    picture = Picture(rgb=np.repeat(value, 3, axis=2), bits=16, grey=True)
    image_write.save_picture(picture, tmp_path / "grey.pam")
    image = pam.read_pam(str(tmp_path / "grey.pam"))
    assert (image.channels, image.bits) == (1, 16)
    samples, _ = image_read.load_samples(tmp_path / "grey.pam")
    np.testing.assert_array_equal(samples[:, :, 0], np.rint(value[:, :, 0] * 65535).astype(np.uint16))


def test_values_outside_range_are_clamped_and_nan_is_black(tmp_path):
    rgb = np.array([[[-0.5, 1.5, np.nan]]], dtype=np.float32)
    image_write.save_picture(Picture(rgb=rgb), tmp_path / "c.png")
    samples, _ = image_read.load_samples(tmp_path / "c.png")
    np.testing.assert_array_equal(samples[0, 0], [0, 255, 0])


def test_alpha_of_other_depth_is_rescaled(tmp_path):
    alpha = np.array([[0, 128, 255]], dtype=np.uint8)
    picture = Picture(rgb=np.zeros((1, 3, 3), np.float32), alpha=alpha, bits=16)
    image_write.save_picture(picture, tmp_path / "a.pam")
    samples, bits = image_read.load_samples(tmp_path / "a.pam")
    assert bits == 16
    np.testing.assert_array_equal(samples[0, :, 3], [0, 128 * 257, 65535])


def test_unsupported_output_format_is_refused(tmp_path):
    picture = Picture(rgb=np.zeros((2, 2, 3), np.float32))
    with pytest.raises(InputError, match=r"\.png, \.tif, \.tiff or \.pam"):
        image_write.save_picture(picture, tmp_path / "out.jpg")
    assert not list(tmp_path.iterdir())
    for name in ("out.PNG", "out.Tiff", "out.pam"):
        assert image_write.output_format(name) in ("png", "tiff", "pam")


def test_check_output_path(tmp_path):
    image_write.check_output_path(tmp_path / "ok.png")
    with pytest.raises(InputError, match="does not exist"):
        image_write.check_output_path(tmp_path / "no" / "such.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        image_write.check_output_path(tmp_path / "dir.png")
