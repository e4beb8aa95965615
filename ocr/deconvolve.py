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

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp  # type: ignore[import-untyped,unused-ignore]

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


def sharpened(p: Profile) -> Iterator[Gray]:
    """The profile deconvolved under each blur hypothesis, as a small upright picture."""
    pad = len(p.values) // 2
    padded = np.pad(p.values, pad, mode="edge")
    spectrum = np.fft.fft(padded)
    for box, sigma in _hypotheses():
        h = np.fft.fft(_kernel(len(padded), box, sigma))
        for nsr in _NSR:
            out = np.real(np.fft.ifft(spectrum * np.conj(h) / (np.abs(h) ** 2 + nsr)))
            yield _picture(out[pad:-pad])


def _picture(line: Floats) -> Gray:
    lo, hi = np.percentile(line, (2, 98))
    scaled = np.clip((line - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    row = (scaled * 255.0).astype(np.uint8)[None, :]
    row = cv2.resize(row, (row.shape[1] * _UPSAMPLE, 1), interpolation=cv2.INTER_LINEAR)
    img: Gray = cv2.copyMakeBorder(  # type: ignore[assignment]
        np.repeat(row, _ROWS, axis=0), 8, 8, 40, 40, cv2.BORDER_CONSTANT, value=255
    )
    return img


def decode(p: Profile) -> dict[str, int]:
    """Code 128 texts read from the profile, with the number of blur hypotheses giving each."""
    found: dict[str, int] = {}
    formats = zxingcpp.barcode_formats_from_str("Code128")
    for img in sharpened(p):
        for bc in zxingcpp.read_barcodes(
            img, formats=formats, try_rotate=False, try_downscale=False, try_invert=False
        ):
            text = bc.text[1:] if bc.text.startswith("\x1d") else bc.text
            if text:
                found[text] = found.get(text, 0) + 1
    return found
