"""Read the human-readable digits printed under an EAN/UPC symbol with Tesseract.

Last resort: one Tesseract call costs 150-400 ms, mostly process start-up and
model loading, so all candidate strips of a picture go into a single call,
stacked one per text line.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import numpy.typing as npt
import pytesseract  # type: ignore[import-untyped,unused-ignore]

from ocr.variants import Gray, Quad, axes, clahe, warp_quad

# EAN-13 / UPC-A digits are ~2.75 mm tall on a ~31 mm (95-module) wide
# symbol; narrower symbols print digits of the same height.
DIGIT_HEIGHT_PER_WIDTH = 0.095
MODULES = {"EAN13": 95, "UPCA": 95, "EAN8": 67, "UPCE": 51}
_PAD = 0.14
_ABOVE = 0.1
_LINE_HEIGHT = 64
BoolArray = npt.NDArray[np.bool_]

_CONFIG = "--psm 6 -c tessedit_char_whitelist=0123456789"


def bounding_box(points: Quad) -> Quad:
    """Minimum-area rectangle around a polygon (ZBar returns many-point outlines)."""
    rect = cv2.minAreaRect(np.asarray(points, dtype=np.float32))
    return tuple((float(x), float(y)) for x, y in cv2.boxPoints(rect))


def _binary(img: Gray) -> Gray:
    block = max(15, (img.shape[1] // 20) | 1)
    blurred = cv2.GaussianBlur(img, (3, 3), 0)
    return cv2.adaptiveThreshold(  # type: ignore[return-value]
        blurred, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5
    )


def _end_by_runs(dark: BoolArray, yc: int) -> int | None:
    """Where bars crossing the centre row stop, at the 70th percentile.

    Glare breaks some bars early and the guard bars run long; the percentile
    ignores both.
    """
    below = dark[yc:]
    crossing = below[0]
    if int(crossing.sum()) < 10:
        return None
    runs = np.cumprod(below, axis=0).sum(axis=0)[crossing]
    return yc + int(np.percentile(runs, 70))


def _end_by_texture(dark: BoolArray, yc: int, digit_h: float) -> int | None:
    """First window below the centre where dark pixels stop forming vertical lines."""
    height, width = dark.shape
    win = max(4, int(0.6 * digit_h))
    inner = dark[:, int(width * 0.1) : int(width * 0.9)]
    for y in range(yc, height - win):
        block = inner[y : y + win]
        density = float(block.mean())
        continuity = float(block.all(axis=0).mean())
        if density > 0.05 and continuity < 0.25 * density:
            return y
    return None


def _clean(strip: Gray, digit_h: float) -> Gray:
    """Binarise a strip and drop bar fragments so Tesseract sees only digits."""
    f = _LINE_HEIGHT / strip.shape[0]
    big: Gray = cv2.resize(strip, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)  # type: ignore[assignment]
    big = clahe(big)
    bw = cv2.adaptiveThreshold(
        cv2.GaussianBlur(big, (3, 3), 0),
        255,
        cv2.ADAPTIVE_THRESH_GAUSSIAN_C,
        cv2.THRESH_BINARY,
        51,
        10,
    )
    count, labels, stats, _ = cv2.connectedComponentsWithStats(255 - bw, connectivity=8)
    out = np.full_like(bw, 255)
    h, w = bw.shape
    guard_w = 0.3 * digit_h * f
    for i in range(1, count):
        _, top, cw, ch, _ = stats[i]
        # Thin blobs hanging from the top edge are guard bars reaching into the digit row.
        if top <= 1 and cw < guard_w:
            continue
        if ch < 0.25 * h or cw > 0.2 * w:
            continue
        out[labels == i] = 0
    return cv2.copyMakeBorder(out, 16, 30, 16, 16, cv2.BORDER_CONSTANT, value=255)  # type: ignore[return-value]


def digit_strips(
    gray: Gray, region: Quad, symbology: str | None = None, limit: int = 3
) -> list[Gray]:
    """Cleaned images of the text line under the bars of ``region``, best guess first."""
    box = bounding_box(region)
    view = warp_quad(gray, box, pad=_PAD, above=_ABOVE, below=1.0, min_width=600, name="strip")
    if view is None:
        return []
    img = view.image
    height, width = img.shape
    _, _, length, bar_h = axes(box)
    scale = width / (length * (1 + 2 * _PAD))
    yc = int(bar_h * (0.5 + _ABOVE) * scale)
    modules = MODULES.get(symbology or "", 95)
    digit_h = DIGIT_HEIGHT_PER_WIDTH * (95 / modules) * width / (1 + 2 * _PAD)
    dark = _binary(img) == 0
    starts: list[int] = []
    for y in (
        _end_by_runs(dark, yc),
        _end_by_texture(dark, yc, digit_h),
        int(bar_h * (1 + _ABOVE) * scale),
    ):
        if y is not None and all(abs(y - s) >= 0.3 * digit_h for s in starts):
            starts.append(y)
    strips: list[Gray] = []
    for y in starts[:limit]:
        top, bottom = int(max(0, y - 0.2 * digit_h)), int(min(height, y + 1.25 * digit_h))
        if bottom - top >= 8:
            strips.append(_clean(img[top:bottom], digit_h))
    return strips


def read_lines(strips: list[Gray], timeout_s: float) -> list[str]:
    """Digits per strip (one Tesseract call for all of them); [] on timeout or failure."""
    if not strips or timeout_s <= 0.05:
        return []
    width = max(s.shape[1] for s in strips)
    stack = np.vstack(
        [
            cv2.copyMakeBorder(s, 0, 0, 0, width - s.shape[1], cv2.BORDER_CONSTANT, value=255)
            for s in strips
        ]
    )
    try:
        text: str = pytesseract.image_to_string(stack, config=_CONFIG, timeout=timeout_s)
    except (RuntimeError, pytesseract.TesseractError, OSError):
        # RuntimeError is pytesseract's timeout; OSError a missing binary.
        return []
    lines = [re.sub(r"\D", "", line) for line in text.splitlines()]
    return [line for line in lines if line]


# -- the human-readable line under a Code 128 (carriers' tracking codes) ----------------------

_CODE_LINE_CONFIG = "--psm 7 -c tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Text is searched for down to this many bar heights under the bars' centre line.
_LINE_SEARCH = 1.4
_LINE_TEXT_H = 48


def code_line(gray: Gray, region: Quad) -> Gray | None:
    """The text line printed under the bars of ``region``, upright, levelled, ~48 px tall.

    Where the bars end is found from the picture, not assumed: rows that still correlate
    with the bars' mean profile are bars (detectors' regions are often shorter or taller
    than the bars); the line starts where they stop.
    """
    _, _, length, height = axes(region)
    if length < 40 or height < 8:
        return None
    view = warp_quad(gray, region, pad=0.08, above=-0.3, below=_LINE_SEARCH - 0.5, min_width=0)
    if view is None:
        return None
    img = view.image.astype(np.float32)
    bars_h = max(2, int(0.4 * height))
    bars = img[:bars_h].mean(axis=0)
    bars -= bars.mean()
    norm = float(np.linalg.norm(bars)) or 1.0
    start = None
    for y in range(bars_h, img.shape[0]):
        row = img[y] - img[y].mean()
        corr = float(row @ bars) / (norm * (float(np.linalg.norm(row)) or 1.0))
        if corr < 0.6:
            start = y
            break
    if start is None:
        return None
    line_h = int(0.36 * height)
    strip = view.image[start : start + line_h]
    if strip.shape[0] < 8:
        return None
    f = _LINE_TEXT_H / strip.shape[0]
    big: Gray = cv2.resize(strip, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)  # type: ignore[assignment]
    # Divided by the paper's own brightness: a shadow's edge across the line is gone.
    background = cv2.morphologyEx(big, cv2.MORPH_CLOSE, np.ones((25, 25), np.uint8))
    flat = cv2.divide(big, np.maximum(background, 1), scale=255)
    return cv2.copyMakeBorder(flat, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)  # type: ignore[return-value]


def read_code_line(img: Gray, timeout_s: float) -> str | None:
    """Letters and digits of one printed line, spaces dropped; None on timeout or failure."""
    if timeout_s <= 0.05:
        return None
    try:
        text: str = pytesseract.image_to_string(img, config=_CODE_LINE_CONFIG, timeout=timeout_s)
    except (RuntimeError, pytesseract.TesseractError, OSError):
        return None
    return "".join(text.split()) or None
