"""Validate untrusted image bytes and turn them into a grey numpy array.

The header is inspected before any pixel is decoded so that a small file that
claims huge dimensions (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

Gray = npt.NDArray[np.uint8]

try:
    # iPhones send HEIC; pillow-heif teaches Pillow to read it (the same limits apply).
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - a dependency, but optional for scanning
    pass


class ImageError(ValueError):
    """The bytes cannot be scanned; the message is meant for a human."""


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def _megapixels(n: int) -> str:
    return f"{n / 1_000_000:g} megapixels"


@contextlib.contextmanager
def opened(image: bytes, *, max_bytes: int, max_pixels: int) -> Iterator[Image.Image]:
    """The image, opened lazily after its size and header passed the limits; any decoding
    failure inside the block (here or in the caller's code) becomes an ImageError.

    Shared by the scanner (`load_gray`) and the proof photos (ocr/photo.py): one set of limits.
    """
    if not isinstance(image, (bytes, bytearray, memoryview)):
        raise ImageError("not an image: expected bytes")
    data = bytes(image)
    if not data:
        raise ImageError("image is empty")
    if len(data) > max_bytes:
        raise ImageError(f"image exceeds {_megabytes(max_bytes)}")
    try:
        with warnings.catch_warnings():
            # PIL warns (rather than raises) between 1x and 2x MAX_IMAGE_PIXELS;
            # our own limit below is the one that matters.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width <= 0 or height <= 0:
                    raise ImageError("image is empty")
                if width * height > max_pixels:
                    raise ImageError(f"image exceeds {_megapixels(max_pixels)}")
                if probe.format == "JPEG" and data.rfind(b"\xff\xd9") < 0:
                    raise ImageError("image is truncated or corrupt")
                yield probe
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image exceeds {_megapixels(max_pixels)}") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not an image") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("image is truncated or corrupt") from exc


def load_gray(image: bytes, *, max_bytes: int, max_pixels: int) -> Gray:
    """Decode ``image`` to an 8-bit grey array or raise ImageError."""
    with opened(image, max_bytes=max_bytes, max_pixels=max_pixels) as probe:
        gray = _decode(bytes(image), probe)
    if gray.size == 0:
        raise ImageError("image is empty")
    return gray


def _decode(data: bytes, probe: Image.Image) -> Gray:
    # OpenCV decodes PNG/JPEG about twice as fast as PIL; PIL covers the rest
    # (GIF, WebP without codec, ...). OpenCV silently returns a partial image
    # for some truncated files, so PIL's verify() guards PNGs first.
    if probe.format == "PNG":
        with Image.open(io.BytesIO(data)) as check:
            check.verify()
    width, height = probe.size
    buf = np.frombuffer(data, dtype=np.uint8)
    decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    # EXIF orientation may swap the axes, hence the pixel-count comparison.
    if decoded is not None and decoded.ndim == 2 and decoded.size == width * height:
        return np.ascontiguousarray(decoded, dtype=np.uint8)
    probe.load()
    pil_gray = probe.convert("L")
    return np.asarray(pil_gray, dtype=np.uint8).copy()
