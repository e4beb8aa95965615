"""Barcode normalization and validation (GTIN check digits for numeric retail codes)."""

from __future__ import annotations

from dataclasses import dataclass, field

GTIN_LENGTHS = frozenset({8, 12, 13, 14})
MAX_LENGTH = 64


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

    @property
    def ok(self) -> bool:
        return self.rejected is None


def normalize(raw: str) -> str:
    """Trimmed, inner whitespace removed, letters upper-cased."""
    return "".join(raw.split()).upper()


def gtin_check_digit_ok(digits: str) -> bool:
    if not digits.isdigit() or len(digits) not in GTIN_LENGTHS:
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def check(raw: str) -> BarcodeCheck:
    compact = "".join(raw.split())
    # The ASCII rule applies to what was sent: upper-casing "ß" or "ﬁ" would make ASCII of them.
    if not all(33 <= ord(c) <= 126 for c in compact):
        why = "only printable ASCII characters are allowed"
        return BarcodeCheck(compact, Rejected(compact, "BARCODE_NOT_ASCII", why))
    code = compact.upper()
    if not code:
        return BarcodeCheck(code, Rejected(code, "BARCODE_EMPTY", "empty barcode"))
    if len(code) > MAX_LENGTH:
        why = f"longer than {MAX_LENGTH} characters"
        return BarcodeCheck(code, Rejected(code, "BARCODE_TOO_LONG", why, {"max": str(MAX_LENGTH)}))
    if code.isdigit() and len(code) in GTIN_LENGTHS and not gtin_check_digit_ok(code):
        why = f"invalid GTIN-{len(code)} check digit"
        return BarcodeCheck(
            code, Rejected(code, "BARCODE_CHECK_DIGIT", why, {"length": str(len(code))})
        )
    return BarcodeCheck(code)


def guess_symbology(code: str) -> str | None:
    if code.isdigit():
        return {8: "EAN8", 12: "UPCA", 13: "EAN13", 14: "ITF"}.get(len(code))
    return None
