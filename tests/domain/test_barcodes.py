"""Barcode normalization and validation, with GTIN check digits computed independently."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.barcodes import (
    MAX_LENGTH,
    BarcodeCheck,
    check,
    gtin_check_digit_ok,
    guess_symbology,
    normalize,
)

# Real GTINs printed on products and in the GS1 examples.
VALID_GTINS = [
    "96385074",  # GTIN-8 (EAN-8)
    "036000291452",  # GTIN-12 (UPC-A)
    "4006381333931",  # GTIN-13
    "9780201379624",  # GTIN-13 (ISBN-13)
    "7891000315507",  # GTIN-13
    "00012345600012",  # GTIN-14
]


# The symbology a decoder reports for each GTIN length.
READ_AS = {8: "EAN8", 12: "UPCA", 13: "EAN13", 14: "ITF"}


def gs1_check_digit(body: str) -> int:
    """The GS1 rule, written differently from the code under test: pad to 17 digits and
    weight 3,1,3,1,... from the left."""
    padded = body.rjust(17, "0")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(padded))
    return -total % 10


def test_reference_check_digits_agree_with_the_real_codes() -> None:
    for code in VALID_GTINS:
        assert gs1_check_digit(code[:-1]) == int(code[-1]), code


@pytest.mark.parametrize("code", VALID_GTINS)
def test_valid_gtins(code: str) -> None:
    assert gtin_check_digit_ok(code)
    result = check(code)
    assert result.ok and result.barcode == code and result.rejected is None


@pytest.mark.parametrize(
    ("code", "wrong"), [(c, d) for c in VALID_GTINS for d in "0123456789" if d != c[-1]]
)
def test_every_wrong_check_digit_is_refused(code: str, wrong: str) -> None:
    bad = code[:-1] + wrong
    assert not gtin_check_digit_ok(bad)
    # The GTIN check applies to codes read as EAN/UPC (ITF-14); typed ones: see below.
    result = check(bad, READ_AS[len(bad)])
    assert not result.ok
    assert result.rejected is not None
    assert result.rejected.reason == f"invalid GTIN-{len(bad)} check digit"
    assert result.rejected.code == "BARCODE_CHECK_DIGIT"
    assert result.rejected.params == {"length": str(len(bad))}


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.sampled_from([8, 12, 13, 14]).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n - 1, max_size=n - 1)
    ),
    st.integers(min_value=0, max_value=9),
)
def test_check_digit_matches_the_gs1_rule(body: str, last: int) -> None:
    code = f"{body}{last}"
    assert gtin_check_digit_ok(code) is (last == gs1_check_digit(body))
    assert check(code, READ_AS[len(code)]).ok is (last == gs1_check_digit(body))
    assert check(code).ok, "a typed code of a GTIN length may be a carrier's number (#13)"


@pytest.mark.parametrize("code", ["1234567", "123456789", "12345678901", "123456789012345", "1"])
def test_numeric_codes_of_other_lengths_are_not_gtins(code: str) -> None:
    assert not gtin_check_digit_ok(code)
    assert check(code).ok, "only GTIN lengths carry a check digit"
    assert guess_symbology(code) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 7891000315507 ", "7891000315507"),
        ("9638 5074", "96385074"),
        ("\t0360\n0029 1452\r", "036000291452"),
        ("lbr-000123-sp", "LBR-000123-SP"),
        ("  abc def  ", "ABCDEF"),
        ("Ab\u00a0C", "ABC"),  # a no-break space is whitespace too
    ],
)
def test_normalization(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert check(raw).barcode == expected
    assert normalize(expected) == expected, "normalization is idempotent"


def test_a_gtin_is_checked_after_normalization() -> None:
    assert check(" 4006 3813 3393 1 ", "EAN13").ok
    assert _reason(check(" 4006 3813 3393 2 ", "EAN13")) == "invalid GTIN-13 check digit"


@pytest.mark.parametrize(
    ("code", "symbology"),
    [
        ("96385074", "EAN8"),
        ("036000291452", "UPCA"),
        ("4006381333931", "EAN13"),
        ("00012345600012", "ITF"),
        ("LBR-1", None),
    ],
)
def test_symbology_guess(code: str, symbology: str | None) -> None:
    assert guess_symbology(code) == symbology


@pytest.mark.parametrize("raw", ["", " ", "\t\n", "\u00a0"])
def test_empty_barcodes(raw: str) -> None:
    result = check(raw)
    assert not result.ok and _reason(result) == "empty barcode"


def test_length_limit_is_64_after_normalization() -> None:
    assert MAX_LENGTH == 64
    assert check("X" * 64).ok
    assert check(" " + "X" * 32 + " " + "X" * 32 + " ").ok, "spaces do not count"
    too_long = check("X" * 65)
    assert not too_long.ok and _reason(too_long) == "longer than 64 characters"


def test_printable_ascii_boundaries() -> None:
    assert check(chr(33) + chr(126)).ok  # "!" and "~", the first and last printable
    for code in range(0, 33):
        if chr(code).isspace():
            continue  # whitespace is removed by normalization
        assert not check(f"A{chr(code)}B").ok, code
    assert not check("A\x7fB").ok  # DEL


@pytest.mark.parametrize(
    "raw",
    ["caixa com ç", "PAC\u00e9", "№123", "ABC\u200b", "\U0001f4e6", "\uff11\uff12\uff13"],
    ids=repr,
)
def test_non_ascii_is_refused(raw: str) -> None:
    result = check(raw)
    assert not result.ok
    assert _reason(result) == "only printable ASCII characters are allowed"
    assert result.rejected is not None and result.rejected.code == "BARCODE_NOT_ASCII"


@pytest.mark.parametrize(
    "raw",
    ["stra\u00dfe", "\ufb01-100", "\u017f42", "\u0131d-7"],  # ß, the fi ligature, long s, dotless i
    ids=repr,
)
def test_non_ascii_letters_do_not_become_ascii_by_upper_casing(raw: str) -> None:
    """The printable-ASCII rule is about what was sent: upper-casing must not turn a
    non-ASCII letter into ASCII ones ("ß" -> "SS"), or "stra\u00dfe" and "STRASSE" would be one
    package."""
    result = check(raw)
    assert not result.ok, f"{raw!r} was accepted as {result.barcode!r}"


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.text(max_size=80))
def test_accepted_barcodes_are_always_storable(raw: str) -> None:
    result = check(raw)
    if result.ok:
        assert 1 <= len(result.barcode) <= MAX_LENGTH
        assert all(33 <= ord(c) <= 126 for c in result.barcode)
        assert result.barcode == result.barcode.upper()
        assert all(33 <= ord(c) <= 126 for c in raw if not c.isspace()), raw
    else:
        assert result.rejected is not None and result.rejected.reason


def _reason(result: BarcodeCheck) -> str | None:
    return result.rejected.reason if result.rejected is not None else None
