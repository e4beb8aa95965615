"""GTIN arithmetic: mod-10 check digits and UPC-E <-> UPC-A conversion.

All functions take and return digit strings so that leading zeros survive.
"""

from __future__ import annotations

GTIN_LENGTHS = frozenset({8, 12, 13, 14})


def gtin_check_digit(body: str) -> int:
    """Check digit for a GTIN body (the code without its last digit).

    GS1 weights alternate 3,1,... starting from the rightmost body digit, which
    makes the same function valid for GTIN-8, -12, -13 and -14.
    """
    if not body.isdigit():
        raise ValueError(f"not a digit string: {body!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_check_ok(digits: str) -> bool:
    """True for an 8, 12, 13 or 14 digit code whose last digit is its GS1 check digit."""
    if len(digits) not in GTIN_LENGTHS or not digits.isascii() or not digits.isdigit():
        return False
    return gtin_check_digit(digits[:-1]) == int(digits[-1])


def upce_to_upca(upce: str) -> str | None:
    """Expand an 8-digit UPC-E (number system, 6 data digits, check) to 12-digit UPC-A.

    Returns None when the input is not a well-formed UPC-E; only number systems
    0 and 1 exist for UPC-E.
    """
    if len(upce) != 8 or not upce.isascii() or not upce.isdigit() or upce[0] not in "01":
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


def upca_to_upce(upca: str) -> str | None:
    """Compress a 12-digit UPC-A to its 8-digit UPC-E form, or None if it has none.

    Also accepts the 13-digit EAN form with a leading 0, which is how ZBar and
    zxing-cpp report UPC-E symbols.
    """
    if len(upca) == 13 and upca.startswith("0"):
        upca = upca[1:]
    if len(upca) != 12 or not upca.isascii() or not upca.isdigit() or upca[0] not in "01":
        return None
    ns, m, check = upca[0], upca[1:11], upca[11]
    candidates: list[str] = []
    if m[2] in "012" and m[3:7] == "0000":
        candidates.append(m[0:2] + m[7:10] + m[2])
    if m[3:8] == "00000":
        candidates.append(m[0:3] + m[8:10] + "3")
    if m[4:9] == "00000":
        candidates.append(m[0:4] + m[9] + "4")
    if m[5:9] == "0000" and m[9] in "56789":
        candidates.append(m[0:5] + m[9])
    for data in candidates:
        upce = ns + data + check
        # Round-tripping rejects the rare compressions that expand to another number.
        if upce_to_upca(upce) == ns + m + check:
            return upce
    return None
