"""GTIN arithmetic: mod-10 check digits and UPC-E <-> UPC-A conversion.

All functions take and return digit strings so that leading zeros survive.
"""

from __future__ import annotations

from tracking.checks import GTIN_LENGTHS, gtin_check_digit, gtin_check_ok, upce_to_upca

# The check digit and the UPC-E expansion are the label codes' own (tracking/): one copy.
__all__ = ["GTIN_LENGTHS", "gtin_check_digit", "gtin_check_ok", "upca_to_upce", "upce_to_upca"]


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
