"""The printed line under blurred bars, sharpened by the same blur (a motion's 2D path), confirms
their deconvolved read; regions found from gradients when OpenCV's detector sees none.

Photos from the label benchmark's generator (bench/label_gen.py, seed 13, one per cell):
52 and 64 (Amazon, Loggi: a diagonal shake whose deconvolved bars read right, but whose
printed line Tesseract could not read as photographed), 0 (a sharp Correios label, the
reference for a synthetic shake), 59 (Amazon, crumpled under a striped shadow: no region
from OpenCV's detector).
"""

from __future__ import annotations

import functools
import random

import cv2
import numpy as np
import pytest

from bench import label_gen
from ocr import deconvolve, scan
from ocr import variants as vt
from ocr.digits import _blank_bar_ends, read_code_lines
from ocr.image import load_gray
from ocr.pipeline import _says


@functools.cache
def _photos() -> tuple[label_gen.Photo, ...]:
    return tuple(label_gen.photos(13, 1))


def _gray(photo: label_gen.Photo) -> vt.Gray:
    return load_gray(photo.data, max_bytes=10**8, max_pixels=10**8)


def _tallest(gray: vt.Gray) -> vt.Quad:
    return max(vt.detect_regions(gray), key=lambda q: vt.axes(q)[3])


@pytest.mark.parametrize(("along", "across"), [(11.0, 9.0), (11.0, -9.0), (6.0, 12.0)])
def test_motion_across_the_bars_is_measured_on_their_ends(along: float, across: float) -> None:
    gray = _gray(_photos()[0])
    quad = _tallest(gray)
    assert deconvolve.across(gray, quad, along) == deconvolve.Across(0.0, 0)  # a sharp photo
    kernel = deconvolve._kernel2d(along, across, 0.8)
    shaken = cv2.filter2D(gray.astype(np.float32), -1, kernel).clip(0, 255).astype(np.uint8)
    measured = deconvolve.across(shaken, quad, along)
    assert measured is not None
    assert abs(measured.length - abs(across)) <= 1.5
    assert measured.sign == (1 if across > 0 else -1)


@pytest.mark.parametrize("index", [52, 64])
def test_the_deconvolved_printed_line_says_the_deconvolved_bars(index: int) -> None:
    photo = _photos()[index]
    assert photo.damage == "motion"
    gray = _gray(photo)
    quad = _tallest(gray)
    profile = deconvolve.profile(gray, quad)
    assert profile is not None
    blurs = deconvolve.decode(profile)[photo.label.tracking]
    assert all(b.along > 0 for b in blurs)  # read under motion hypotheses
    lines = read_code_lines(deconvolve.printed_lines(gray, quad, blurs), timeout_s=10.0)
    assert any(_says(line, photo.label.tracking) for line in lines)


@pytest.mark.parametrize("index", [52, 64])
def test_motion_blurred_labels_end_with_their_code_without_a_list(index: int) -> None:
    photo = _photos()[index]
    # Generous budget: on 2 busy cores Tesseract may start late; speed is the bench's business.
    report = scan(photo.data, budget_s=4.0)
    assert report.barcode == photo.label.tracking
    assert report.method == "OCR"


def test_a_printed_line_says_a_code_give_or_take_stray_marks_at_its_ends() -> None:
    assert _says("BR1884395050919A", "BR1884395050919A")
    assert _says("EGSBR1884395050919A", "BR1884395050919A")
    assert not _says("XXXXBR1884395050919A", "BR1884395050919A")
    assert not _says("BR1884395050910A", "BR1884395050919A")


def test_bar_ends_over_the_printed_line_are_blanked() -> None:
    img = np.full((40, 100), 255, np.uint8)
    img[0:5, ::4] = 0  # the bars' ends
    img[12:30, 10:90:8] = 0  # glyphs
    _blank_bar_ends(img)
    assert (img[:5] == 255).all()
    assert (img[12:30] == 0).any()
    glyphs_only = np.full((40, 100), 255, np.uint8)
    glyphs_only[4:30, 10:90:8] = 0  # a line that starts at once: nothing to blank
    before = glyphs_only.copy()
    _blank_bar_ends(glyphs_only)
    assert (glyphs_only == before).all()


def test_gradient_regions_find_the_bars_the_detector_misses() -> None:
    photo = _photos()[59]
    gray = _gray(photo)
    assert vt.detect_regions(gray) == []
    regions = vt.gradient_regions(gray)
    assert regions
    # The biggest is the tracking code: long across its bars, about as long as it is printed.
    _, _, length, height = vt.axes(regions[0])
    assert 380 <= length <= 520 and length >= 2.5 * height


def test_gradient_regions_let_the_expected_list_name_the_label() -> None:
    photo = _photos()[59]
    rng = random.Random(16)
    others = [label_gen.make_label(rng, "AMAZON").tracking for _ in range(50)]
    report = scan(photo.data, [photo.label.tracking, *others], budget_s=4.0)
    assert report.barcode == photo.label.tracking
    assert scan(photo.data, others, budget_s=4.0).barcode is None


def test_a_strip_starting_inside_the_glyphs_keeps_them() -> None:
    img = np.full((40, 100), 255, np.uint8)
    img[0:10, 10:90:8] = 0  # the glyphs' lower half
    before = img.copy()
    _blank_bar_ends(img)
    assert (img == before).all()


def test_each_blur_family_gives_its_lines_defocus_first() -> None:
    photo = _photos()[42]  # a blurred shadow's edge: both families read these bars
    assert photo.damage == "shadow"
    gray = _gray(photo)
    quad = _tallest(gray)
    both = [deconvolve.Blur(0.0, 2.0), deconvolve.Blur(5.5, 0.8), deconvolve.Blur(6.0, 0.8)]
    lines = deconvolve.printed_lines(gray, quad, both)
    assert 3 < len(lines) <= deconvolve._MAX_LINES
    assert len(deconvolve.printed_lines(gray, quad, both[:1])) == 3
    read = read_code_lines(lines[:3], timeout_s=10.0)
    assert any(_says(line, photo.label.tracking) for line in read)
