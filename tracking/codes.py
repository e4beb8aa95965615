"""Recognisers: one code's text (and the symbology it was read as) -> what it is.

A parcel label carries several codes: the carrier's tracking code (often twice: a Code 128 and
a QR that says the same thing in another shape), the CEP of the destination, the NF-e access
key, sometimes a product's EAN. Only the tracking code identifies the parcel; ``identify``
tells them apart and gives each its canonical text, so the same label read through its QR, its
Code 128 or typed by hand is the same code.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from tracking.checks import gtin_check_ok, nfe_check_ok, s10_check_ok, upce_to_upca


class Role(enum.StrEnum):
    TRACKING = "TRACKING"  # identifies the parcel: what a package is keyed by
    INVOICE_KEY = "INVOICE_KEY"  # NF-e access key (44 digits)
    POSTAL_CODE = "POSTAL_CODE"  # CEP barcode (8 digits, Code 128)
    PRODUCT = "PRODUCT"  # EAN/UPC/GTIN-14 of the goods
    OTHER = "OTHER"  # nothing we know: kept as read


class Carrier(enum.StrEnum):
    CORREIOS = "CORREIOS"
    POSTAL = "POSTAL"  # an S10 code of another country's post
    MERCADO_LIVRE = "MERCADO_LIVRE"
    SHOPEE = "SHOPEE"
    JADLOG = "JADLOG"
    AMAZON = "AMAZON"
    LOGGI = "LOGGI"


class Kind(enum.StrEnum):
    S10 = "S10"
    ML_SHIPMENT = "ML_SHIPMENT"
    SHOPEE = "SHOPEE"
    JADLOG = "JADLOG"
    AMAZON_TBA = "AMAZON_TBA"
    LOGGI = "LOGGI"
    NFE_KEY = "NFE_KEY"
    CEP = "CEP"
    GTIN = "GTIN"
    OTHER = "OTHER"
    # Shaped like a format with a check character whose check fails: a misread or a typo.
    BAD_CHECK = "BAD_CHECK"


@dataclass(frozen=True)
class Code:
    """``code`` is canonical: what dedup and matching compare. ``raw`` is the text as read."""

    code: str
    role: Role
    kind: Kind
    carrier: Carrier | None
    raw: str
    # For BAD_CHECK: the format whose check failed ("S10", "NFE_KEY", "GTIN-13").
    failed: str | None = None

    @property
    def identifies_parcel(self) -> bool:
        return self.role in (Role.TRACKING, Role.OTHER)


RETAIL = frozenset({"EAN13", "EAN8", "UPCA", "UPCE"})
# Symbologies whose payload is free text (JSON, URLs, vCards): never case-folded.
TWO_DIMENSIONAL = frozenset({"QRCODE", "DATAMATRIX", "PDF417", "AZTEC", "MICROQRCODE"})

_S10 = re.compile(r"[A-Z]{2}\d{9}[A-Z]{2}")
_SHOPEE = re.compile(r"BR\d{13}[A-Z]")
_AMAZON = re.compile(r"TBA\d{12}")
# Mercado Livre shipment ids: 11 digits, starting with 4 (the Code 128 of its labels and
# the "id" of its QR).
_ML_SHIPMENT = re.compile(r"4\d{10}")
_LOGGI_HOSTS = ("loggi.com",)
_URL_CODE_KEYS = ("objeto", "objetos", "codigo", "code", "tracking", "trackingcode", "id", "cte")


def is_two_dimensional(symbology: str | None) -> bool:
    return (symbology or "").upper() in TWO_DIMENSIONAL


def _compact(text: str) -> str:
    return "".join(text.split())


def identify(raw: str, symbology: str | None = None) -> Code:
    """What ``raw`` is, read as ``symbology`` (None: typed, or unknown).

    The GTIN check applies to codes read as EAN/UPC (and ITF-14): a typed all-digit code of
    a GTIN length may be a carrier's number, so it is not refused for its last digit.
    """
    sym = (symbology or "").upper() or None
    text = raw.strip()
    if text.startswith("{"):
        found = _mercado_livre_json(text)
        if found is not None:
            return found
    if text.lower().startswith(("http://", "https://")):
        found = _from_url(text)
        if found is not None:
            return found
    if sym in TWO_DIMENSIONAL and any(c.isspace() for c in text):
        # A multi-line payload (vCard, note): nothing of ours; kept exactly as read.
        return Code(raw, Role.OTHER, Kind.OTHER, None, raw)
    compact = _compact(text)
    upper = compact.upper()
    code = _code_of(upper, sym, raw)
    if code.kind is Kind.OTHER and sym in TWO_DIMENSIONAL:
        inner = _embedded_s10(upper)
        if inner is not None:
            # The Correios DataMatrix packs CEPs, the object code and service data in one run
            # of digits and letters: the object code inside is the parcel's.
            return Code(inner, Role.TRACKING, Kind.S10, Carrier.CORREIOS, raw)
        # Unknown 2D payloads keep their case: URLs and tokens are case-sensitive.
        return Code(compact, Role.OTHER, Kind.OTHER, None, raw)
    return code


_EMBEDDED_S10 = re.compile(r"(?<![A-Z])([A-Z]{2}\d{9}BR)")


def _embedded_s10(text: str) -> str | None:
    found = {m.group(1) for m in _EMBEDDED_S10.finditer(text) if s10_check_ok(m.group(1))}
    return found.pop() if len(found) == 1 else None


def _code_of(upper: str, sym: str | None, raw: str) -> Code:
    if sym in RETAIL and not (upper.isascii() and upper.isdigit()):
        sym = None  # no decoder reads letters as EAN/UPC: the symbology was a guess
    if sym in RETAIL or (sym == "ITF" and len(upper) == 14):
        return _gtin(upper, sym, raw)
    if upper.isascii() and upper.isdigit():
        return _numeric(upper, sym, raw)
    if _S10.fullmatch(upper):
        if not s10_check_ok(upper):
            return Code(upper, Role.OTHER, Kind.BAD_CHECK, None, raw, failed="S10")
        carrier = Carrier.CORREIOS if upper.endswith("BR") else Carrier.POSTAL
        return Code(upper, Role.TRACKING, Kind.S10, carrier, raw)
    if _SHOPEE.fullmatch(upper):
        return Code(upper, Role.TRACKING, Kind.SHOPEE, Carrier.SHOPEE, raw)
    if _AMAZON.fullmatch(upper):
        return Code(upper, Role.TRACKING, Kind.AMAZON_TBA, Carrier.AMAZON, raw)
    return Code(upper, Role.OTHER, Kind.OTHER, None, raw)


def _gtin(digits: str, sym: str | None, raw: str) -> Code:
    ok = digits.isascii() and digits.isdigit()
    if ok and sym == "UPCE":
        upca = upce_to_upca(digits)
        ok = upca is not None and gtin_check_ok(upca)
    elif ok:
        ok = gtin_check_ok(digits)
    if not ok:
        return Code(digits, Role.OTHER, Kind.BAD_CHECK, None, raw, failed=f"GTIN-{len(digits)}")
    return Code(digits, Role.PRODUCT, Kind.GTIN, None, raw)


def _numeric(digits: str, sym: str | None, raw: str) -> Code:
    n = len(digits)
    if n == 44:
        if not nfe_check_ok(digits):
            return Code(digits, Role.OTHER, Kind.BAD_CHECK, None, raw, failed="NFE_KEY")
        return Code(digits, Role.INVOICE_KEY, Kind.NFE_KEY, None, raw)
    if n == 8 and sym == "CODE128":
        # Correios print the destination CEP as an 8-digit Code 128; an 8-digit EAN is read
        # as EAN8 and never gets here.
        return Code(digits, Role.POSTAL_CODE, Kind.CEP, None, raw)
    if n == 14 and sym in (None, "CODE128"):
        return Code(digits, Role.TRACKING, Kind.JADLOG, Carrier.JADLOG, raw)
    if sym in (None, "CODE128") and _ML_SHIPMENT.fullmatch(digits):
        return Code(digits, Role.TRACKING, Kind.ML_SHIPMENT, Carrier.MERCADO_LIVRE, raw)
    return Code(digits, Role.OTHER, Kind.OTHER, None, raw)


def _mercado_livre_json(text: str) -> Code | None:
    """Mercado Livre's label QR: ``{"id":"41234567890","t":"lm"}`` (or with ``sender_id``,
    ``hash_code``, ``security_digit``): the shipment id is what its Code 128 says."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    shipment = data.get("id")
    if isinstance(shipment, int) and not isinstance(shipment, bool):
        shipment = str(shipment)
    if not isinstance(shipment, str) or not shipment.isascii() or not shipment.isdigit():
        return None
    ml_keys = {"sender_id", "hash_code", "security_digit", "t"}
    if not (ml_keys & data.keys()) and not _ML_SHIPMENT.fullmatch(shipment):
        return None
    return Code(shipment, Role.TRACKING, Kind.ML_SHIPMENT, Carrier.MERCADO_LIVRE, text)


def _from_url(text: str) -> Code | None:
    """A tracking page URL (QR on Loggi, Correios, Shopee labels): the code it names."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    loggi = any(host == h or host.endswith("." + h) for h in _LOGGI_HOSTS)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    candidates = [v for k, v in pairs if k.lower() in _URL_CODE_KEYS]
    # "?BR2412345678901A": a bare code is parsed as a key with no value.
    candidates += [v for _, v in pairs] + [k for k, v in pairs if not v]
    candidates += [unquote(seg) for seg in reversed(parts.path.split("/")) if seg]
    for value in candidates:
        found = _code_of(_compact(value).upper(), None, text)
        if found.role is Role.TRACKING:
            return Code(found.code, found.role, found.kind, found.carrier, text)
    if loggi:
        # Loggi's label QR is its tracking page; the last path segment is the package code.
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if segments and segments[-1].isalnum() and 6 <= len(segments[-1]) <= 40:
            return Code(segments[-1].upper(), Role.TRACKING, Kind.LOGGI, Carrier.LOGGI, text)
    return None


# Printed codes in OCR text: letters and digits may be split by spaces ("AA 123 456 785 BR").
_TEXT_S10 = re.compile(r"\b([A-Z]{2})\s?(\d{3})\s?(\d{3})\s?(\d{3})\s?([A-Z]{2})\b")
_TEXT_NFE = re.compile(r"(?<!\d)((?:\d[\s.]?){43}\d)(?!\d)")
_TEXT_CEP = re.compile(r"(?<!\d)(\d{5})[-\s.]?(\d{3})(?!\d)")


def find_in_text(text: str) -> list[Code]:
    """Codes with a check character found in OCR text of a label (printed under the bars).

    Only formats whose check makes a random misread unlikely to pass (S10's mod 11, the
    NF-e key's mod 11) count as evidence on their own.
    """
    out: list[Code] = []
    upper = text.upper()
    for m in _TEXT_S10.finditer(upper):
        code = "".join(m.groups())
        if s10_check_ok(code):
            carrier = Carrier.CORREIOS if code.endswith("BR") else Carrier.POSTAL
            out.append(Code(code, Role.TRACKING, Kind.S10, carrier, m.group(0)))
    for m in _TEXT_NFE.finditer(upper):
        key = "".join(ch for ch in m.group(1) if ch.isdigit())
        if nfe_check_ok(key):
            out.append(Code(key, Role.INVOICE_KEY, Kind.NFE_KEY, None, m.group(0)))
    return out


def find_postal_codes(text: str) -> list[str]:
    """CEPs written as ``01310-100`` or ``01310100`` in text."""
    return ["".join(m.groups()) for m in _TEXT_CEP.finditer(text)]
