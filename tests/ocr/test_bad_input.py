"""Bytes that are not a usable image fail fast with a clear ImageError."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from ocr import ImageError, scan

from .conftest import Photo


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` grey pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def small_png(width: int = 64, height: int = 48) -> bytes:
    img = np.full((height, width), 255, dtype=np.uint8)
    return cv2.imencode(".png", img)[1].tobytes()


def raises_fast(fn: Callable[[], object], match: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ImageError, match=match):
        fn()
    assert time.perf_counter() - started < 0.5


def test_empty_bytes() -> None:
    raises_fast(lambda: scan(b""), "image is empty")


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is plain text" * 20,
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"0" * 500,
        bytes(range(256)) * 4,
    ],
)
def test_not_an_image(data: bytes) -> None:
    raises_fast(lambda: scan(data), "not an image")


def test_not_bytes() -> None:
    raises_fast(lambda: scan("photo.png"), "not an image")  # type: ignore[arg-type]


def test_truncated_png(photo: dict[str, Photo]) -> None:
    data = photo["upca-1/2.png"].data
    raises_fast(lambda: scan(data[: len(data) // 2]), "truncated or corrupt")


def test_png_cut_inside_the_header() -> None:
    raises_fast(lambda: scan(small_png()[:20]), "truncated or corrupt|not an image")


def test_corrupted_png_data(photo: dict[str, Photo]) -> None:
    data = bytearray(photo["upca-1/2.png"].data)
    data[200:260] = b"\x00" * 60  # inside the first IDAT chunk: CRC no longer matches
    raises_fast(lambda: scan(bytes(data)), "truncated or corrupt")


def test_truncated_jpeg(photo: dict[str, Photo]) -> None:
    gray = cv2.imdecode(np.frombuffer(photo["upca-1/2.png"].data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert gray is not None
    jpeg = cv2.imencode(".jpg", gray)[1].tobytes()
    assert scan(jpeg).barcode == "036602301467"  # the untruncated JPEG is fine
    raises_fast(lambda: scan(jpeg[: len(jpeg) * 2 // 3]), "truncated or corrupt")


def test_too_many_bytes_is_refused_before_parsing() -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * (15 * 1024 * 1024)
    raises_fast(lambda: scan(data), "exceeds 15 MB")


def test_byte_limit_is_configurable() -> None:
    data = small_png()
    raises_fast(lambda: scan(data, max_bytes=len(data) - 1), "exceeds")
    assert scan(data, max_bytes=len(data)).barcode is None


def test_decompression_bomb_header() -> None:
    bomb = png_claiming(10_000, 10_000)
    assert len(bomb) < 2_000
    raises_fast(lambda: scan(bomb), "exceeds 40 megapixels")


def test_header_beyond_pils_own_bomb_limit() -> None:
    # 200 megapixels: PIL itself would refuse this one as a bomb.
    raises_fast(lambda: scan(png_claiming(20_000, 10_000)), "exceeds 40 megapixels")


def test_pixel_limit_is_configurable() -> None:
    data = small_png(100, 100)
    raises_fast(lambda: scan(data, max_pixels=9_999), "exceeds 0.009999 megapixels")
    assert scan(data, max_pixels=10_000).barcode is None


def test_image_error_is_a_value_error() -> None:
    assert issubclass(ImageError, ValueError)


def test_a_single_string_is_not_an_expected_list(photo: dict[str, Photo]) -> None:
    with pytest.raises(TypeError):
        scan(photo["upca-1/2.png"].data, "036602301467")
