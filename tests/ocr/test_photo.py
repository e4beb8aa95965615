"""Proof photos and signatures: safe decoding, no metadata out, sizes and quality as set."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from ocr import ImageError, prepare_photo, prepare_signature

GPS_TAG = 0x8825
ORIENTATION = 0x0112


def phone_jpeg(
    width: int = 3000, height: int = 2000, *, orientation: int = 1, seed: int = 7
) -> bytes:
    """A deterministic photo with the EXIF a phone writes: GPS, model, orientation."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize((width, height))
    exif = Image.Exif()
    exif[0x0110] = "Phone 15"  # Model
    exif[ORIENTATION] = orientation
    exif[GPS_TAG] = {1: "S", 2: (23.0, 33.0, 1.0), 3: "W", 4: (46.0, 38.0, 2.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def test_exif_and_gps_are_stripped() -> None:
    original = phone_jpeg()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_TAG)
    photo = prepare_photo(original)
    stored = Image.open(io.BytesIO(photo.data))
    assert not stored.getexif()
    assert b"Exif" not in photo.data[:4096]
    assert b"Phone 15" not in photo.data
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()
    assert photo.content_type == "image/jpeg"


def test_resized_to_the_longest_edge_and_upright() -> None:
    photo = prepare_photo(phone_jpeg(3000, 2000, orientation=6), longest_edge=1200, quality=70)
    # Orientation 6 is "rotate 90": the stored picture is portrait, with no tag left to say so.
    assert (photo.width, photo.height) == (800, 1200)
    assert Image.open(io.BytesIO(photo.data)).size == (800, 1200)


def test_small_photos_are_not_enlarged() -> None:
    photo = prepare_photo(phone_jpeg(640, 480), longest_edge=1600)
    assert (photo.width, photo.height) == (640, 480)


def test_quality_changes_the_size() -> None:
    original = phone_jpeg()
    assert len(prepare_photo(original, quality=40).data) < len(
        prepare_photo(original, quality=90).data
    )


def test_png_photo_becomes_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (10, 20, 30, 128)).save(out, "PNG")
    photo = prepare_photo(out.getvalue())
    assert photo.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(photo.data)).mode == "RGB"


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", phone_jpeg(400, 300)[:-2000], b"\x89PNG\r\n\x1a\n" + b"\0" * 50],
    ids=["empty", "text", "truncated", "bad-png"],
)
def test_bad_input_answers_image_error(data: bytes) -> None:
    with pytest.raises(ImageError):
        prepare_photo(data)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")  # 400 megapixels, a few KB
    with pytest.raises(ImageError, match="megapixels"):
        prepare_photo(out.getvalue())


def test_too_large_is_refused() -> None:
    with pytest.raises(ImageError, match="MB"):
        prepare_photo(b"\xff\xd8" + b"\0" * (16 * 1024 * 1024))


def test_heic_from_an_iphone_is_read() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    image = Image.new("RGB", (800, 600), (200, 100, 50))
    heif = pillow_heif.from_pillow(image)
    out = io.BytesIO()
    heif.save(out, quality=80)
    photo = prepare_photo(out.getvalue(), longest_edge=400)
    assert photo.content_type == "image/jpeg"
    assert (photo.width, photo.height) == (400, 300)


def test_signature_keeps_transparency_and_drops_text_chunks() -> None:
    from PIL import PngImagePlugin

    drawing = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    drawing.paste((0, 0, 0, 255), (50, 90, 550, 110))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Maria da Silva")
    out = io.BytesIO()
    drawing.save(out, "PNG", pnginfo=info)
    signature = prepare_signature(out.getvalue())
    assert signature.content_type == "image/png"
    assert b"Maria" not in signature.data
    assert Image.open(io.BytesIO(signature.data)).mode == "RGBA"


def test_signature_size_limit() -> None:
    with pytest.raises(ImageError):
        prepare_signature(phone_jpeg(3000, 2000, seed=1) + b"\0" * (3 * 1024 * 1024))
