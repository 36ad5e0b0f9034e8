"""Reading and writing pictures: PNG, TIFF, JPEG (read) and PAM, 8 and 16 bits, grey and alpha.

Why not Pillow alone: it reads 16-bit RGB PNG as 8-bit and cannot write 16-bit RGB PNG or
TIFF. So 16-bit PNG is decoded with torchvision (libpng), PNG and TIFF are written by the
small encoders below, uncompressed 16-bit TIFF is read here too, and Pillow handles the
rest. PAM is the plug-in's exchange format (protocol.pam).

Every write is atomic: a temporary file in the same folder, then a rename, so the output
path never holds a partial file. `remove_partial_files` deletes temporaries in flight;
the worker's watchdog calls it before it stops the process.
"""

from __future__ import annotations

import errno
import os
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from core.errors import Cancelled, InputError
from core.picture import Picture
from protocol import pam

SAVE_FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".pam": "pam"}
# 16384 x 16384: the largest working size the options allow.
MAX_PIXELS = 16384 * 16384
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WRITE_CHUNK = 1 << 20

# --------------------------------------------------------------------------- errors


def _not_readable(path: object, reason: str) -> InputError:
    return InputError("%s is not an image GIMP or this engine can read: %s." % (path, reason))


def _check_size(path: object, width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise _not_readable(path, "it has no pixels (%dx%d)" % (width, height))
    if width * height > MAX_PIXELS:
        raise InputError("%s is too large (%dx%d pixels); the engine takes at most %d megapixels." % (
            path, width, height, MAX_PIXELS // 1_000_000))


# --------------------------------------------------------------------------- samples <-> Picture


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


def samples_from_picture(picture: Picture) -> np.ndarray:
    """height x width x channels samples (uint8 or uint16) to write for a Picture."""
    if picture.bits not in (8, 16):
        raise ValueError("pictures are written with 8 or 16 bits, not %r" % picture.bits)
    rgb = np.asarray(picture.rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("picture.rgb must be height x width x 3, not %s" % (rgb.shape,))
    maxval = (1 << picture.bits) - 1
    dtype = np.uint8 if picture.bits == 8 else np.uint16
    if picture.grey and (rgb[:, :, :1] == rgb).all():
        colour = rgb[:, :, :1]  # exact: a grey input comes back sample for sample
    elif picture.grey:
        colour = (rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))[:, :, None]
    else:
        colour = rgb
    colour = np.nan_to_num(colour, nan=0.0)
    planes = [np.rint(np.clip(colour, 0.0, 1.0) * maxval).astype(dtype)]
    if picture.alpha is not None:
        alpha = np.asarray(picture.alpha)
        if alpha.shape != rgb.shape[:2]:
            raise ValueError("alpha is %s but the picture is %s" % (alpha.shape, rgb.shape[:2]))
        planes.append(_rescale_alpha(alpha, picture.bits)[:, :, None])
    return np.ascontiguousarray(np.concatenate(planes, axis=2))


def _rescale_alpha(alpha: np.ndarray, bits: int) -> np.ndarray:
    if bits == 8:
        if alpha.dtype == np.uint8:
            return alpha
        if alpha.dtype == np.uint16:
            return np.rint(alpha / 257.0).astype(np.uint8)
        return np.rint(np.clip(alpha, 0, 1) * 255).astype(np.uint8)
    if alpha.dtype == np.uint16:
        return alpha
    if alpha.dtype == np.uint8:
        return alpha.astype(np.uint16) * 257
    return np.rint(np.clip(alpha, 0, 1) * 65535).astype(np.uint16)


# --------------------------------------------------------------------------- reading


def load_picture(path: str | os.PathLike[str]) -> Picture:
    """Read a PNG, TIFF, JPEG, PAM (or other Pillow-readable) file into a Picture.

    Raises InputError with a plain message for missing, unreadable, damaged or
    unsupported files.
    """
    samples, bits = load_samples(path)
    return picture_from_samples(samples, bits)


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
            decoded = _decode_plain_tiff(path, data)
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
    import io
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
    import io
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


# Baseline TIFF tags read by _decode_plain_tiff.
_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q"}


def _decode_plain_tiff(path: object, data: bytes) -> tuple[np.ndarray, int] | None:
    """Uncompressed, interleaved 16-bit grey/RGB(A) TIFF (what this module writes).

    Returns None for anything else, which Pillow then reads.
    """
    order = "<" if data[:2] == b"II" else ">"
    (first_ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[first_ifd:first_ifd + 2])
    tags: dict[int, tuple[int, ...]] = {}
    for index in range(count):
        start = first_ifd + 2 + 12 * index
        tag, kind, number, value = struct.unpack(order + "HHI4s", data[start:start + 12])
        if kind not in _TIFF_TYPES:
            continue
        size = struct.calcsize(_TIFF_TYPES[kind]) * number
        if size > 4:
            (offset,) = struct.unpack(order + "I", value)
            raw = data[offset:offset + size]
        else:
            raw = value[:size]
        if len(raw) != size:
            raise ValueError("TIFF tag %d points past the end of the file" % tag)
        tags[tag] = struct.unpack(order + _TIFF_TYPES[kind] * number, raw)
    bits = tags.get(258, (1,))
    channels = tags.get(277, (1,))[0]
    photometric = tags.get(262, (-1,))[0]
    if (set(bits) != {16} or tags.get(259, (1,))[0] != 1 or tags.get(284, (1,))[0] != 1
            or photometric not in (0, 1, 2) or tags.get(339, (1,))[0] != 1
            or channels not in ((1, 2) if photometric in (0, 1) else (3, 4))):
        return None
    width, height = tags[256][0], tags[257][0]
    _check_size(path, width, height)
    rows_per_strip = min(tags.get(278, (height,))[0], height)
    offsets, counts = tags[273], tags[279]
    if len(offsets) != len(counts) or len(offsets) != -(-height // rows_per_strip):
        raise ValueError("TIFF strips do not cover the image")
    row_bytes = width * channels * 2
    pieces = []
    for index, (offset, size) in enumerate(zip(offsets, counts)):
        rows = min(rows_per_strip, height - index * rows_per_strip)
        piece = data[offset:offset + rows * row_bytes]
        if len(piece) != rows * row_bytes or size < rows * row_bytes:
            raise ValueError("the TIFF image data is cut short")
        pieces.append(piece)
    samples = np.frombuffer(b"".join(pieces), dtype=np.dtype(order + "u2"))
    samples = samples.reshape(height, width, channels).astype(np.uint16)
    if photometric == 0:  # WhiteIsZero
        samples[:, :, 0] = 65535 - samples[:, :, 0]
    extra = tags.get(338, (2,))
    if channels in (2, 4) and extra[0] == 1:  # premultiplied alpha: undo it
        alpha = samples[:, :, -1:].astype(np.float64)
        colour = samples[:, :, :-1] * (65535.0 / np.maximum(alpha, 1.0))
        samples[:, :, :-1] = np.rint(np.clip(np.where(alpha > 0, colour, 0.0), 0, 65535))
    return samples, 16


def load_mask(path: str | os.PathLike[str], width: int, height: int) -> np.ndarray:
    """A mask image as float32 height x width in 0..1 (1 = the content may change there).

    Grey (or the luminance of colour) times alpha, so transparent parts are protected.
    """
    picture = load_picture(path)
    if (picture.width, picture.height) != (width, height):
        raise InputError("The mask %s is %dx%d but the content image is %dx%d; they must be the same "
                         "size." % (path, picture.width, picture.height, width, height))
    rgb = picture.rgb
    if picture.grey:
        mask = rgb[:, :, 0].astype(np.float32)
    else:
        mask = (rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).astype(np.float32)
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


# --------------------------------------------------------------------------- writing


def output_format(path: str | os.PathLike[str]) -> str:
    """'png', 'tiff' or 'pam' from the file name; InputError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in SAVE_FORMATS:
        raise InputError("Cannot write %s: the output must be a .png, .tif, .tiff or .pam file%s." % (
            path, "" if not suffix else " (not %s)" % suffix))
    return SAVE_FORMATS[suffix]


def check_output_path(path: str | os.PathLike[str]) -> None:
    """Fail early (before any work) if path cannot be written: format, folder, permissions."""
    output_format(path)
    if "\0" in os.fspath(path):
        raise InputError("Cannot write %r: that is not a valid file name." % (path,))
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError("Cannot write %s: the folder %s does not exist." % (path, folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError("Cannot write %s: the folder %s is not writable; choose another output folder." % (
            path, folder))
    if os.path.isdir(path):
        raise InputError("Cannot write %s: it is a folder." % path)


def save_picture(picture: Picture, path: str | os.PathLike[str]) -> None:
    """Write picture atomically as PNG, TIFF or PAM (chosen by the file name)."""
    kind = output_format(path)
    samples = samples_from_picture(picture)
    bits = 8 if samples.dtype == np.uint8 else 16
    if kind == "png":
        encoded: Iterable[bytes] = encode_png(samples, bits)
    elif kind == "tiff":
        encoded = encode_tiff(samples, bits)
    else:
        encoded = encode_pam_samples(samples, bits)
    write_atomically(path, encoded)


def encode_pam_samples(samples: np.ndarray, bits: int) -> list[bytes]:
    height, width, channels = samples.shape
    body = samples.astype(">u2").tobytes() if bits == 16 else samples.astype(np.uint8).tobytes()
    return [pam.encode_pam(pam.PamImage(width, height, channels, bits, body))]


def _paeth_filtered(rows: np.ndarray, bpp: int, above: np.ndarray | None = None) -> np.ndarray:
    """PNG filter type 4 (Paeth) for a block of rows (height x row_bytes uint8) at once.

    above: the raw row before the block (None for the first block: zeros).
    """
    raw = rows.astype(np.int16)
    up = np.zeros_like(raw)
    up[1:] = raw[:-1]
    if above is not None:
        up[0] = above
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    up_left = np.zeros_like(raw)
    up_left[:, bpp:] = up[:, :-bpp]
    estimate = left + up - up_left
    distance_left = np.abs(estimate - left)
    distance_up = np.abs(estimate - up)
    distance_up_left = np.abs(estimate - up_left)
    predictor = np.where((distance_left <= distance_up) & (distance_left <= distance_up_left), left,
                         np.where(distance_up <= distance_up_left, up, up_left))
    return ((raw - predictor) & 0xFF).astype(np.uint8)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    checksum = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", checksum)


def encode_png(samples: np.ndarray, bits: int) -> Iterator[bytes]:
    """PNG file (as byte pieces) for height x width x 1-4 samples of 8 or 16 bits.

    Filtered and compressed a block of rows at a time, so a large layer needs only a
    few megabytes beyond its samples.
    """
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    bpp = channels * bits // 8
    row_bytes = width * bpp
    header = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    yield _PNG_SIGNATURE + _png_chunk(b"IHDR", header)
    compressor = zlib.compressobj(6)
    block = max(1, _WRITE_CHUNK // max(row_bytes, 1))
    above = None
    for top in range(0, height, block):
        part = samples[top:top + block]
        ordered = part.astype(">u2") if bits == 16 else part.astype(np.uint8)
        rows = np.frombuffer(ordered.tobytes(), dtype=np.uint8).reshape(len(part), row_bytes)
        filtered = _paeth_filtered(rows, bpp, above)
        above = rows[-1]
        lines = np.concatenate([np.full((len(part), 1), 4, dtype=np.uint8), filtered], axis=1)
        compressed = compressor.compress(lines.tobytes())
        if compressed:
            yield _png_chunk(b"IDAT", compressed)
    yield _png_chunk(b"IDAT", compressor.flush()) + _png_chunk(b"IEND", b"")


def encode_tiff(samples: np.ndarray, bits: int) -> list[bytes]:
    """Uncompressed baseline TIFF (little-endian, interleaved strips) as byte pieces."""
    height, width, channels = samples.shape
    data = samples.astype("<u2").tobytes() if bits == 16 else samples.astype(np.uint8).tobytes()
    row_bytes = width * channels * bits // 8
    rows_per_strip = max(1, min(height, (1 << 16) // max(row_bytes, 1)))
    strips = -(-height // rows_per_strip)
    strip_offsets = [8 + index * rows_per_strip * row_bytes for index in range(strips)]
    strip_counts = [min(rows_per_strip, height - index * rows_per_strip) * row_bytes
                    for index in range(strips)]
    entries = [
        (256, 4, [width]),
        (257, 4, [height]),
        (258, 3, [bits] * channels),
        (259, 3, [1]),  # no compression
        (262, 3, [1 if channels <= 2 else 2]),  # BlackIsZero or RGB
        (273, 4, strip_offsets),
        (277, 3, [channels]),
        (278, 4, [rows_per_strip]),
        (279, 4, strip_counts),
        (282, 5, [72, 1]),
        (283, 5, [72, 1]),
        (284, 3, [1]),  # interleaved
        (296, 3, [2]),  # inches
    ]
    if channels in (2, 4):
        entries.append((338, 3, [2]))  # unassociated (straight) alpha
    ifd_offset = 8 + len(data)
    ifd_offset += ifd_offset % 2  # IFDs start on a word boundary
    extra_offset = ifd_offset + 2 + 12 * len(entries) + 4
    ifd = [struct.pack("<H", len(entries))]
    extra = []
    for tag, kind, values in entries:
        fmt = {3: "H", 4: "I", 5: "I"}[kind]
        count = len(values) // 2 if kind == 5 else len(values)
        packed = struct.pack("<" + fmt * len(values), *values)
        if len(packed) <= 4:
            ifd.append(struct.pack("<HHI", tag, kind, count) + packed.ljust(4, b"\x00"))
        else:
            ifd.append(struct.pack("<HHII", tag, kind, count, extra_offset))
            extra.append(packed)
            extra_offset += len(packed)
    ifd.append(struct.pack("<I", 0))
    padding = b"\x00" * (ifd_offset - 8 - len(data))
    return [b"II*\x00" + struct.pack("<I", ifd_offset), data, padding, b"".join(ifd), b"".join(extra)]


# --------------------------------------------------------------------------- atomic writes

_partial_lock = threading.Lock()
_partial_files: set[str] = set()
_closing = False


def _write_failure(path: object, error: OSError) -> InputError:
    folder = os.path.dirname(os.path.abspath(path))
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = "the disk is full; free some space or choose another folder"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "the folder %s is not writable; choose another output folder" % folder
    elif error.errno == errno.ENOENT:
        reason = "the folder %s does not exist" % folder
    elif error.errno == errno.EISDIR:
        reason = "it is a folder"
    else:
        reason = error.strerror or str(error)
    return InputError("Cannot write %s: %s." % (path, reason))


def write_atomically(path: str | os.PathLike[str], pieces: Iterable[bytes]) -> None:
    """Write the pieces to a temporary file beside path, then rename it to path.

    The temporary is created, and later renamed into place, while holding the lock and only
    if the process is not stopping: once remove_partial_files() has returned, no temporary
    can appear and no rename can land (the stopping thread ends the process with os._exit,
    so this function's own clean-up may never run).
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, ".%s.%d.%s.partial" % (name, os.getpid(), os.urandom(4).hex()))
    with _partial_lock:
        if _closing:
            raise Cancelled("The engine is stopping; nothing was written.")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                                 0o666)
        except OSError as error:
            raise _write_failure(path, error)
        _partial_files.add(temporary)
    try:
        try:
            try:
                for piece in pieces:
                    view = memoryview(piece)
                    while len(view):
                        written = os.write(descriptor, view[:_WRITE_CHUNK])
                        view = view[written:]
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            with _partial_lock:
                if _closing:  # the temporary is gone (or going): the stop wins
                    raise Cancelled("The engine is stopping; nothing was written.")
                os.replace(temporary, path)
                _partial_files.discard(temporary)
        except OSError as error:
            raise _write_failure(path, error)
    finally:
        with _partial_lock:
            _partial_files.discard(temporary)
            # Also after a stop: where an open file cannot be deleted (Windows), the
            # stopping thread may have left it, and its random name is never reused.
            if os.path.lexists(temporary):
                try:
                    os.remove(temporary)
                except OSError:
                    pass


def remove_partial_files() -> list[str]:
    """Delete temporaries of writes in flight and refuse new writes (the process is stopping)."""
    global _closing
    removed = []
    with _partial_lock:
        _closing = True
        for temporary in sorted(_partial_files):
            try:
                os.remove(temporary)
                removed.append(temporary)
            except OSError:
                pass
        _partial_files.clear()
    return removed
