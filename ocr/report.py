"""Result types of a scan: what was found and every attempt that led there."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScanAttempt:
    """One decoding attempt.

    ``method`` is the engine (ZBAR, ZXING, OPENCV for region detection, OCR,
    MANIFEST_MATCH); ``variant`` names the picture it was given ("gray" for
    the untouched picture, "clahe", "upscale2x", "crop1", "rot15", ...).
    """

    method: str
    variant: str
    result: str | None
    elapsed_ms: float

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "variant": self.variant,
            "result": self.result,
            "elapsedMs": round(self.elapsed_ms, 3),
        }


@dataclass(frozen=True)
class FoundCode:
    """One trustworthy code on the picture and what it is (``tracking.Role``)."""

    code: str  # canonical (tracking.identify)
    raw: str  # as decoded: a QR's JSON or URL, case kept
    symbology: str
    role: str
    carrier: str | None
    confidence: float

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "raw": self.raw,
            "symbology": self.symbology,
            "role": self.role,
            "carrier": self.carrier,
            "confidence": round(self.confidence, 3),
        }


@dataclass(frozen=True)
class LabelRecipient:
    """The recipient block of a label, read by Tesseract. Personal data: never logged."""

    name: str | None
    street: str | None
    number: str | None
    complement: str | None
    neighbourhood: str | None
    city: str | None
    state: str | None
    postal_code: str | None  # 8 digits
    confidence: float

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "street": self.street,
            "number": self.number,
            "complement": self.complement,
            "neighbourhood": self.neighbourhood,
            "city": self.city,
            "state": self.state,
            "postalCode": self.postal_code,
            "confidence": round(self.confidence, 3),
        }


@dataclass(frozen=True)
class ScanReport:
    """Outcome of :func:`ocr.scan`.

    ``barcode`` is None when nothing trustworthy was read. ``method`` is the
    stage that produced the answer: ZBAR or ZXING on the untouched picture,
    OPENCV when a preprocessed variant was needed, OCR when the printed digits
    confirmed it, MANIFEST_MATCH when it was matched to an expected code.
    """

    barcode: str | None
    symbology: str | None
    method: str | None
    confidence: float
    elapsed_ms: float
    attempts: tuple[ScanAttempt, ...]
    # ``barcode`` is the canonical code of the package's code; ``raw_text`` what was decoded.
    raw_text: str | None = None
    carrier: str | None = None
    codes: tuple[FoundCode, ...] = ()
    recipient: LabelRecipient | None = None

    @property
    def found(self) -> bool:
        return self.barcode is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "barcode": self.barcode,
            "symbology": self.symbology,
            "method": self.method,
            "confidence": round(self.confidence, 3),
            "elapsedMs": round(self.elapsed_ms, 3),
            "attempts": [a.to_dict() for a in self.attempts],
            **self._label_parts(),
        }

    def _label_parts(self) -> dict[str, object]:
        """Only what a plain read does not already say: an absent ``rawText`` is the barcode,
        absent ``codes`` the barcode alone (a product's or unknown code), no carrier, no
        recipient. Stored reports of plain reads keep their shape."""
        out: dict[str, object] = {}
        if self.raw_text is not None and self.raw_text != self.barcode:
            out["rawText"] = self.raw_text
        if self.carrier is not None:
            out["carrier"] = self.carrier
        plain = len(self.codes) == 1 and (
            self.codes[0].code == self.barcode
            and self.codes[0].carrier is None
            and self.codes[0].role in ("PRODUCT", "OTHER")
        )
        if self.codes and not plain:
            out["codes"] = [c.to_dict() for c in self.codes]
        if self.recipient is not None:
            out["recipient"] = self.recipient.to_dict()
        return out
