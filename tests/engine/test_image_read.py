"""Reading pictures (core.image_read): formats, depths, alpha, damage, size limits."""

import io

import numpy as np
import pytest
from engine_helpers import random_samples
from PIL import Image

from core import image_read, image_write
from core.errors import InputError


def test_pillow_written_16bit_grey_png_is_read_as_16bit(tmp_path):
    grey = random_samples(1, 16)[:, :, 0]
    Image.fromarray(grey).save(tmp_path / "g.png")
    samples, bits = image_read.load_samples(tmp_path / "g.png")
    assert bits == 16
    np.testing.assert_array_equal(samples[:, :, 0], grey)


def test_palette_png_becomes_rgb_and_rgba(tmp_path):
    image = Image.new("P", (4, 3))
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((1, 1), 1)
    image.save(tmp_path / "p.png")
    picture = image_read.load_picture(tmp_path / "p.png")
    assert not picture.grey and picture.alpha is None
    np.testing.assert_array_equal(picture.rgb[0, 0], [1, 0, 0])
    np.testing.assert_array_equal(picture.rgb[1, 1], [0, 1, 0])
    image.save(tmp_path / "pt.png", transparency=1)
    picture = image_read.load_picture(tmp_path / "pt.png")
    assert picture.alpha is not None
    assert picture.alpha[1, 1] == 0 and picture.alpha[0, 0] == 255


def test_one_bit_and_colour_key_transparency(tmp_path):
    Image.new("1", (3, 2), 1).save(tmp_path / "b.png")
    picture = image_read.load_picture(tmp_path / "b.png")
    assert picture.grey and picture.bits == 8 and picture.rgb.min() == 1.0
    rgb = Image.new("RGB", (3, 2), (10, 20, 30))
    rgb.putpixel((0, 0), (1, 2, 3))
    rgb.save(tmp_path / "k.png", transparency=(1, 2, 3))
    picture = image_read.load_picture(tmp_path / "k.png")
    np.testing.assert_array_equal(picture.alpha, [[0, 255, 255], [255, 255, 255]])


def test_jpeg_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    picture = image_read.load_picture(tmp_path / "o.jpg")
    assert (picture.width, picture.height) == (20, 40)
    assert picture.bits == 8 and not picture.grey
    assert abs(float(picture.rgb[10, 10, 0]) - 200 / 255) < 0.05


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (5, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    picture = image_read.load_picture(tmp_path / "cmyk.jpg")
    assert picture.rgb.shape == (4, 5, 3)
    assert picture.rgb[..., 0].mean() > 0.8 and picture.rgb[..., 1].mean() < 0.2


def _encoded(kind, samples, bits):
    out = io.BytesIO()
    image_write.write_samples(out, samples, bits, kind)
    return out.getvalue()


def _valid_png_bytes(bits=8):
    return _encoded("png", random_samples(3, bits, 40, 40), bits)


def _jpeg_bytes():
    buffer = io.BytesIO()
    Image.fromarray(random_samples(3, 8, 64, 64)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("name, content", [
    ("text.png", b"this is not an image at all\n"),
    ("empty.png", b""),
    ("truncated8.png", _valid_png_bytes(8)[:200]),
    ("truncated16.png", _valid_png_bytes(16)[:300]),
    ("header-only.png", _valid_png_bytes(16)[:33]),
    ("truncated.jpg", _jpeg_bytes()[:400]),
    ("truncated.pam", _encoded("pam", random_samples(3, 8), 8)[:90]),
    ("bad-header.pam", b"P7\nWIDTH 0\nHEIGHT 3\nDEPTH 3\nMAXVAL 255\nENDHDR\n"),
    ("truncated.tif", _encoded("tiff", random_samples(3, 16, 30, 30), 16)[:500]),
    ("bad-ifd.tif", b"II*\x00\xff\xff\x00\x00"),
    ("ifd-past-the-end.tif", b"II*\x00" + b"\xff" * 20),
])
def test_damaged_files_give_a_plain_message(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        image_read.load_picture(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "is not an image GIMP or this engine can read" in message
    assert "\n" not in message and "Traceback" not in message


def test_missing_file_and_folder_messages(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        image_read.load_picture(tmp_path / "missing.png")
    with pytest.raises(InputError, match="is a folder"):
        image_read.load_picture(tmp_path)


def test_huge_header_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.pam"
    path.write_bytes(b"P7\nWIDTH 100000\nHEIGHT 100000\nDEPTH 3\nMAXVAL 255\nENDHDR\n" + b"\0" * 10)
    with pytest.raises(InputError):
        image_read.load_picture(path)


def test_load_mask(tmp_path):
    grey = np.array([[0, 255], [128, 64]], dtype=np.uint8)
    image_write.save_picture(image_read.picture_from_samples(grey, 8), tmp_path / "m.pam")
    mask = image_read.load_mask(tmp_path / "m.pam", 2, 2)
    assert mask.dtype == np.float32 and mask.shape == (2, 2)
    np.testing.assert_allclose(mask, grey / 255.0, atol=1e-6)
    with_alpha = np.stack([np.full((2, 2), 255, np.uint8), np.array([[255, 0], [255, 0]], np.uint8)], axis=2)
    image_write.save_picture(image_read.picture_from_samples(with_alpha, 8), tmp_path / "a.png")
    np.testing.assert_allclose(image_read.load_mask(tmp_path / "a.png", 2, 2), [[1, 0], [1, 0]])
    with pytest.raises(InputError, match="must be the same size"):
        image_read.load_mask(tmp_path / "m.pam", 3, 2)


def test_float_tiff_becomes_16bit(tmp_path):
    values = np.array([[0.0, 0.25], [1.0, 2.0]], dtype=np.float32)  # 2.0: out of range, clamped
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    samples, bits = image_read.load_samples(tmp_path / "f.tif")
    assert bits == 16
    np.testing.assert_array_equal(samples[:, :, 0], [[0, 16384], [65535, 65535]])


def test_white_is_zero_and_premultiplied_16bit_tiff(tmp_path):
    import tifffile

    grey = random_samples(1, 16)[:, :, 0]
    tifffile.imwrite(tmp_path / "w.tif", grey, photometric="miniswhite")
    samples, bits = image_read.load_samples(tmp_path / "w.tif")
    assert bits == 16
    np.testing.assert_array_equal(samples[:, :, 0], 65535 - grey)
    colour = np.array([[[65535, 32768, 0]]], dtype=np.float64)
    alpha = np.array([[[0.5]]])
    premultiplied = np.concatenate([np.rint(colour * alpha), np.rint(alpha * 65535)], axis=2)
    tifffile.imwrite(tmp_path / "p.tif", premultiplied.astype(np.uint16), photometric="rgb",
                     extrasamples=["assocalpha"])
    samples, bits = image_read.load_samples(tmp_path / "p.tif")
    assert bits == 16 and abs(samples[0, 0, :3].astype(int) - colour[0, 0]).max() <= 2
    assert samples[0, 0, 3] == 32768


@pytest.mark.parametrize("name, bits, channels", [
    ("p.png", 8, 3), ("p.png", 16, 4), ("p.tif", 16, 3), ("p.tif", 8, 1), ("p.pam", 16, 2)])
def test_pixel_limit_is_checked_for_every_format(tmp_path, monkeypatch, name, bits, channels):
    image_write.save_picture(image_read.picture_from_samples(random_samples(channels, bits), bits),
                             tmp_path / name)
    monkeypatch.setattr(image_read, "MAX_PIXELS", 11 * 13 - 1)
    with pytest.raises(InputError, match="is too large"):
        image_read.load_picture(tmp_path / name)
