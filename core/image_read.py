"""Reading pictures: PNG, TIFF, JPEG, PAM and whatever else Pillow reads, 8 and 16 bits.

Each format goes to the maintained decoder that keeps its full depth: PAM (the plug-in's
exchange format) to protocol.pam, 16-bit PNG to libpng through torchvision, 16-bit TIFF
to tifffile, and the rest to Pillow, which reads 16-bit RGB PNG and TIFF only as 8-bit.
Sizes are checked from the header, before any pixels are decoded.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib

import numpy as np

from core.errors import InputError
from core.picture import Picture
from protocol import pam
from protocol.raster import LUMA_WEIGHTS, MAX_PIXELS

# 16384 x 16384: the largest working size the options allow.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SILENT = logging.NullHandler()


def _not_readable(path: object, reason: str) -> InputError:
    return InputError("%s is not an image GIMP or this engine can read: %s." % (path, reason))


def _check_size(path: object, width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise _not_readable(path, "it has no pixels (%dx%d)" % (width, height))
    if width * height > MAX_PIXELS:
        raise InputError("%s is too large (%dx%d pixels); the engine takes at most %d megapixels." % (
            path, width, height, MAX_PIXELS // 1_000_000))



def picture_from_samples(samples: np.ndarray, bits: int) -> Picture:
    """Picture from height x width x channels uint8/uint16 samples (1-4 channels)."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    channels = samples.shape[2]
    if channels not in (1, 2, 3, 4) or bits not in (8, 16):
        raise ValueError("need 1-4 channels of 8 or 16 bits, not %d of %d" % (channels, bits))
    maxval = float((1 << bits) - 1)
    colour = 1 if channels in (1, 2) else 3
    rgb = samples[:, :, :colour].astype(np.float32) / np.float32(maxval)
    if colour == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    alpha = None
    if channels in (2, 4):
        alpha = np.ascontiguousarray(samples[:, :, -1]).astype(np.uint8 if bits == 8 else np.uint16)
    return Picture(rgb=np.ascontiguousarray(rgb, dtype=np.float32), alpha=alpha, bits=bits,
                   grey=colour == 1)



def load_picture(path: str | os.PathLike[str]) -> Picture:
    """Read a PNG, TIFF, JPEG, PAM (or other Pillow-readable) file into a Picture.

    Raises InputError with a plain message for missing, unreadable, damaged or
    unsupported files.
    """
    samples, bits = load_samples(path)
    return picture_from_samples(samples, bits)


def picture_from_bytes(data: bytes, name: str) -> Picture:
    """As load_picture, for a file already in memory; name stands for it in messages."""
    if not data:
        raise _not_readable(name, "the file is empty")
    samples, bits = _decode(name, bytes(data))
    return picture_from_samples(np.ascontiguousarray(samples if samples.ndim == 3 else samples[:, :, None]),
                                bits)


def load_samples(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """The file's samples (height x width x 1-4, uint8 or uint16) and their bit depth."""
    samples, bits = _decode(path, _read_bytes(path))
    if samples.ndim == 2:
        samples = samples[:, :, None]
    return np.ascontiguousarray(samples), bits


def _decode(path: str | os.PathLike[str], data: bytes) -> tuple[np.ndarray, int]:
    try:
        if data.startswith(b"P7\n"):
            return _decode_pam(path, data)
        if data.startswith(_PNG_SIGNATURE) and len(data) > 24 and data[24] == 16:
            decoded = _decode_png16(path, data)
            if decoded is not None:
                return decoded
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            decoded = _decode_tiff16(path, data)
            if decoded is not None:
                return decoded
        return _decode_with_pillow(path, data)
    except InputError:
        raise
    except MemoryError:
        raise InputError("%s is too large to read into memory." % path)
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error,
            RuntimeError, TypeError, zlib.error) as error:
        raise _not_readable(path, "the file is damaged or truncated (%s)" % _short(error))


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[-1][:160] if text else type(error).__name__


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise InputError("%s does not exist." % path)
    except IsADirectoryError:
        raise InputError("%s is a folder, not an image file." % path)
    except PermissionError:
        raise InputError("Cannot read %s: permission denied." % path)
    except OSError as error:
        raise InputError("Cannot read %s: %s." % (path, error.strerror or error))
    except ValueError:  # a NUL byte in the name: no file can have it
        raise InputError("Cannot read %r: that is not a valid file name." % (path,))
    if not data:
        raise _not_readable(path, "the file is empty")
    return data


def _decode_pam(path: object, data: bytes) -> tuple[np.ndarray, int]:
    try:
        image = pam.decode_pam(data)
    except pam.PamError as error:
        raise _not_readable(path, str(error).rstrip("."))
    _check_size(path, image.width, image.height)
    dtype = np.uint8 if image.bits == 8 else np.dtype(">u2")
    samples = np.frombuffer(image.data, dtype=dtype).reshape(image.height, image.width, image.channels)
    return samples.astype(np.uint8 if image.bits == 8 else np.uint16), image.bits


def _decode_png16(path: object, data: bytes) -> tuple[np.ndarray, int] | None:
    # libpng (through torchvision, a pinned dependency), not pypng: pypng decodes in pure
    # Python, measured 3.4 s for a 1024x1024 RGBA file that libpng reads in a hundredth.
    width, height = struct.unpack(">II", data[16:24])
    _check_size(path, width, height)
    import warnings

    with warnings.catch_warnings():
        # torchvision 0.29 marks its image codecs deprecated (in favour of torchcodec);
        # the version is pinned, and libpng's 16-bit decoding is what is needed here.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import torch
            from torchvision.io import ImageReadMode, decode_png
        except ImportError:  # Pillow still reads 16-bit grey; RGB comes back as 8-bit.
            return None
        tensor = decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8),
                            mode=ImageReadMode.UNCHANGED)
    samples = tensor.permute(1, 2, 0).contiguous()
    if samples.dtype == torch.uint16:
        return samples.numpy().astype(np.uint16), 16
    return samples.numpy().astype(np.uint8), 8


def _decode_with_pillow(path: object, data: bytes) -> tuple[np.ndarray, int]:
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_size(path, image.width, image.height)
            image.load()
    except UnidentifiedImageError:
        raise _not_readable(path, "unknown file format (PNG, JPEG, TIFF and PAM are read)")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputError("%s is too large (%s pixels) to read safely; scale it down to at most %d "
                         "megapixels first." % (path, _pixel_count(data, error),
                                                (Image.MAX_IMAGE_PIXELS or MAX_PIXELS) // 1_000_000))
    transposed = ImageOps.exif_transpose(image)
    if transposed is not None:
        image = transposed
    return _samples_from_pillow(image)


def _pixel_count(data: bytes, error: BaseException) -> str:
    import re
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return "%dx%d" % image.size
    except Exception:  # only for a message: Pillow refuses to open far too large images at all
        found = re.search(r"\((\d+) pixels\)", str(error))
        return "%.0f million" % (int(found.group(1)) / 1e6) if found else "too many"


def _samples_from_pillow(image) -> tuple[np.ndarray, int]:  # image: PIL.Image.Image
    mode = image.mode
    transparency = image.info.get("transparency")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16), 16
    if mode == "I":
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16), 16
    if mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0)
        return np.rint(np.clip(values, 0.0, 1.0) * 65535).astype(np.uint16), 16
    if mode == "1":
        image, mode = image.convert("L"), "L"
    if mode == "L":
        grey = np.asarray(image)
        if isinstance(transparency, int):  # tRNS colour key
            alpha = np.where(grey == transparency, 0, 255).astype(np.uint8)
            return np.stack([grey, alpha], axis=2), 8
        return grey, 8
    if mode in ("LA", "La"):
        return np.asarray(image.convert("LA") if mode == "La" else image), 8
    if mode == "RGB" and isinstance(transparency, tuple):
        rgb = np.asarray(image)
        alpha = np.where((rgb == np.array(transparency[:3], dtype=rgb.dtype)).all(axis=2), 0, 255)
        return np.concatenate([rgb, alpha[:, :, None].astype(np.uint8)], axis=2), 8
    if mode == "RGB":
        return np.asarray(image), 8
    if mode == "RGBA":
        return np.asarray(image), 8
    has_alpha = "A" in mode or "a" in mode or transparency is not None
    # Palette, CMYK, YCbCr, premultiplied and the rest: convert to plain RGB(A).
    return np.asarray(image.convert("RGBA" if has_alpha else "RGB")), 8


def _decode_tiff16(path: object, data: bytes) -> tuple[np.ndarray, int] | None:
    """Uncompressed, interleaved 16-bit grey/RGB(A) TIFF, read with tifffile.

    Returns None for anything else, which Pillow then reads (as it always has).
    """
    import tifffile

    # tifffile logs what it finds wrong with a file; the caller gets one plain error instead.
    logging.getLogger("tifffile").addHandler(_SILENT)
    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        try:
            page = tiff.pages.first
        except IndexError:
            raise ValueError("it has no image directory") from None
        channels = page.samplesperpixel
        photometric = int(page.photometric)
        if (page.bitspersample != 16 or page.compression != 1 or page.planarconfig != 1
                or int(page.sampleformat) != 1 or photometric not in (0, 1, 2)
                or channels not in ((1, 2) if photometric in (0, 1) else (3, 4))):
            return None
        _check_size(path, page.imagewidth, page.imagelength)
        # tifffile fills strips that lie past the end of the file with zeros; a cut-short
        # file must be an error, not a picture with a black bottom.
        if any(offset + size > len(data) for offset, size in zip(page.dataoffsets, page.databytecounts)):
            raise ValueError("the TIFF image data is cut short")
        samples = page.asarray().reshape(page.imagelength, page.imagewidth, channels).astype(np.uint16)
        extra = tuple(int(kind) for kind in page.extrasamples)
    if photometric == 0:  # WhiteIsZero
        samples[:, :, 0] = 65535 - samples[:, :, 0]
    if channels in (2, 4) and extra[:1] == (1,):  # premultiplied alpha: undo it
        alpha = samples[:, :, -1:].astype(np.float64)
        colour = samples[:, :, :-1] * (65535.0 / np.maximum(alpha, 1.0))
        samples[:, :, :-1] = np.rint(np.clip(np.where(alpha > 0, colour, 0.0), 0, 65535))
    return samples, 16


def load_mask(path: str | os.PathLike[str], width: int, height: int) -> np.ndarray:
    """A mask image as float32 height x width in 0..1 (1 = the content may change there)."""
    picture = load_picture(path)
    if (picture.width, picture.height) != (width, height):
        raise InputError("The mask %s is %dx%d but the content image is %dx%d; they must be the same "
                         "size." % (path, picture.width, picture.height, width, height))
    return mask_from_picture(picture)


def load_start_picture(path: str | os.PathLike[str], width: int, height: int) -> Picture:
    """The picture a run starts from (an animation's previous frame): the content's size."""
    picture = load_picture(path)
    if (picture.width, picture.height) != (width, height):
        raise InputError("The starting image %s is %dx%d but the content image is %dx%d; they must be "
                         "the same size." % (path, picture.width, picture.height, width, height))
    return picture


def mask_from_picture(picture: Picture) -> np.ndarray:
    """Grey (or the luma of colour) times alpha, so transparent parts are protected."""
    rgb = picture.rgb
    if picture.grey:
        mask = rgb[:, :, 0].astype(np.float32)
    else:
        mask = (rgb.astype(np.float64) @ np.array(LUMA_WEIGHTS)).astype(np.float32)
    if picture.alpha is not None:
        mask = mask * (picture.alpha.astype(np.float32) / np.float32((1 << picture.bits) - 1))
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def check_paintable(picture: Picture, path: object, role: str = "content") -> None:
    """InputError when a picture is fully transparent: nothing to paint, or no style to give.

    A fully transparent layer stores arbitrary colours (often black) under alpha 0; painting
    it would spend minutes on an invisible result, and as a style it would teach a flat colour.
    """
    if picture.alpha is not None and picture.alpha.size and not picture.alpha.any():
        if role == "content":
            raise InputError("%s is fully transparent: there is nothing to paint." % path)
        raise InputError("%s is fully transparent: its colours are hidden, so it has no style to "
                         "give. Choose a visible style image." % path)
