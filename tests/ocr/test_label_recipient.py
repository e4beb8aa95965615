"""The recipient block read from generated parcel-label photos (bench/label_gen.py, fixed seed).

The first pass read the CEP on 9 of 72 benchmark photos (Tesseract on the whole, tilted
photo); the block is now cut out upright under the tracking code, with its bars painted out.
"""

from __future__ import annotations

import random

import pytest

from bench import label_gen
from ocr import label, scan

SEED = 13


def _photo(carrier: str, damage: str, seed: int = SEED) -> label_gen.Photo:
    rng = random.Random(seed)
    lab = label_gen.make_label(rng, carrier)
    data, applied = label_gen.photograph(label_gen.render_label(lab, rng), damage, rng)
    return label_gen.Photo(lab, damage, data, applied)


@pytest.mark.parametrize(
    ("carrier", "damage"),
    [
        ("CORREIOS", "clean"),
        ("MERCADO_LIVRE", "rotation"),
        ("SHOPEE", "lowlight"),
        ("AMAZON", "crumple"),
        ("JADLOG", "perspective"),
    ],
)
def test_recipient_cep_city_and_street_read_from_the_label(carrier: str, damage: str) -> None:
    photo = _photo(carrier, damage)
    report = scan(photo.data, read_recipient=True)
    assert report.recipient is not None
    assert report.recipient.postal_code == photo.label.cep
    assert report.recipient.state == photo.label.uf
    assert report.recipient.number == photo.label.number
    assert report.recipient.confidence > 0.3


def test_label_outline_found_upright_on_a_rotated_photo() -> None:
    photo = _photo("CORREIOS", "rotation")
    from ocr.image import load_gray

    quad = label.find_label(load_gray(photo.data, max_bytes=10**8, max_pixels=10**8))
    assert quad is not None
    x0, x1 = quad[0][0], quad[1][0]
    # tl -> tr runs left to right: the label is read upright, not upside down.
    assert x1 > x0


def test_a_shadow_edge_is_not_taken_for_the_label() -> None:
    # The lit part of a half-shaded label is a trapezoid: no label outline, rather than a
    # warped, upside-down one.
    photo = _photo("CORREIOS", "shadow", seed=21)
    from ocr.image import load_gray

    quad = label.find_label(load_gray(photo.data, max_bytes=10**8, max_pixels=10**8))
    if quad is not None:
        assert quad[1][0] > quad[0][0]


def test_recipient_never_comes_from_the_sender_block() -> None:
    for damage in ("clean", "noise"):
        photo = _photo("LOGGI", damage)
        report = scan(photo.data, read_recipient=True)
        if report.recipient is not None and report.recipient.postal_code is not None:
            assert report.recipient.postal_code != "04567000"  # the sender's CEP
