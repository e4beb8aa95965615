"""Proof-of-delivery images: decoded under the scanner's limits, stripped, re-encoded.

What is stored is never the phone's file: the pixels are decoded (with the limits of
`ocr.image.opened`: size, megapixels, decompression bombs, truncated and non-image files),
turned upright by their EXIF orientation, and encoded again with no metadata at all, so the
phone's GPS tag, model and time never reach the store. JPEGs are decoded at a reduced scale
when the target is smaller (Pillow's draft mode), which bounds memory and CPU per photo.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass

from PIL import Image, ImageOps

from ocr.image import ImageError, opened
from ocr.pipeline import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS

# A signature is a small drawing; a large upload is not one.
SIGNATURE_MAX_BYTES = 2 * 1024 * 1024
SIGNATURE_MAX_PIXELS = 4_000_000


@dataclass(frozen=True)
class Encoded:
    data: bytes
    width: int
    height: int
    content_type: str
    sha256: str

    @property
    def extension(self) -> str:
        return "png" if self.content_type == "image/png" else "jpg"


def _encoded(data: bytes, image: Image.Image, content_type: str) -> Encoded:
    return Encoded(data, image.width, image.height, content_type, hashlib.sha256(data).hexdigest())


def prepare_photo(
    image: bytes,
    *,
    longest_edge: int = 1600,
    quality: int = 82,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Encoded:
    """A JPEG no larger than `longest_edge` on its longest side, with no metadata."""
    if not 1 <= quality <= 95 or longest_edge < 64:
        raise ValueError("quality must be 1..95 and longest_edge at least 64")
    with opened(image, max_bytes=max_bytes, max_pixels=max_pixels) as probe:
        if probe.format == "JPEG":
            # Decodes at 1/2, 1/4 or 1/8 scale when that still covers the target; draft wants
            # the target's own shape (a square box would rule out every scale of a 4:3 photo).
            scale = min(1.0, longest_edge / max(probe.size))
            probe.draft("RGB", (math.ceil(probe.width * scale), math.ceil(probe.height * scale)))
        probe.load()
        upright = ImageOps.exif_transpose(probe)
        rgb = upright.convert("RGB")
        rgb.thumbnail((longest_edge, longest_edge), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        # No exif=, icc_profile= or comment: the new file carries pixels only.
        rgb.save(out, "JPEG", quality=quality, optimize=True)
    return _encoded(out.getvalue(), rgb, "image/jpeg")


def prepare_signature(image: bytes, *, longest_edge: int = 1024) -> Encoded:
    """A PNG of the drawn signature (transparency kept), with no metadata."""
    with opened(image, max_bytes=SIGNATURE_MAX_BYTES, max_pixels=SIGNATURE_MAX_PIXELS) as probe:
        probe.load()
        mode = "RGBA" if "A" in probe.getbands() or "transparency" in probe.info else "RGB"
        drawing = probe.convert(mode)
        drawing.thumbnail((longest_edge, longest_edge), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        drawing.save(out, "PNG", optimize=False)
    if drawing.width == 0 or drawing.height == 0:
        raise ImageError("image is empty")
    return _encoded(out.getvalue(), drawing, "image/png")
