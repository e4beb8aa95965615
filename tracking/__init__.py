"""What a code on a parcel label is: tracking codes of the carriers Bipa's operators receive,
and the codes that share the label with them (NF-e access key, CEP barcode, product GTIN).

Pure: imports nothing of ours, so both ``ocr`` (to pick the right code on a busy label) and
``domain`` (the canonical code that dedup and matching use) call the same rules.

    from tracking import identify
    identify('{"id":"41234567890","sender_id":1}', "QRCODE").code   # '41234567890'
"""

from tracking.checks import (
    gtin_check_ok,
    nfe_check_ok,
    s10_check_digit,
    s10_check_ok,
    upce_to_upca,
)
from tracking.codes import (
    Carrier,
    Code,
    Kind,
    Role,
    find_in_text,
    identify,
    is_two_dimensional,
)

__all__ = [
    "Carrier",
    "Code",
    "Kind",
    "Role",
    "find_in_text",
    "gtin_check_ok",
    "identify",
    "is_two_dimensional",
    "nfe_check_ok",
    "s10_check_digit",
    "s10_check_ok",
    "upce_to_upca",
]
