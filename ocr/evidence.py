"""Trust rules: decide which of the accumulated reads, if any, is the answer.

A checksum alone does not make a retail code trustworthy (ZBar and zxing-cpp
both return checksum-valid misreads on blurry photos), so numeric codes need
two independent reads:

* two different decoders (ZBar, zxing-cpp, or OCR of the printed digits), or
* for EAN-13/UPC-A only, one decoder on pictures with different geometry
  (rescaled, rotated, cropped), and only while no rival text was read at the
  same spot. Photometric variants of the same pixels (CLAHE, sharpening,
  thresholding) repeat the same mistakes and count once.

Text symbologies (QR, Code 128, Code 39, ...) carry strong checks and stand on
one read; an exact read of an expected code stands on one read too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import tracking
from ocr.decoders import NUMERIC_SYMBOLOGIES, OCR, OPENCV, ZBAR, ZXING, Read
from ocr.deconvolve import DECONV
from ocr.gtin import gtin_check_ok, upce_to_upca
from ocr.manifest import Manifest

_BARCODE_DECODERS = frozenset({ZBAR, ZXING})
_LONG_RETAIL = frozenset({"EAN13", "UPCA"})
_WEAK_TEXT = frozenset({"CODABAR"})
_MIN_SINGLE_READ_LEN = 4
_INDEPENDENT = frozenset({ZBAR, ZXING, OCR})
# Codes with a check of their own on top of the symbology's: a reconstructed read of one
# must pass both.
_OWN_CHECK = frozenset({tracking.Kind.S10, tracking.Kind.NFE_KEY})
# A code printed in the label's text (read by Tesseract), not decoded from bars.
PRINTED = "PRINTED"
# Which code a busy label's picture answers: the parcel's own code first; a CEP or an NF-e key
# only says where it goes or what it carries.
ROLE_RANK = {
    tracking.Role.TRACKING: 3.0,
    tracking.Role.OTHER: 2.0,
    tracking.Role.PRODUCT: 2.0,
    tracking.Role.INVOICE_KEY: 1.0,
    tracking.Role.POSTAL_CODE: 0.0,
}


@dataclass(frozen=True)
class Verdict:
    text: str
    symbology: str
    confidence: float
    support: tuple[Read, ...]
    in_expected: bool
    # True when the reads alone (without the expected list) make it trustworthy.
    self_evident: bool
    centre_distance: float
    identity: tracking.Code | None = None

    @property
    def role(self) -> tracking.Role:
        return self.identity.role if self.identity else tracking.Role.OTHER

    @property
    def names_parcel(self) -> bool:
        """A code a package can be keyed by (not a CEP, not an NF-e key)."""
        return self.role not in (tracking.Role.POSTAL_CODE, tracking.Role.INVOICE_KEY)


def check_ok(text: str, symbology: str) -> bool:
    """Whether the symbology's own check character holds (ITF only has one at 14 digits)."""
    if symbology == "UPCE":
        upca = upce_to_upca(text)
        return upca is not None and gtin_check_ok(upca)
    if symbology in {"EAN13", "EAN8", "UPCA"}:
        return gtin_check_ok(text)
    if symbology == "ITF":
        ok_len = len(text) >= 6 and len(text) % 2 == 0 and text.isdigit()
        return ok_len and (len(text) != 14 or gtin_check_ok(text))
    return True


def plausible(reads: Iterable[Read]) -> list[Read]:
    """Reads that may count as evidence at all."""
    reads = list(reads)
    itf = {r.text for r in reads if r.symbology == "ITF"}
    kept: list[Read] = []
    for r in reads:
        if r.decoder == OPENCV or not check_ok(r.text, r.symbology):
            continue
        # ITF has no structure that reveals a truncated scan: a scanline
        # crossing part of the symbol (typical on rotated pictures) yields a
        # shorter, valid-looking code. Keep only maximal reads.
        if r.symbology == "ITF" and (
            r.view.startswith("rot") or any(r.text in t and r.text != t for t in itf)
        ):
            continue
        kept.append(r)
    return kept


def quad_centre(quad: tuple[tuple[float, float], ...]) -> tuple[float, float]:
    return sum(p[0] for p in quad) / len(quad), sum(p[1] for p in quad) / len(quad)


def centre_distance(reads: Iterable[Read], centre: tuple[float, float]) -> float:
    best = float("inf")
    for r in reads:
        if r.quad:
            x, y = quad_centre(r.quad)
            best = min(best, ((x - centre[0]) ** 2 + (y - centre[1]) ** 2) ** 0.5)
    return best


def _views(support: list[Read]) -> int:
    """Most distinct views in which one barcode decoder read this text."""
    per_decoder: dict[str, set[str]] = {}
    for r in support:
        if r.decoder in _BARCODE_DECODERS:
            per_decoder.setdefault(r.decoder, set()).add(r.view)
    return max((len(v) for v in per_decoder.values()), default=0)


def _numeric_confidence(symbology: str, support: list[Read]) -> float:
    decoders = {r.decoder for r in support} & _INDEPENDENT
    if {ZBAR, ZXING} <= decoders:
        return 1.0
    if len(decoders) >= 2:
        return 0.95
    # Only the long EAN/UPC symbols (two halves, guards, check digit) are hard
    # enough to misread consistently for one decoder's repeats to count. UPC-E
    # and EAN-8 fall out of partial scans of bigger symbols, ITF out of
    # truncated ones: they need a second decoder.
    if symbology in _LONG_RETAIL and _views(support) >= 2:
        return 0.9
    return 0.0


Box = tuple[float, float, float, float]


def _box(support: list[Read]) -> Box | None:
    """Bounding box of all located reads, padded a little; None when none is located."""
    points = [p for r in support if r.quad for p in r.quad]
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    pad = 0.05 * max(max(xs) - min(xs), max(ys) - min(ys), 10.0)
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


def _overlap(a: Box | None, b: Box | None) -> bool:
    # An unlocated read (OCR) may belong to any symbol in the picture.
    if a is None or b is None:
        return True
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _outvoted(support: list[Read], rivals: list[list[Read]]) -> bool:
    """A single decoder's repeated read loses to any comparable rival read of the same symbol.

    ZBar and zxing-cpp repeat their own misreads across views (blur and print
    damage do not change with scale), so same-decoder agreement only counts
    when nothing else read at that spot is nearly as well supported.
    """
    views = _views(support)
    box = _box(support)
    return any(_overlap(box, _box(rival)) and _views(rival) > views - 2 for rival in rivals)


def _text_confidence(symbology: str, text: str, support: list[Read]) -> float:
    decoders = {r.decoder for r in support}
    if symbology == PRINTED:
        # Printed text stands alone only for codes whose check character holds
        # (tracking.find_in_text): S10's and the NF-e key's weighted mod 11 catch every
        # single wrong digit. Any other printed text only confirms bars or an expected code.
        return 0.75 if any(c.code == text for c in tracking.find_in_text(text)) else 0.0
    if {ZBAR, ZXING} <= decoders:
        return 1.0
    # One read is enough for symbologies with strong checks, but not for very
    # short texts (a stray scan across any stripes) nor for Codabar, which has
    # no mandatory check character.
    single_ok = len(text) >= _MIN_SINGLE_READ_LEN and symbology not in _WEAK_TEXT
    if not single_ok and _views(support) < 2:
        return 0.0
    if ZXING in decoders:
        return 0.9
    return 0.8 if ZBAR in decoders else 0.0


def _reconstructed(support: list[Read]) -> bool:
    """Every bar read of this text came from a deconvolved profile (ocr.deconvolve)."""
    bars = [r for r in support if r.decoder in _BARCODE_DECODERS]
    return bool(bars) and all(r.view == DECONV for r in bars)


def decide(
    reads: Iterable[Read], manifest: Manifest, centre: tuple[float, float]
) -> Verdict | None:
    """The trustworthy read to report, or None when nothing is trustworthy yet."""
    ranked = trusted(reads, manifest, centre)
    return ranked[0] if ranked else None


def trusted(
    reads: Iterable[Read], manifest: Manifest, centre: tuple[float, float]
) -> list[Verdict]:
    """Every trustworthy read, best first.

    Pictures often show more than one code; the order is: in the expected
    list, stronger evidence, more reads, and finally nearest to the picture
    centre, where the user aimed.
    """
    groups: dict[tuple[str, str], list[Read]] = {}
    for r in plausible(reads):
        groups.setdefault((r.symbology, r.text), []).append(r)
    # ZBar mangles non-ASCII Code 128 and ignores Code 39 full ASCII: where
    # both decoders read a text symbology differently, zxing-cpp wins.
    zxing_text = {
        s
        for (s, _), g in groups.items()
        if s not in NUMERIC_SYMBOLOGIES and any(r.decoder == ZXING for r in g)
    }
    verdicts: list[tuple[tuple[float, ...], Verdict]] = []
    identities = {key: tracking.identify(key[1], key[0]) for key in groups}
    printed = {identities[key].code: g for key, g in groups.items() if key[0] == PRINTED}
    decoded = {identities[key].code for key in groups if key[0] != PRINTED}
    for (symbology, text), group in groups.items():
        support = list(group)
        identity = identities[(symbology, text)]
        if symbology == PRINTED and identity.code in decoded:
            continue  # it confirms the decoded read instead (below)
        if symbology in NUMERIC_SYMBOLOGIES:
            confidence = _numeric_confidence(symbology, support)
            if confidence == 0.9:
                rivals = [g for key, g in groups.items() if key != (symbology, text)]
                if _outvoted(support, rivals):
                    confidence = 0.0
        elif symbology in zxing_text and not any(r.decoder == ZXING for r in support):
            confidence = 0.0
        else:
            confidence = _text_confidence(symbology, text, support)
        if confidence > 0.0 and _reconstructed(support) and identity.kind not in _OWN_CHECK:
            # A deconvolved profile is a reconstruction: ringing can make valid-looking bars.
            confidence = 0.0
        confirming = printed.get(identity.code) if symbology != PRINTED else None
        if confirming:
            # The bars and the digits printed under them say the same: two independent reads.
            confidence = max(confidence, 0.95)
            support = support + confirming
        self_evident = confidence > 0.0
        expected_code = manifest.lookup(text) or manifest.lookup(identity.code)
        if expected_code is not None and any(r.decoder in _INDEPENDENT for r in support):
            confidence = 1.0
        if confidence <= 0.0:
            continue
        distance = centre_distance(support, centre)
        distinct = len({(r.decoder, r.view) for r in support})
        rank = ROLE_RANK[identity.role]
        key = (float(expected_code is not None), rank, confidence, float(distinct), -distance)
        verdict = Verdict(
            expected_code or text,
            symbology,
            confidence,
            tuple(support),
            expected_code is not None,
            self_evident,
            distance,
            identity,
        )
        verdicts.append((key, verdict))
    verdicts.sort(key=lambda kv: kv[0], reverse=True)
    return [v for _, v in verdicts]


def strongly_confirmed(verdict: Verdict) -> bool:
    """Two different decoders agree: no amount of further searching would overturn it."""
    decoders = {r.decoder for r in verdict.support}
    return len(decoders & _INDEPENDENT) >= 2
