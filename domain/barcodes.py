"""Barcode validation and the canonical code of a package (tracking.identify).

The canonical code is what dedup and matching use: the same label read through its QR, its
Code 128 or typed by hand gives one code. Check characters are checked where the symbology
says the code has one: the GTIN check for codes read as EAN/UPC (and ITF-14), S10's and the
NF-e key's mod 11 wherever their shape appears. A typed all-digit code of a GTIN length may be
a carrier's number (Jadlog's 14 digits): it is not refused for its last digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tracking

GTIN_LENGTHS = frozenset({8, 12, 13, 14})
MAX_LENGTH = 64
# What a package keeps of the text as read (a Mercado Livre QR's JSON is a few hundred bytes).
MAX_RAW_LENGTH = 4096


@dataclass(frozen=True)
class Rejected:
    """Why a barcode was refused: English `reason`, stable `code`, and the values it needs."""

    barcode: str
    code: str
    reason: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BarcodeCheck:
    barcode: str
    rejected: Rejected | None = None
    carrier: str | None = None
    role: str | None = None
    raw_text: str | None = None

    @property
    def ok(self) -> bool:
        return self.rejected is None


def normalize(raw: str) -> str:
    """Trimmed, inner whitespace removed, letters upper-cased."""
    return "".join(raw.split()).upper()


def canonical(raw: str, symbology: str | None = None) -> str:
    """The code packages are stored and looked up by."""
    return tracking.identify(raw, symbology).code


def gtin_check_digit_ok(digits: str) -> bool:
    return tracking.gtin_check_ok(digits)


def check(raw: str, symbology: str | None = None) -> BarcodeCheck:
    """``symbology`` is what a decoder read the code as; None for a typed code."""
    compact = "".join(raw.split())
    two_d = tracking.is_two_dimensional(symbology)
    # The ASCII rule applies to what was sent: upper-casing "ß" or "ﬁ" would make ASCII of them.
    # A 2D payload may hold any text; its canonical code is checked instead.
    if not two_d and not all(33 <= ord(c) <= 126 for c in compact):
        why = "only printable ASCII characters are allowed"
        return BarcodeCheck(compact, Rejected(compact, "BARCODE_NOT_ASCII", why))
    if len(raw) > MAX_RAW_LENGTH:
        why = f"longer than {MAX_RAW_LENGTH} characters"
        params = {"max": str(MAX_RAW_LENGTH)}
        return BarcodeCheck(compact, Rejected(compact, "BARCODE_TOO_LONG", why, params))
    found = tracking.identify(raw, symbology)
    code = found.code
    if two_d and not all(33 <= ord(c) <= 126 for c in code):
        why = "only printable ASCII characters are allowed"
        return BarcodeCheck(code, Rejected(code, "BARCODE_NOT_ASCII", why))
    if not code:
        return BarcodeCheck(code, Rejected(code, "BARCODE_EMPTY", "empty barcode"))
    if len(code) > MAX_LENGTH:
        why = f"longer than {MAX_LENGTH} characters"
        return BarcodeCheck(code, Rejected(code, "BARCODE_TOO_LONG", why, {"max": str(MAX_LENGTH)}))
    if found.kind is tracking.Kind.BAD_CHECK:
        return BarcodeCheck(code, _bad_check(code, found.failed or ""))
    carrier = found.carrier.value if found.carrier else None
    raw_text = raw.strip() if two_d else compact
    return BarcodeCheck(code, None, carrier, found.role.value, raw_text)


def _bad_check(code: str, failed: str) -> Rejected:
    if failed.startswith("GTIN-"):
        length = failed.removeprefix("GTIN-")
        why = f"invalid {failed} check digit"
        return Rejected(code, "BARCODE_CHECK_DIGIT", why, {"length": length})
    why = f"invalid {failed} check digit"
    return Rejected(code, "TRACKING_CHECK_DIGIT", why, {"format": failed})


def guess_symbology(code: str) -> str | None:
    if code.isdigit():
        return {8: "EAN8", 12: "UPCA", 13: "EAN13", 14: "ITF"}.get(len(code))
    return None
