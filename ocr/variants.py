"""OpenCV preprocessing variants fed to the decoders when the plain picture fails.

Every variant records the affine map back to the original picture so that a
barcode found in it can be located for the OCR stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
Affine = npt.NDArray[np.float64]
Quad = tuple[tuple[float, float], ...]

# Decoders need a few pixels per module, so small pictures are upscaled; big
# phone photos are downscaled instead, which averages out sensor noise and
# keeps every step within the time budget.
_RESAMPLE = ((540, 2.0), (1400, 1.5), (2400, 0.75))
LARGE_SIDE = 1600


@dataclass(frozen=True)
class View:
    """A transformed picture plus the 2x3 affine map from its pixels to the original."""

    name: str
    image: Gray
    to_orig: Affine


def identity() -> Affine:
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def clahe(gray: Gray) -> Gray:
    # Tiles of ~60 px even out glare and shadow across a label without
    # amplifying sensor noise as much as global equalisation does.
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)  # type: ignore[return-value]


def sharpen(gray: Gray) -> Gray:
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return cv2.addWeighted(gray, 1.8, blurred, -0.8, 0)  # type: ignore[return-value]


def deblur(gray: Gray) -> View:
    """Half size, then a strong unsharp mask: a defocused code's edges get steep again.

    Halving shrinks the blur's radius with the picture, so a mask of a few pixels undoes
    most of it; thin bars survive because blurred photos are rarely the small, far ones.
    """
    half = scaled(gray, 0.5, 0.5)
    soft = cv2.GaussianBlur(half.image, (0, 0), 1.5)
    out: Gray = cv2.addWeighted(half.image, 3.0, soft, -2.0, 0)  # type: ignore[assignment]
    return View("deblur", out, half.to_orig)


def flatten(gray: Gray) -> Gray:
    """Divide by the page's brightness: a shadow's edge across a code no longer splits it."""
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((41, 41), np.uint8))
    out: Gray = cv2.divide(gray, np.maximum(background, 1), scale=255)  # type: ignore[assignment]
    return out


def stretch(gray: Gray) -> Gray:
    """Min/max contrast stretch on the 1st-99th percentile, robust to specular spots."""
    lo, hi = np.percentile(gray, (1, 99))
    if hi - lo < 8:
        return gray
    scaled = (gray.astype(np.float32) - float(lo)) * (255.0 / float(hi - lo))
    out: Gray = np.clip(scaled, 0, 255).astype(np.uint8)
    return out


def threshold(gray: Gray) -> Gray:
    # Block size ~1/10 of the short side follows illumination gradients but
    # stays wider than a bar, so bars are not hollowed out.
    block = max(15, (min(gray.shape[:2]) // 10) | 1)
    return cv2.adaptiveThreshold(  # type: ignore[return-value]
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 10
    )


def scaled(gray: Gray, fx: float, fy: float) -> View:
    interp = cv2.INTER_CUBIC if fx * fy >= 1.0 else cv2.INTER_AREA
    out: Gray = cv2.resize(gray, None, fx=fx, fy=fy, interpolation=interp)  # type: ignore[assignment]
    to_orig = np.array([[1.0 / fx, 0.0, 0.0], [0.0, 1.0 / fy, 0.0]])
    return View(f"scale{fx:g}x{fy:g}", out, to_orig)


def rotated(gray: Gray, degrees: float) -> View:
    """Rotate about the centre, growing the canvas so nothing is cut off."""
    h, w = gray.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    out: Gray = cv2.warpAffine(  # type: ignore[assignment]
        gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return View(f"rot{degrees:g}", out, cv2.invertAffineTransform(m).astype(np.float64))


def resample_factor(gray: Gray) -> float:
    """Scale of the resampled view: another geometry that may confirm a read."""
    side = max(gray.shape[:2])
    for limit, factor in _RESAMPLE:
        if side <= limit:
            return factor
    return float(LARGE_SIDE / side)


def resample_name(gray: Gray) -> str:
    factor = resample_factor(gray)
    return f"{'upscale' if factor > 1 else 'downscale'}{factor:.3g}x"


def detect_regions(gray: Gray) -> list[Quad]:
    """Candidate barcode quadrilaterals from OpenCV's detector (its decoder is not used)."""
    try:
        ok, points = cv2.barcode.BarcodeDetector().detect(gray)
    except cv2.error:
        return []
    if not ok or points is None:
        return []
    quads: list[Quad] = []
    for quad in np.asarray(points, dtype=np.float64).reshape(-1, 4, 2):
        quads.append(tuple((float(x), float(y)) for x, y in quad))
    return quads


# Gradient regions: the picture is searched at half size, in windows of ~a few bars.
_GRADIENT_SCALE = 0.5
_GRADIENT_WINDOW = 15
# Bars: strong gradients (the picture's top tenth) that all point one way (coherence of the
# structure tensor); text is as strong but points every way, paper shading is weak.
_GRADIENT_COHERENCE = 0.6
_GRADIENT_MIN_AREA = 400


def gradient_regions(gray: Gray) -> list[Quad]:
    """Bar-code-like regions found from gradients alone, biggest first.

    OpenCV's detector misses codes whose bars are bent or shaded in bands (a crumpled
    mailer under a striped shadow) though the bars are plain to see: wherever the gradient is
    strong and points one way over a window, there are bars. Quads come out as OpenCV's do
    (their long side across the bars).
    """
    small = cv2.resize(
        gray, None, fx=_GRADIENT_SCALE, fy=_GRADIENT_SCALE, interpolation=cv2.INTER_AREA
    ).astype(np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    win = (_GRADIENT_WINDOW, _GRADIENT_WINDOW)
    jxx, jyy, jxy = cv2.blur(gx * gx, win), cv2.blur(gy * gy, win), cv2.blur(gx * gy, win)
    energy = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4.0 * jxy**2) / np.maximum(energy, 1e-6)
    strong = energy > max(float(np.percentile(energy, 90)), 1.0)
    mask = ((coherence > _GRADIENT_COHERENCE) & strong).astype(np.uint8) * 255
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    )
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    )
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    found: list[tuple[int, Quad]] = []
    for i in range(1, count):
        area = int(stats[i, cv2.CC_STAT_AREA])
        if area < _GRADIENT_MIN_AREA:
            continue
        ys, xs = np.nonzero(labels == i)
        rect = cv2.minAreaRect(np.column_stack([xs, ys]).astype(np.float32))
        long_side, short_side = max(rect[1]), min(rect[1])
        if short_side < 8 or long_side < 1.8 * short_side:
            continue  # a 1D code's region is long across its bars
        box = cv2.boxPoints(rect) / _GRADIENT_SCALE
        found.append((area, tuple((float(x), float(y)) for x, y in box)))
    found.sort(key=lambda f: f[0], reverse=True)
    return [quad for _, quad in found]


def axes(quad: Quad) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float, float]:
    """Unit vectors along the long and short side of a quad, and their lengths."""
    p = np.asarray(quad, dtype=np.float64)
    e01, e12 = p[1] - p[0], p[2] - p[1]
    e32, e03 = p[2] - p[3], p[3] - p[0]
    len_a = (np.hypot(*e01) + np.hypot(*e32)) / 2.0
    len_b = (np.hypot(*e12) + np.hypot(*e03)) / 2.0
    along = (e01 + e32) if len_a >= len_b else (e03 + e12)
    length, height = (len_a, len_b) if len_a >= len_b else (len_b, len_a)
    norm = float(np.hypot(*along)) or 1.0
    u = along / norm
    if u[0] < 0:  # keep text upright-ish: left-to-right
        u = -u
    v = np.array([-u[1], u[0]])
    if v[1] < 0:
        v = -v
    return u, v, float(length), float(height)


def warp_quad(
    gray: Gray,
    quad: Quad,
    *,
    pad: float = 0.12,
    above: float = 0.1,
    below: float = 0.1,
    min_width: int = 600,
    name: str = "crop",
) -> View | None:
    """Cut a deskewed, horizontally aligned, upscaled rectangle around ``quad``.

    ``pad`` adds quiet zone on both ends (as a fraction of the length); ``above``
    and ``below`` extend the cut across the bars (fractions of the height).
    """
    u, v, length, height = axes(quad)
    if length < 8 or height < 4:
        return None
    centre = np.asarray(quad, dtype=np.float64).mean(axis=0)
    width = length * (1.0 + 2.0 * pad)
    top, bottom = -height * (0.5 + above), height * (0.5 + below)
    scale = max(1.0, min_width / width)
    out_w, out_h = round(width * scale), round((bottom - top) * scale)
    if out_w < 8 or out_h < 4 or out_w * out_h > 8_000_000:
        return None
    src = np.array(
        [
            centre - u * width / 2 + v * top,
            centre + u * width / 2 + v * top,
            centre + u * width / 2 + v * bottom,
        ],
        dtype=np.float32,
    )
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h]], dtype=np.float32)
    m = cv2.getAffineTransform(src, dst)
    out: Gray = cv2.warpAffine(  # type: ignore[assignment]
        gray, m, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return View(name, out, cv2.invertAffineTransform(m).astype(np.float64))


def compose(outer: Affine, inner: Affine) -> Affine:
    """The affine map applying ``inner`` first, then ``outer``."""
    a = np.vstack([outer, [0.0, 0.0, 1.0]])
    b = np.vstack([inner, [0.0, 0.0, 1.0]])
    out: Affine = (a @ b)[:2]
    return out


def map_quad(quad: Quad, to_orig: Affine) -> Quad:
    pts = np.asarray(quad, dtype=np.float64)
    mapped = pts @ to_orig[:, :2].T + to_orig[:, 2]
    return tuple((float(x), float(y)) for x, y in mapped)
