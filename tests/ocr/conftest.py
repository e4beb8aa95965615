"""Shared fixtures: the real-photo barcode set and the pipeline's results on it.

The set lives in ``tests/photos`` (README.md and NOTICE there; BIPA_BARCODES_DIR points
the tests at another folder of the same layout). Results are computed once per session because several
tests look at different properties of the same run.
"""

from __future__ import annotations

import os
import random
import string
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocr import ScanReport, scan
from ocr.gtin import gtin_check_digit, upce_to_upca

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")


PHOTOS = Path(__file__).resolve().parents[1] / "photos"


def barcodes_dir() -> Path:
    return Path(os.environ.get("BIPA_BARCODES_DIR") or PHOTOS)


@dataclass(frozen=True)
class Photo:
    set_name: str
    name: str
    expected: str
    data: bytes

    @property
    def key(self) -> str:
        return f"{self.set_name}/{self.name}"

    @property
    def family(self) -> str:
        return self.set_name.split("-")[0]


def load_photos(root: Path) -> list[Photo]:
    photos: list[Photo] = []
    for set_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for img in sorted(p for p in set_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            txt = set_dir / (img.name.split(".")[0] + ".txt")
            if txt.exists():
                # Byte-exact: some QR payloads end lines with CRLF.
                with open(txt, "rb") as fh:
                    expected = fh.read().decode("utf-8")
                photos.append(Photo(set_dir.name, img.name, expected, img.read_bytes()))
    return photos


def random_code(family: str, like: str, rnd: random.Random) -> str:
    def digits(n: int) -> str:
        return "".join(rnd.choice(string.digits) for _ in range(n))

    if family in {"ean13", "upca", "ean8"}:
        body = digits({"ean13": 12, "upca": 11, "ean8": 7}[family])
        return body + str(gtin_check_digit(body))
    if family == "upce":
        body = "0" + digits(6)
        upca = upce_to_upca(body + "0")
        assert upca is not None
        return body + str(gtin_check_digit(upca[:-1]))
    if family == "itf":
        if len(like) == 14:
            body = digits(13)
            return body + str(gtin_check_digit(body))
        return digits(len(like))
    return "".join(rnd.choice(string.ascii_uppercase + string.digits) for _ in range(len(like)))


def expected_lists(
    photos: list[Photo], extra: int = 200, seed: int = 7
) -> dict[str, frozenset[str]]:
    """Per set: its own codes plus ``extra`` random valid codes of the same symbology."""
    rnd = random.Random(seed)
    own: dict[str, set[str]] = {}
    for p in photos:
        own.setdefault(p.set_name, set()).add(p.expected)
    lists: dict[str, frozenset[str]] = {}
    for set_name, codes in sorted(own.items()):
        family = set_name.split("-")[0]
        decoys: set[str] = set()
        while len(decoys) < extra:
            code = random_code(family, rnd.choice(sorted(codes)), rnd)
            if code not in codes:
                decoys.add(code)
        lists[set_name] = frozenset(codes | decoys)
    return lists


@pytest.fixture(scope="session")
def photos() -> list[Photo]:
    root = barcodes_dir()
    # The photos ship with the repository: their absence is a broken checkout, not a skip.
    if not root.is_dir():
        pytest.fail(f"barcode photos not found at {root}")
    found = load_photos(root)
    if not found:
        pytest.fail(f"no photos with expected text under {root}")
    return found


@pytest.fixture(scope="session")
def photo(photos: list[Photo]) -> dict[str, Photo]:
    return {p.key: p for p in photos}


@pytest.fixture(scope="session")
def reports(photos: list[Photo]) -> dict[str, ScanReport]:
    """The pipeline on every photo, without an expected list."""
    return {p.key: scan(p.data) for p in photos}


@pytest.fixture(scope="session")
def reports_with_expected(photos: list[Photo]) -> dict[str, ScanReport]:
    """The pipeline on every photo, with its set's codes plus 200 decoys as expected list."""
    lists = expected_lists(photos)
    return {p.key: scan(p.data, lists[p.set_name]) for p in photos}
