"""Blurred Code 128: one averaged line across the bars, deconvolved, decoded.

A 1D barcode only varies along its axis, so any blur of the photo (defocus, a shaking hand
in any direction) acts on it as a 1D blur along that axis: a Gaussian for defocus, a box of
the motion's length projected on the axis for motion. Averaging the rows of the upright
bars (after levelling each row's illumination, so a shadow's edge crossing them does not
add a step) leaves a profile with a tenth of the sensor and JPEG noise, which a Wiener
filter can then sharpen. The blur's shape and width are unknown, so a small family of them
is tried (a few hundred microseconds each): the decoder's own checks say which one fits.

Only Code 128 is decoded here: it is what carriers print their tracking codes in, and its
check character makes a read of ringing artefacts unlikely. Still, a read made from a
deconvolved profile is a reconstruction, not an observation: the trust rules
(``ocr.evidence``) never let it stand alone (see ``DECONV``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp  # type: ignore[import-untyped,unused-ignore]

from ocr.digits import code_line
from ocr.variants import Gray, Quad, View, axes, compose, warp_quad

Floats = npt.NDArray[np.float64]

# The view every deconvolved read is tagged with (ocr.evidence treats it apart).
DECONV = "deconv"
# Rows near the bars' ends are cut: bar tops and bottoms smear into the text under them.
_BAND = -0.25
# Defocus widths (Gaussian sigma, px) and motion lengths along the axis (px), on top of the
# ~0.8 px of any phone lens: a hand's shake at arm's length smears 5-20 px.
_SIGMAS = (1.5, 2.0, 2.5, 3.0)
_BOXES = tuple(n / 2.0 for n in range(4, 37))
_LENS_SIGMA = 0.8
# Wiener noise-to-signal ratios: the averaged profile's noise is low, but not zero.
_NSR = (1e-3, 3e-3)
_UPSAMPLE = 3
_ROWS = 24


@dataclass(frozen=True)
class Blur:
    """One blur hypothesis: a motion's length along the bars' axis (0 for defocus), on top of
    a Gaussian of ``sigma`` px."""

    along: float
    sigma: float


@dataclass(frozen=True)
class Profile:
    """The mean line across the bars, and where its samples are in the picture."""

    values: Floats
    view: View  # the upright crop: its to_orig maps profile x (at y = middle) to the picture


def profile(gray: Gray, quad: Quad) -> Profile | None:
    """The crop around ``quad`` made upright at native scale, levelled, skew-corrected, averaged."""
    _, _, length, height = axes(quad)
    if length < 40 or height < 12:
        return None
    crop = warp_quad(gray, quad, pad=0.15, above=_BAND, below=_BAND, min_width=0, name=DECONV)
    if crop is None or crop.image.shape[0] < 6:
        return None
    img = crop.image.astype(np.float32)
    # Each row divided by its own upper envelope: a window of a quarter of the code spans the
    # widest space even when blurred, and a shadow's edge crossing the rows at an angle
    # (at a different column in every row) no longer adds a step to their mean.
    window = max(41, int(length / 4.5)) | 1
    envelope = cv2.morphologyEx(img, cv2.MORPH_CLOSE, np.ones((1, window), np.uint8))
    envelope = cv2.GaussianBlur(envelope, (0, 0), 3)
    level = (img / np.maximum(envelope, 1.0)).astype(np.float32)
    values, skew = _deskewed_mean(level)
    h = level.shape[0]
    # x along the profile sits at the crop's middle row once the skew is taken out.
    t = float(np.tan(np.radians(skew)))
    shear = np.array([[1.0, -t, t * h / 2.0], [0.0, 1.0, 0.0]])
    return Profile(values, View(DECONV, crop.image, compose(crop.to_orig, shear)))


def _deskewed_mean(level: npt.NDArray[np.float32]) -> tuple[Floats, float]:
    """The row mean at the shear that makes it sharpest: the detector's angle is off by a
    degree or two, which over a hundred rows smears a 2.5 px module away."""
    h, w = level.shape
    best: tuple[float, Floats, float] | None = None
    for skew in np.arange(-4.0, 4.01, 0.25):
        t = float(np.tan(np.radians(skew)))
        m = np.array([[1.0, t, -t * h / 2.0], [0.0, 1.0, 0.0]], dtype=np.float32)
        sheared = cv2.warpAffine(
            level, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        mean = sheared.mean(axis=0).astype(np.float64)
        score = float(np.sum(np.diff(mean) ** 2))
        if best is None or score > best[0]:
            best = (score, mean, float(skew))
    assert best is not None
    return best[1], best[2]


def _kernel(n: int, box: float, sigma: float) -> Floats:
    x = np.arange(n, dtype=np.float64) - n // 2
    k = np.exp(-(x**2) / (2.0 * sigma * sigma))
    if box > 1.0:
        # A box of fractional length: full weight inside, linear at its ends.
        k = np.convolve(k, np.clip(box / 2.0 + 0.5 - np.abs(x), 0.0, 1.0), mode="same")
    k /= k.sum()
    return np.fft.ifftshift(k)


def _hypotheses() -> Iterator[tuple[float, float]]:
    for sigma in _SIGMAS:
        yield 0.0, sigma
    for box in _BOXES:
        yield box, _LENS_SIGMA


def sharpened(p: Profile) -> Iterator[tuple[Blur, Gray]]:
    """The profile deconvolved under each blur hypothesis, as a small upright picture."""
    pad = len(p.values) // 2
    padded = np.pad(p.values, pad, mode="edge")
    spectrum = np.fft.fft(padded)
    for box, sigma in _hypotheses():
        h = np.fft.fft(_kernel(len(padded), box, sigma))
        for nsr in _NSR:
            out = np.real(np.fft.ifft(spectrum * np.conj(h) / (np.abs(h) ** 2 + nsr)))
            yield Blur(box, sigma), _picture(out[pad:-pad])


def _picture(line: Floats) -> Gray:
    lo, hi = np.percentile(line, (2, 98))
    scaled = np.clip((line - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    row = (scaled * 255.0).astype(np.uint8)[None, :]
    row = cv2.resize(row, (row.shape[1] * _UPSAMPLE, 1), interpolation=cv2.INTER_LINEAR)
    img: Gray = cv2.copyMakeBorder(  # type: ignore[assignment]
        np.repeat(row, _ROWS, axis=0), 8, 8, 40, 40, cv2.BORDER_CONSTANT, value=255
    )
    return img


def decode(p: Profile) -> dict[str, list[Blur]]:
    """Code 128 texts read from the profile, with the blur hypotheses giving each."""
    found: dict[str, list[Blur]] = {}
    formats = zxingcpp.barcode_formats_from_str("Code128")
    for blur, img in sharpened(p):
        for bc in zxingcpp.read_barcodes(
            img, formats=formats, try_rotate=False, try_downscale=False, try_invert=False
        ):
            text = bc.text[1:] if bc.text.startswith("\x1d") else bc.text
            if text:
                found.setdefault(text, []).append(blur)
    return found


# -- the printed line under the bars, sharpened by the same blur -------------------------------
#
# The text under the bars went through the same blur, but in 2D: a shaking hand's motion has
# a component across the bars too, which the bars' profile cannot see. It is measured on the
# bars' ends: averaged over the bars' length, any blur along them cancels out, so the edge where
# the bars start is blurred by the motion's component across them only.

_END_SHEARS = tuple(np.arange(-3.0, 3.01, 0.5))
# Wiener noise-to-signal ratio for one picture; lower leaves more noise, higher loses strokes.
_TEXT_NSR = 3e-3
# Deconvolved text is read taller than the plain line, and smoothed by these sigmas (px).
_TEXT_H = 64
_TEXT_SMOOTHING = (0.8, 1.8)
# Lines stacked in one Tesseract call: ~60 ms each.
_MAX_LINES = 6
# Below this many pixels across, the motion is taken as along the bars alone.
_MIN_ACROSS = 1.5
# The bars' ends of sharp photos rise over ~2.6 px (the lens, the printer's and the warp's
# resampling): that much is no motion.
_ENDS_SIGMA = 1.0


@dataclass(frozen=True)
class Across:
    """The motion's length across the bars (px) and the sign of its slope (0: unknown)."""

    length: float
    sign: int


def _edge_width(length: float, sigma: float) -> float:
    """10-90% rise of a step blurred by a box of ``length`` and a Gaussian of ``sigma``."""
    y = np.arange(-40.0, 40.0, 0.05)
    d = np.exp(-(y**2) / (2.0 * sigma * sigma))
    if length > 0:
        d = np.convolve(d, np.ones(max(1, int(length / 0.05))), mode="same")
    c = np.cumsum(d) / d.sum()
    return float(y[np.searchsorted(c, 0.9)] - y[np.searchsorted(c, 0.1)])


_LENGTHS = np.arange(0.0, 40.01, 0.5)
_WIDTHS = np.array([_edge_width(n, _ENDS_SIGMA) for n in _LENGTHS])


def across(gray: Gray, quad: Quad, along: float) -> Across | None:
    """How far the motion went across the bars, read from where the bars start.

    The sign comes from the rows of that edge: the rows at its top see the bars only through
    one end of the motion's path and those at its bottom through the other, so they are
    shifted along the bars' axis one way or the other (by up to half the motion along it).
    """
    _, _, _, height = axes(quad)
    crop = warp_quad(gray, quad, pad=-0.1, above=0.6, below=-0.2, min_width=0, name="ends")
    if crop is None or crop.image.shape[0] < 20 or crop.image.shape[1] < 40:
        return None
    img, col = _levelled_ends(crop.image.astype(np.float32))
    n = len(col)
    body = int(0.8 * height)  # rows from the crop's top to well inside the bars
    if body >= n - 4:
        return None
    bars = float(np.median(col[n - (n - body) // 2 :]))
    steep = np.convolve(-np.diff(col[: body + 1]), np.ones(3), mode="same")
    c0 = int(np.argmax(steep))
    paper = float(np.max(col[max(0, c0 - 30) : c0 + 1]))
    if paper - bars < 20.0:
        return None
    hi_level, lo_level = paper - 0.1 * (paper - bars), bars + 0.1 * (paper - bars)
    top = c0
    while top > 0 and col[top] < hi_level:
        top -= 1
    bottom = c0
    while bottom < n - 1 and col[bottom] > lo_level:
        bottom += 1
    # Sub-pixel: where the levels are crossed between the samples found.
    y_hi = top + (col[top] - hi_level) / max(float(col[top] - col[top + 1]), 1e-6)
    y_lo = bottom - (lo_level - col[bottom]) / max(float(col[bottom - 1] - col[bottom]), 1e-6)
    width = float(y_lo - y_hi)
    length = float(np.interp(width, _WIDTHS, _LENGTHS))
    if length < _MIN_ACROSS:
        return Across(0.0, 0)
    return Across(length, _slope_sign(img, (top + bottom) / 2.0, length, along, bottom))


def _levelled_ends(img: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], Floats]:
    """The crop sheared so the bars' ends are level (the detector's angle is a little off),
    and its row means."""
    h, w = img.shape
    best: tuple[float, npt.NDArray[np.float32], Floats] | None = None
    for shear in _END_SHEARS:
        t = float(np.tan(np.radians(shear)))
        m = np.array([[1.0, 0.0, 0.0], [t, 1.0, -t * w / 2.0]], dtype=np.float32)
        sheared: npt.NDArray[np.float32] = cv2.warpAffine(  # type: ignore[assignment]
            img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        col: Floats = sheared.mean(axis=1).astype(np.float64)
        score = float(np.max(np.abs(np.diff(col))))
        if best is None or score > best[0]:
            best = (score, sheared, col)
    assert best is not None
    return best[1], best[2]


def _slope_sign(
    img: npt.NDArray[np.float32], centre: float, length: float, along: float, below: int
) -> int:
    def ac(row: Floats) -> Floats:
        out: Floats = row - cv2.GaussianBlur(row[None, :], (0, 0), 15)[0]
        return out

    start = min(img.shape[0] - 2, below + 3)
    body = ac(img[start : start + 16].mean(axis=0).astype(np.float64))
    reach = int(along / 2.0) + 3
    inner = slice(reach, len(body) - reach)

    def shift(y: float) -> int:
        row = ac(img[round(y)].astype(np.float64))
        lags = range(-reach, reach + 1)
        scores = [float(np.dot(np.roll(row, k)[inner], body[inner])) for k in lags]
        return int(np.argmax(scores)) - reach

    diff = shift(centre - length / 4.0) - shift(centre + length / 4.0)
    return int(np.sign(diff))


def text_kernels(blur: Blur, motion: Across | None) -> list[Floats]:
    """The 2D blurs to undo on the printed line: both slopes when the sign is unknown."""
    if blur.along <= 0.0 or motion is None or motion.length <= 0.0:
        return [_kernel2d(blur.along, 0.0, blur.sigma)]
    signs = (motion.sign,) if motion.sign else (1, -1)
    return [_kernel2d(blur.along, s * motion.length, blur.sigma) for s in signs]


def _kernel2d(along: float, across: float, sigma: float) -> Floats:
    """A straight motion path (drawn anti-aliased at 4x, then reduced) under a Gaussian."""
    n = int(max(abs(along), abs(across)) + 6.0 * sigma + 3.0) | 1
    big = np.zeros((4 * n, 4 * n), np.float32)
    c = 2.0 * n
    ends = [(c - 2.0 * along, c - 2.0 * across), (c + 2.0 * along, c + 2.0 * across)]
    p0, p1 = ((round(x * 16), round(y * 16)) for x, y in ends)
    cv2.line(big, p0, p1, 1.0, 4, cv2.LINE_AA, shift=4)
    small = cv2.resize(big, (n, n), interpolation=cv2.INTER_AREA).astype(np.float64)
    k: Floats = cv2.GaussianBlur(small, (0, 0), sigma)  # type: ignore[assignment]
    out: Floats = k / k.sum()
    return out


def unblurred(img: Gray, kernel: Floats) -> Gray:
    """``img`` Wiener-deconvolved by ``kernel`` (edges replicated), back on 0-255."""
    n = kernel.shape[0]
    pad = 2 * n
    f = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE).astype(np.float64)
    k = np.zeros_like(f)
    k[:n, :n] = kernel
    k = np.roll(k, (-(n // 2), -(n // 2)), axis=(0, 1))
    spectrum = np.fft.rfft2(k)
    out = np.fft.irfft2(
        np.fft.rfft2(f) * np.conj(spectrum) / (np.abs(spectrum) ** 2 + _TEXT_NSR), s=f.shape
    )[pad:-pad, pad:-pad]
    lo, hi = np.percentile(out, (1, 99))
    scaled = np.clip((out - lo) * (255.0 / max(float(hi - lo), 1e-6)), 0.0, 255.0)
    result: Gray = scaled.astype(np.uint8)
    return result


def _unblurring(kernel: Floats) -> Callable[[Gray], Gray]:
    return lambda img: unblurred(img, kernel)


def _smoothed(img: Gray, sigma: float) -> Gray:
    out: Gray = cv2.GaussianBlur(img, (0, 0), sigma)  # type: ignore[assignment]
    return out


def printed_lines(gray: Gray, quad: Quad, blurs: list[Blur]) -> list[Gray]:
    """Pictures of the line printed under the bars, for one Tesseract call to read.

    The line is deconvolved by each family of blur that read the bars: under defocus by
    its Gaussian (after the line as photographed), under a motion by its 2D path, of each
    possible slope. Each is shown as it comes and smoothed: Tesseract's answers on text with
    some ringing left change with the smoothing, and any one of them saying the bars' text
    is the confirmation. Defocus goes first (a blurred shadow's edge reads as either, and the
    motion's across part is then measured on a wrong edge); the stack is cut at
    ``_MAX_LINES``, as its one Tesseract call must end within the budget.
    """
    defocus = [b for b in blurs if b.along <= 0.0]
    motion = [b for b in blurs if b.along > 0.0]
    families: list[list[Gray]] = []
    if defocus:
        families.append(_defocused_lines(gray, quad, float(np.median([b.sigma for b in defocus]))))
    if motion:
        along = float(np.median([b.along for b in motion]))
        families.append(_moved_lines(gray, quad, Blur(along, _LENS_SIGMA)))
    return [img for family in families for img in family][:_MAX_LINES]


def _defocused_lines(gray: Gray, quad: Quad, sigma: float) -> list[Gray]:
    plain = code_line(gray, quad)
    sharp = code_line(gray, quad, _unblurring(_kernel2d(0.0, 0.0, sigma)), text_h=_TEXT_H)
    out = [plain] if plain is not None else []
    if sharp is not None:
        out += [sharp, _smoothed(sharp, _TEXT_SMOOTHING[0])]
    return out


def _moved_lines(gray: Gray, quad: Quad, blur: Blur) -> list[Gray]:
    out: list[Gray] = []
    for kernel in text_kernels(blur, across(gray, quad, blur.along)):
        line = code_line(gray, quad, _unblurring(kernel), text_h=_TEXT_H)
        if line is not None:
            out += [line] + [_smoothed(line, s) for s in _TEXT_SMOOTHING]
    return out
