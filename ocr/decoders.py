"""Thin wrappers around ZBar (pyzbar) and zxing-cpp that return normalised reads.

Both libraries report UPC codes in their own ways; everything leaving this
module follows the ZXing conventions of the test set: UPC-A as 12 digits,
UPC-E as its 8 digits, no GS1 FNC1 prefix, Code 39 without start/stop.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import zxingcpp  # type: ignore[import-untyped,unused-ignore]
from pyzbar import pyzbar  # type: ignore[import-untyped,unused-ignore]
from pyzbar.pyzbar import ZBarSymbol  # type: ignore[import-untyped,unused-ignore]

from ocr.gtin import upca_to_upce

Gray = npt.NDArray[np.uint8]
Quad = tuple[tuple[float, float], ...]

ZBAR = "ZBAR"
ZXING = "ZXING"
OPENCV = "OPENCV"
OCR = "OCR"
MANIFEST_MATCH = "MANIFEST_MATCH"

NUMERIC_SYMBOLOGIES = frozenset({"EAN13", "EAN8", "UPCA", "UPCE", "ITF"})


@dataclass(frozen=True)
class Read:
    """One decoded text, tagged with where it came from.

    ``view`` names the geometry of the picture the decoder saw: photometric
    variants of the same pixels share a view, because their errors are
    correlated and so cannot confirm each other.
    """

    text: str
    symbology: str
    decoder: str
    variant: str
    view: str
    quad: Quad | None = None


# Enabling symbologies explicitly makes ZBar report UPC-A/UPC-E as such
# instead of folding both into a 13-digit EAN-13.
_ZBAR_SYMBOLS = [
    ZBarSymbol.EAN13,
    ZBarSymbol.EAN8,
    ZBarSymbol.UPCA,
    ZBarSymbol.UPCE,
    ZBarSymbol.I25,
    ZBarSymbol.CODE128,
    ZBarSymbol.CODE39,
    ZBarSymbol.CODE93,
    ZBarSymbol.QRCODE,
]

_ZBAR_NAMES = {"I25": "ITF"}

# DX film edge and the EAN add-ons produce spurious hits on photos of text.
# Kept as text and turned into zxing-cpp's BarcodeFormats per call (about 10 us): a nanobind
# object held by a module global outlives the extension at interpreter exit, and nanobind then
# prints a "leaked instances/types/functions" dump on every server shutdown.
_ZXING_FORMATS = (
    "EAN13,EAN8,UPCA,UPCE,ITF,Code128,Code39,Code93,Codabar,DataBar,DataBarExpanded,"
    "QRCode,MicroQRCode,DataMatrix,PDF417,Aztec"
)

_ZXING_NAMES = {
    "EAN13": "EAN13",
    "EAN8": "EAN8",
    "UPCA": "UPCA",
    "UPCE": "UPCE",
    "ITF": "ITF",
    "Code128": "CODE128",
    "Code39": "CODE39",
    "Code39Ext": "CODE39",
    "Code39Std": "CODE39",
    "ITF14": "ITF",
    "ISBN": "EAN13",
    "QRCode": "QRCODE",
    "QRCodeModel1": "QRCODE",
    "QRCodeModel2": "QRCODE",
}


def normalise(symbology: str, text: str, upce_hint: str | None = None) -> tuple[str, str] | None:
    """Bring a decoder's (symbology, text) to the README conventions, or None if malformed."""
    if symbology in {"EAN13", "UPCA"}:
        if not text.isascii() or not text.isdigit():
            return None
        if len(text) == 13 and text.startswith("0"):
            # A 13-digit code with leading 0 is bar-for-bar a UPC-A symbol.
            return text[1:], "UPCA"
        if len(text) == 12:
            return text, "UPCA"
        return (text, "EAN13") if len(text) == 13 else None
    if symbology == "UPCE":
        if upce_hint and len(upce_hint) == 8 and upce_hint.isdigit():
            return upce_hint, "UPCE"
        if len(text) == 8 and text.isdigit():
            return text, "UPCE"
        short = upca_to_upce(text)
        return (short, "UPCE") if short else None
    if symbology in {"EAN8", "ITF"}:
        return (text, symbology) if text.isascii() and text.isdigit() else None
    if symbology == "CODE128" and text.startswith("\x1d"):
        text = text[1:]
    if symbology == "CODE39" and len(text) >= 2 and text[0] == text[-1] == "*":
        text = text[1:-1]
    return (text, symbology) if text else None


_ZBAR_BY_NAME = {
    "EAN13": [ZBarSymbol.EAN13, ZBarSymbol.UPCA, ZBarSymbol.UPCE, ZBarSymbol.EAN8],
    "UPCA": [ZBarSymbol.EAN13, ZBarSymbol.UPCA, ZBarSymbol.UPCE, ZBarSymbol.EAN8],
    "UPCE": [ZBarSymbol.EAN13, ZBarSymbol.UPCA, ZBarSymbol.UPCE, ZBarSymbol.EAN8],
    "EAN8": [ZBarSymbol.EAN13, ZBarSymbol.UPCA, ZBarSymbol.UPCE, ZBarSymbol.EAN8],
    "ITF": [ZBarSymbol.I25],
    "CODE128": [ZBarSymbol.CODE128],
    "CODE39": [ZBarSymbol.CODE39],
    "QRCODE": [ZBarSymbol.QRCODE],
}


def zbar_reads(
    gray: Gray, variant: str, view: str, symbologies: Collection[str] = ()
) -> list[Read]:
    """ZBar; ``symbologies`` narrows the search (about a third faster for EAN/UPC only)."""
    symbols = list(_ZBAR_SYMBOLS)
    if symbologies:
        narrowed = {sym for name in symbologies for sym in _ZBAR_BY_NAME.get(name, [])}
        symbols = [sym for sym in _ZBAR_SYMBOLS if sym in narrowed] or symbols
    out: list[Read] = []
    for sym in pyzbar.decode(gray, symbols=symbols):
        raw: bytes = sym.data
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        name = _ZBAR_NAMES.get(sym.type, sym.type)
        norm = normalise(name, text)
        if norm is None:
            continue
        quad = tuple((float(p.x), float(p.y)) for p in sym.polygon) or None
        out.append(Read(norm[0], norm[1], ZBAR, variant, view, quad))
    return out


def zxing_reads(gray: Gray, variant: str, view: str, *, thorough: bool = True) -> list[Read]:
    """zxing-cpp; ``thorough`` adds its own rotated/downscaled/inverted passes.

    Only plain Python values leave this function: no zxing-cpp object outlives the call.
    """
    out: list[Read] = []
    barcodes = zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.barcode_formats_from_str(_ZXING_FORMATS),
        try_rotate=thorough,
        try_downscale=thorough,
        try_invert=thorough,
    )
    for bc in barcodes:
        fmt = bc.format.name
        name = _ZXING_NAMES.get(fmt, fmt.upper())
        extra = bc.extra if isinstance(bc.extra, dict) else {}
        hint = extra.get("UPCE")
        norm = normalise(name, bc.text, hint if isinstance(hint, str) else None)
        if norm is None:
            continue
        pos = bc.position
        quad = tuple(
            (float(p.x), float(p.y))
            for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
        )
        out.append(Read(norm[0], norm[1], ZXING, variant, view, quad))
    return out
