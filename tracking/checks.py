"""Check characters of the formats found on Brazilian parcel labels.

Every function takes and returns strings, so leading zeros survive.
"""

from __future__ import annotations

GTIN_LENGTHS = frozenset({8, 12, 13, 14})
# UPU S10 (the Correios "objeto" code): weights of the 8 serial digits.
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def gtin_check_digit(body: str) -> int:
    """Check digit for a GTIN body (the code without its last digit).

    GS1 weights alternate 3,1,... starting from the rightmost body digit, which makes the
    same function valid for GTIN-8, -12, -13 and -14.
    """
    if not _digits(body):
        raise ValueError(f"not a digit string: {body!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_check_ok(digits: str) -> bool:
    """GS1 mod-10 check of an 8, 12, 13 or 14 digit code."""
    if len(digits) not in GTIN_LENGTHS or not _digits(digits):
        return False
    return gtin_check_digit(digits[:-1]) == int(digits[-1])


def upce_to_upca(upce: str) -> str | None:
    """The 12-digit UPC-A an 8-digit UPC-E stands for, or None if it is not a UPC-E."""
    if len(upce) != 8 or not _digits(upce) or upce[0] not in "01":
        return None
    ns, d, check = upce[0], upce[1:7], upce[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


def s10_check_digit(serial: str) -> int:
    """UPU S10 check digit of the 8 serial digits (mod 11; 10 -> 0, 11 -> 5)."""
    if len(serial) != 8 or not _digits(serial):
        raise ValueError(f"an S10 serial is 8 digits, got {serial!r}")
    rest = sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS, strict=True)) % 11
    check = 11 - rest
    return {10: 0, 11: 5}.get(check, check)


def s10_check_ok(code: str) -> bool:
    """``AA123456785BR``: two letters, 8 serial digits, the check digit, two letters."""
    if len(code) != 13 or not code.isascii():
        return False
    prefix, serial, check, country = code[:2], code[2:10], code[10], code[11:]
    if not (prefix.isalpha() and country.isalpha() and _digits(serial) and _digits(check)):
        return False
    return s10_check_digit(serial) == int(check)


def nfe_check_digit(body: str) -> int:
    """Check digit of the 43 first digits of an NF-e access key (mod 11, weights 2..9)."""
    if len(body) != 43 or not _digits(body):
        raise ValueError("an NF-e key body is 43 digits")
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(body)))
    rest = total % 11
    return 0 if rest < 2 else 11 - rest


def nfe_check_ok(key: str) -> bool:
    """The 44-digit access key of an NF-e/NFC-e (the DANFE barcode) with its check digit."""
    if len(key) != 44 or not _digits(key):
        return False
    return nfe_check_digit(key[:43]) == int(key[43])
