"""Barcode scanning for delivery photos: pure, synchronous, no project imports.

    from ocr import scan
    report = scan(png_bytes, expected={"9780441014989"})
    report.barcode, report.method, report.confidence

See ``ocr.pipeline`` for the stages and ``ocr.evidence`` for the trust rules.
"""

from ocr.gtin import gtin_check_ok, upca_to_upce, upce_to_upca
from ocr.image import ImageError
from ocr.photo import Encoded, prepare_photo, prepare_signature
from ocr.pipeline import scan
from ocr.report import FoundCode, LabelRecipient, ScanAttempt, ScanReport

__all__ = [
    "Encoded",
    "FoundCode",
    "ImageError",
    "LabelRecipient",
    "ScanAttempt",
    "ScanReport",
    "gtin_check_ok",
    "prepare_photo",
    "prepare_signature",
    "scan",
    "upca_to_upce",
    "upce_to_upca",
]
