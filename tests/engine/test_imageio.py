"""Reading and writing pictures (core.imageio): formats, depths, alpha, damage, atomic writes."""

import errno
import io
import os
import threading

import numpy as np
import pytest
from PIL import Image

from core import imageio
from core.errors import Cancelled, InputError
from core.picture import Picture
from protocol import pam

RNG = np.random.default_rng(1234)


def _samples(channels, bits, height=11, width=13):
    top = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    samples = RNG.integers(0, top + 1, size=(height, width, channels)).astype(dtype)
    samples[0, 0] = 0
    samples[-1, -1] = top  # both ends of the range
    return samples


@pytest.mark.parametrize("extension", [".png", ".tif", ".tiff", ".pam"])
@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_round_trip_is_exact(tmp_path, extension, bits, channels):
    samples = _samples(channels, bits)
    picture = imageio.picture_from_samples(samples, bits)
    assert picture.bits == bits
    assert picture.grey == (channels in (1, 2))
    assert (picture.alpha is not None) == (channels in (2, 4))
    path = tmp_path / ("picture" + extension)
    imageio.save_picture(picture, path)
    back, back_bits = imageio.load_samples(path)
    assert back_bits == bits
    assert back.dtype == samples.dtype
    np.testing.assert_array_equal(back, samples)
    again = imageio.load_picture(path)
    np.testing.assert_array_equal(again.rgb, picture.rgb)
    if picture.alpha is not None:
        np.testing.assert_array_equal(again.alpha, picture.alpha)
        assert again.alpha.dtype == picture.alpha.dtype


def test_png_and_tiff_are_readable_by_other_decoders(tmp_path):
    eight = _samples(4, 8)
    imageio.save_picture(imageio.picture_from_samples(eight, 8), tmp_path / "a.png")
    with Image.open(tmp_path / "a.png") as image:
        assert image.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(image), eight)
    grey16 = _samples(1, 16)
    imageio.save_picture(imageio.picture_from_samples(grey16, 16), tmp_path / "g.tif")
    imageio.save_picture(imageio.picture_from_samples(grey16, 16), tmp_path / "g.png")
    for name in ("g.tif", "g.png"):
        with Image.open(tmp_path / name) as image:
            assert image.mode == "I;16"
            np.testing.assert_array_equal(np.asarray(image), grey16[:, :, 0])
    rgb16 = _samples(3, 16)
    imageio.save_picture(imageio.picture_from_samples(rgb16, 16), tmp_path / "c.tif")
    with Image.open(tmp_path / "c.tif") as image:  # Pillow keeps only the high bytes
        np.testing.assert_array_equal(np.asarray(image), rgb16 >> 8)


def test_pillow_written_16bit_grey_png_is_read_as_16bit(tmp_path):
    grey = _samples(1, 16)[:, :, 0]
    Image.fromarray(grey).save(tmp_path / "g.png")
    samples, bits = imageio.load_samples(tmp_path / "g.png")
    assert bits == 16
    np.testing.assert_array_equal(samples[:, :, 0], grey)


def test_grey_picture_is_written_as_grey(tmp_path):
    value = np.linspace(0, 1, 5 * 7, dtype=np.float32).reshape(5, 7, 1)
    picture = Picture(rgb=np.repeat(value, 3, axis=2), bits=16, grey=True)
    imageio.save_picture(picture, tmp_path / "grey.pam")
    image = pam.read_pam(str(tmp_path / "grey.pam"))
    assert (image.channels, image.bits) == (1, 16)
    samples, _ = imageio.load_samples(tmp_path / "grey.pam")
    np.testing.assert_array_equal(samples[:, :, 0], np.rint(value[:, :, 0] * 65535).astype(np.uint16))


def test_values_outside_range_are_clamped_and_nan_is_black(tmp_path):
    rgb = np.array([[[-0.5, 1.5, np.nan]]], dtype=np.float32)
    imageio.save_picture(Picture(rgb=rgb), tmp_path / "c.png")
    samples, _ = imageio.load_samples(tmp_path / "c.png")
    np.testing.assert_array_equal(samples[0, 0], [0, 255, 0])


def test_alpha_of_other_depth_is_rescaled(tmp_path):
    alpha = np.array([[0, 128, 255]], dtype=np.uint8)
    picture = Picture(rgb=np.zeros((1, 3, 3), np.float32), alpha=alpha, bits=16)
    imageio.save_picture(picture, tmp_path / "a.pam")
    samples, bits = imageio.load_samples(tmp_path / "a.pam")
    assert bits == 16
    np.testing.assert_array_equal(samples[0, :, 3], [0, 128 * 257, 65535])


def test_palette_png_becomes_rgb_and_rgba(tmp_path):
    image = Image.new("P", (4, 3))
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((1, 1), 1)
    image.save(tmp_path / "p.png")
    picture = imageio.load_picture(tmp_path / "p.png")
    assert not picture.grey and picture.alpha is None
    np.testing.assert_array_equal(picture.rgb[0, 0], [1, 0, 0])
    np.testing.assert_array_equal(picture.rgb[1, 1], [0, 1, 0])
    image.save(tmp_path / "pt.png", transparency=1)
    picture = imageio.load_picture(tmp_path / "pt.png")
    assert picture.alpha is not None
    assert picture.alpha[1, 1] == 0 and picture.alpha[0, 0] == 255


def test_one_bit_and_colour_key_transparency(tmp_path):
    Image.new("1", (3, 2), 1).save(tmp_path / "b.png")
    picture = imageio.load_picture(tmp_path / "b.png")
    assert picture.grey and picture.bits == 8 and picture.rgb.min() == 1.0
    rgb = Image.new("RGB", (3, 2), (10, 20, 30))
    rgb.putpixel((0, 0), (1, 2, 3))
    rgb.save(tmp_path / "k.png", transparency=(1, 2, 3))
    picture = imageio.load_picture(tmp_path / "k.png")
    np.testing.assert_array_equal(picture.alpha, [[0, 255, 255], [255, 255, 255]])


def test_jpeg_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    picture = imageio.load_picture(tmp_path / "o.jpg")
    assert (picture.width, picture.height) == (20, 40)
    assert picture.bits == 8 and not picture.grey
    assert abs(float(picture.rgb[10, 10, 0]) - 200 / 255) < 0.05


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (5, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    picture = imageio.load_picture(tmp_path / "cmyk.jpg")
    assert picture.rgb.shape == (4, 5, 3)
    assert picture.rgb[..., 0].mean() > 0.8 and picture.rgb[..., 1].mean() < 0.2


def _valid_png_bytes(bits=8):
    pieces = imageio.encode_png(_samples(3, bits, 40, 40), bits)
    return b"".join(pieces)


def _jpeg_bytes():
    buffer = io.BytesIO()
    Image.fromarray(_samples(3, 8, 64, 64)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("name, content", [
    ("text.png", b"this is not an image at all\n"),
    ("empty.png", b""),
    ("truncated8.png", _valid_png_bytes(8)[:200]),
    ("truncated16.png", _valid_png_bytes(16)[:300]),
    ("header-only.png", _valid_png_bytes(16)[:33]),
    ("truncated.jpg", _jpeg_bytes()[:400]),
    ("truncated.pam", b"".join(imageio.encode_pam_samples(_samples(3, 8), 8))[:90]),
    ("bad-header.pam", b"P7\nWIDTH 0\nHEIGHT 3\nDEPTH 3\nMAXVAL 255\nENDHDR\n"),
    ("truncated.tif", b"".join(imageio.encode_tiff(_samples(3, 16, 30, 30), 16))[:500]),
    ("bad-ifd.tif", b"II*\x00\xff\xff\x00\x00"),
])
def test_damaged_files_give_a_plain_message(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        imageio.load_picture(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "is not an image GIMP or this engine can read" in message
    assert "\n" not in message and "Traceback" not in message


def test_missing_file_and_folder_messages(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        imageio.load_picture(tmp_path / "missing.png")
    with pytest.raises(InputError, match="is a folder"):
        imageio.load_picture(tmp_path)


def test_huge_header_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.pam"
    path.write_bytes(b"P7\nWIDTH 100000\nHEIGHT 100000\nDEPTH 3\nMAXVAL 255\nENDHDR\n" + b"\0" * 10)
    with pytest.raises(InputError):
        imageio.load_picture(path)


def test_unsupported_output_format_is_refused(tmp_path):
    picture = Picture(rgb=np.zeros((2, 2, 3), np.float32))
    with pytest.raises(InputError, match=r"\.png, \.tif, \.tiff or \.pam"):
        imageio.save_picture(picture, tmp_path / "out.jpg")
    assert not list(tmp_path.iterdir())
    for name in ("out.PNG", "out.Tiff", "out.pam"):
        assert imageio.output_format(name) in ("png", "tiff", "pam")


def test_check_output_path(tmp_path):
    imageio.check_output_path(tmp_path / "ok.png")
    with pytest.raises(InputError, match="does not exist"):
        imageio.check_output_path(tmp_path / "no" / "such.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        imageio.check_output_path(tmp_path / "dir.png")


def _listing(folder):
    return sorted(entry.name for entry in folder.iterdir())


def test_disk_full_leaves_no_partial_file_and_keeps_old_output(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")
    real_write = os.write
    calls = []

    def full_disk(descriptor, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(descriptor, data[:10])  # a short first write, like a real disk

    monkeypatch.setattr(os, "write", full_disk)
    picture = imageio.picture_from_samples(_samples(3, 16, 64, 64), 16)
    with pytest.raises(InputError, match="the disk is full"):
        imageio.save_picture(picture, target)
    assert _listing(tmp_path) == ["out.png"]
    assert target.read_bytes() == b"previous result"


def test_unwritable_folder_message(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(InputError, match="is not writable; choose another output folder"):
        imageio.save_picture(Picture(rgb=np.zeros((2, 2, 3), np.float32)), tmp_path / "x.png")
    assert _listing(tmp_path) == []


def test_remove_partial_files_stops_writes_in_flight(tmp_path, monkeypatch):
    monkeypatch.setattr(imageio, "_closing", False)
    (tmp_path / "out.pam").write_bytes(b"previous preview")
    removed = []

    def pieces():
        yield b"first part"
        removed.extend(imageio.remove_partial_files())  # the watchdog fires mid-write
        yield b"second part"

    with pytest.raises(Cancelled):
        imageio.write_atomically(tmp_path / "out.pam", pieces())
    assert len(removed) == 1 and removed[0].endswith(".partial")
    assert _listing(tmp_path) == ["out.pam"]
    assert (tmp_path / "out.pam").read_bytes() == b"previous preview"  # no rename after the stop
    with pytest.raises(Cancelled):
        imageio.write_atomically(tmp_path / "later.pam", [b"x"])
    assert _listing(tmp_path) == ["out.pam"]


def test_stop_after_the_last_piece_prevents_the_rename(tmp_path, monkeypatch):
    monkeypatch.setattr(imageio, "_closing", False)

    def pieces():
        yield b"the whole picture"
        imageio.remove_partial_files()  # the stop lands between the last write and the rename

    with pytest.raises(Cancelled):
        imageio.write_atomically(tmp_path / "preview.pam", pieces())
    assert _listing(tmp_path) == []


def _stop_from_another_thread(folder):
    """Start the watchdog's clean-up in a thread; it records the folder when it returns."""
    seen = {}

    def stop():
        seen["removed"] = imageio.remove_partial_files()
        seen["listing"] = _listing(folder)

    thread = threading.Thread(target=stop)
    thread.start()
    thread.join(0.2)  # returns at once unless the write holds the lock
    return thread, seen


@pytest.mark.parametrize("moment", ["create", "rename"])
def test_nothing_appears_after_remove_partial_files_returns(tmp_path, monkeypatch, moment):
    # The watchdog thread stops the process with os._exit right after the clean-up, so
    # whatever the folder holds when remove_partial_files() returns is what stays: a stop
    # that lands while the temporary is being created or renamed must not be outrun.
    monkeypatch.setattr(imageio, "_closing", False)
    (tmp_path / "preview.pam").write_bytes(b"previous preview")
    real = {"create": os.open, "rename": os.replace}[moment]
    threads = []

    def racing(*args, **kwargs):
        if not threads:
            threads.append(_stop_from_another_thread(tmp_path))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "open" if moment == "create" else "replace", racing)
    try:
        imageio.write_atomically(tmp_path / "preview.pam", [b"new preview"])
    except Cancelled:
        pass
    thread, seen = threads[0]
    thread.join(5)
    assert not thread.is_alive()
    final = _listing(tmp_path)
    assert seen["listing"] == final
    assert not [name for name in final if name.endswith(".partial")]
    if moment == "create":  # the stop came first: the old preview stays, the temporary went
        assert (tmp_path / "preview.pam").read_bytes() == b"previous preview"
        assert len(seen["removed"]) == 1


def test_load_mask(tmp_path):
    grey = np.array([[0, 255], [128, 64]], dtype=np.uint8)
    imageio.save_picture(imageio.picture_from_samples(grey, 8), tmp_path / "m.pam")
    mask = imageio.load_mask(tmp_path / "m.pam", 2, 2)
    assert mask.dtype == np.float32 and mask.shape == (2, 2)
    np.testing.assert_allclose(mask, grey / 255.0, atol=1e-6)
    with_alpha = np.stack([np.full((2, 2), 255, np.uint8), np.array([[255, 0], [255, 0]], np.uint8)], axis=2)
    imageio.save_picture(imageio.picture_from_samples(with_alpha, 8), tmp_path / "a.png")
    np.testing.assert_allclose(imageio.load_mask(tmp_path / "a.png", 2, 2), [[1, 0], [1, 0]])
    with pytest.raises(InputError, match="must be the same size"):
        imageio.load_mask(tmp_path / "m.pam", 3, 2)


@pytest.mark.parametrize("bits", [8, 16])
def test_png_written_in_many_blocks_decodes_exactly(tmp_path, monkeypatch, bits):
    monkeypatch.setattr(imageio, "_WRITE_CHUNK", 200)  # a few rows per block
    samples = _samples(3, bits, height=37, width=21)
    imageio.save_picture(imageio.picture_from_samples(samples, bits), tmp_path / "blocks.png")
    back, back_bits = imageio.load_samples(tmp_path / "blocks.png")
    assert back_bits == bits
    np.testing.assert_array_equal(back, samples)
    if bits == 8:  # and an independent decoder agrees
        with Image.open(tmp_path / "blocks.png") as image:
            np.testing.assert_array_equal(np.asarray(image), samples)


def test_float_tiff_becomes_16bit(tmp_path):
    values = np.array([[0.0, 0.25], [1.0, 2.0]], dtype=np.float32)  # 2.0: out of range, clamped
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    samples, bits = imageio.load_samples(tmp_path / "f.tif")
    assert bits == 16
    np.testing.assert_array_equal(samples[:, :, 0], [[0, 16384], [65535, 65535]])
