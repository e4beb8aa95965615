"""GS1 check digits and UPC-E <-> UPC-A conversion."""

from __future__ import annotations

import random

import pytest

from ocr import gtin_check_ok, upca_to_upce, upce_to_upca
from ocr.gtin import gtin_check_digit

VALID = [
    "9780441014989",  # ISBN-13 of a book in the photo set
    "5901234123457",  # GS1's EAN-13 example
    "4006381333931",  # EAN-13 on a retail pen
    "036602301467",  # UPC-A from the photo set
    "96385074",  # EAN-8
    "12345670",  # EAN-8
    "00012345678905",  # GTIN-14 (ITF-14 in the photo set)
    "30712345000010",  # GTIN-14 (ITF-14 in the photo set)
    "049000006346",  # UPC-A expansion of UPC-E 04963406
]


@pytest.mark.parametrize("code", VALID)
def test_valid_gtins_pass(code: str) -> None:
    assert gtin_check_ok(code)


@pytest.mark.parametrize(
    "code",
    [
        "9780441014988",  # last digit changed
        "9780441014999",  # one body digit changed
        "9784071014989",  # two adjacent digits swapped (4<->0)
        "036602301468",
        "96385075",
        "00012345678906",
        "",
        "1234567",  # no GTIN has 7 digits
        "12345678901",  # nor 11
        "123456789012345",  # nor 15
        "978044101498X",
        " 9780441014989",
        "٩٧٨٠٤٤١٠١٤٩٨٩",  # Arabic-Indic digits: isdigit() but not a barcode
    ],
)
def test_invalid_gtins_fail(code: str) -> None:
    assert not gtin_check_ok(code)


def test_every_single_digit_error_is_caught() -> None:
    code = "9780441014989"
    for i in range(len(code)):
        for d in "0123456789":
            if d != code[i]:
                assert not gtin_check_ok(code[:i] + d + code[i + 1 :])


def test_check_digit_rejects_non_digits() -> None:
    with pytest.raises(ValueError):
        gtin_check_digit("12a4")


@pytest.mark.parametrize(
    ("upce", "upca"),
    [
        ("05096893", "050968000093"),  # rule 0-2 (from the photo set README)
        ("04963406", "049000006346"),  # rule 0-2
        ("01234565", "012345000065"),  # rule 5-9
        ("01234531", "012300000451"),  # rule 3
        ("01234145", "012340000015"),  # rule 4
    ],
)
def test_upce_expansion_and_back(upce: str, upca: str) -> None:
    assert upce_to_upca(upce) == upca
    assert upca_to_upce(upca) == upce
    assert upca_to_upce("0" + upca) == upce  # the 13-digit form decoders report
    assert gtin_check_ok(upca)


def test_upce_round_trip_on_random_codes() -> None:
    rnd = random.Random(1)
    for _ in range(500):
        body = rnd.choice("01") + "".join(rnd.choice("0123456789") for _ in range(6))
        expanded = upce_to_upca(body + "0")
        assert expanded is not None
        upce = body + str(gtin_check_digit(expanded[:-1]))
        upca = upce_to_upca(upce)
        assert upca is not None and gtin_check_ok(upca)
        # Some UPC-A numbers have two UPC-E spellings (e.g. 16317062 and the
        # canonical 16317642); compression yields the canonical one.
        short = upca_to_upce(upca)
        assert short is not None and upce_to_upca(short) == upca


@pytest.mark.parametrize("code", ["036602301467", "0036602301467", "9780441014989", "12345", ""])
def test_uncompressible_codes_have_no_upce(code: str) -> None:
    assert upca_to_upce(code) is None


@pytest.mark.parametrize("code", ["2509689", "25096893", "0509689X", "050968933"])
def test_malformed_upce_is_rejected(code: str) -> None:
    # Number system 2 does not exist for UPC-E.
    assert upce_to_upca(code) is None
