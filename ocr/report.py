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
        }
