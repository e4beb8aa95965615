"""Read the human-readable digits printed under an EAN/UPC symbol with Tesseract.

Last resort: one Tesseract call costs 150-400 ms, mostly process start-up and
model loading, so all candidate strips of a picture go into a single call,
stacked one per text line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
# Detectors' regions are often lower than the bars (a shadow's edge across them, glare), while
# their length holds: the line is at least this share of the bars' length tall.
_LINE_PER_LENGTH = 0.08
# Where the bars stop: each row against the mean of the rows _BARS_GAP to _BARS_REF above it.
_BARS_REF = 12
_BARS_GAP = 3


def code_line(
    gray: Gray,
    region: Quad,
    unblur: Callable[[Gray], Gray] | None = None,
    text_h: int = _LINE_TEXT_H,
) -> Gray | None:
    """The text line printed under the bars of ``region``, upright, levelled, ``text_h`` px tall.

    Where the bars end is found from the picture, not assumed: rows that still correlate
    with the bars' mean profile are bars (detectors' regions are often shorter or taller
    than the bars); the line starts where they stop. ``unblur`` is applied to the upright
    crop (at the photo's own scale) first.
    """
    _, _, length, height = axes(region)
    if length < 40 or height < 8:
        return None
    view = warp_quad(gray, region, pad=0.08, above=-0.3, below=_LINE_SEARCH - 0.5, min_width=0)
    if view is None:
        return None
    upright = view.image if unblur is None else unblur(view.image)
    img = upright.astype(np.float32)
    bars_h = max(2, int(0.4 * height))
    start = None
    for y in range(bars_h, img.shape[0]):
        # Compared with the bars just above, not with their mean: bent or tilted bars drift
        # sideways down the crop, and a row far down no longer matches the top's mean.
        bars = img[max(0, y - _BARS_REF) : y - _BARS_GAP].mean(axis=0)
        bars -= bars.mean()
        row = img[y] - img[y].mean()
        norm = float(np.linalg.norm(bars) * np.linalg.norm(row)) or 1.0
        if float(row @ bars) / norm < 0.6:
            start = y
            break
    if start is None:
        return None
    line_h = int(max(0.36 * height, _LINE_PER_LENGTH * length))
    strip = upright[start : start + line_h]
    if strip.shape[0] < 8:
        return None
    f = text_h / strip.shape[0]
    big: Gray = cv2.resize(strip, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)  # type: ignore[assignment]
    # Divided by the paper's own brightness: a shadow's edge across the line is gone.
    background = cv2.morphologyEx(big, cv2.MORPH_CLOSE, np.ones((25, 25), np.uint8))
    flat: Gray = cv2.divide(big, np.maximum(background, 1), scale=255)  # type: ignore[assignment]
    _blank_bar_ends(flat)
    return cv2.copyMakeBorder(flat, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)  # type: ignore[return-value]


def _blank_bar_ends(flat: Gray) -> None:
    """Paper over the bars' ends left at the strip's top, when a clear gap parts them from the
    text: touching the glyphs' tops, they turn a 5 into a 3 for Tesseract."""
    ink = (flat < 128).mean(axis=1)
    top = int(0.35 * len(ink))
    if top < 3 or ink[0] < 0.05:
        return
    gaps = [y for y in range(1, top) if ink[y] < 0.01]
    # Only a thin band over the text: a strip that starts inside the glyphs keeps them.
    if gaps and int((ink[gaps[0] :] > 0.05).sum()) >= 2 * gaps[0]:
        flat[: gaps[0]] = 255


def read_code_line(img: Gray, timeout_s: float) -> str | None:
    """Letters and digits of one printed line, spaces dropped; None on timeout or failure."""
    lines = read_code_lines([img], timeout_s)
    return lines[0] if lines else None


def read_code_lines(imgs: list[Gray], timeout_s: float) -> list[str]:
    """Letters and digits of each printed line (spaces dropped), one Tesseract call for all:
    a single line is read as one (psm 7), several stacked as a block of lines (psm 6)."""
    if not imgs or timeout_s <= 0.05:
        return []
    if len(imgs) == 1:
        stack, config = imgs[0], _CODE_LINE_CONFIG
    else:
        width = max(i.shape[1] for i in imgs)
        stack = np.vstack(
            [
                cv2.copyMakeBorder(i, 0, 16, 0, width - i.shape[1], cv2.BORDER_CONSTANT, value=255)
                for i in imgs
            ]
        )
        config = _CODE_LINE_CONFIG.replace("--psm 7", "--psm 6")
    try:
        text: str = pytesseract.image_to_string(stack, config=config, timeout=timeout_s)
    except (RuntimeError, pytesseract.TesseractError, OSError):
        # RuntimeError is pytesseract's timeout; OSError a missing binary.
        return []
    lines = ["".join(line.split()) for line in text.splitlines()]
    return [line for line in lines if line]
