"""Decode rate, misreads and latency of the ocr pipeline on the real-photo barcode set.

    .venv/bin/python bench/scan_accuracy.py [DIR] [--seed N] [--sets ean13-2,upca-1]

DIR defaults to $BIPA_BARCODES_DIR or the repository's ``tests/photos``. Layout and
conventions: tests/photos/README.md (``<set>/<name>.png`` plus a
byte-exact ``<name>.txt``; the set-name prefix gives the symbology).

In one run, for every image: the pipeline without an expected list, pyzbar
alone and zxing-cpp alone (both allowed the README's UPC-A/UPC-E forms), and
the pipeline again with an expected list made of the set's own codes plus 200
random valid codes of the same symbology. All timings start from the file's
bytes (image decoding included) so the ratios compare like with like.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp  # type: ignore[import-untyped,unused-ignore]
from pyzbar import pyzbar  # type: ignore[import-untyped,unused-ignore]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ocr import scan
from ocr.gtin import gtin_check_digit, upce_to_upca

T = TypeVar("T")
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
RANDOM_CODES = 200


def default_dir() -> Path:
    env = os.environ.get("BIPA_BARCODES_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "tests" / "photos"


@dataclass
class Sample:
    set_name: str
    path: Path
    expected: str
    data: bytes

    @property
    def family(self) -> str:
        return self.set_name.split("-")[0]


@dataclass
class Tally:
    images: int = 0
    ok: int = 0
    misreads: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)

    def add(self, name: str, outcome: str, ms: float) -> None:
        self.images += 1
        self.ms.append(ms)
        if outcome == "ok":
            self.ok += 1
        elif outcome == "wrong":
            self.misreads.append(name)
        else:
            self.failed.append(name)

    def merge(self, other: Tally) -> None:
        self.images += other.images
        self.ok += other.ok
        self.misreads += other.misreads
        self.failed += other.failed
        self.ms += other.ms

    def median(self) -> float:
        return statistics.median(self.ms) if self.ms else 0.0

    def p95(self) -> float:
        if not self.ms:
            return 0.0
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def line(self, label: str) -> str:
        rate = 100.0 * self.ok / max(1, self.images)
        return (
            f"{label:26s} {self.images:4d} {self.ok:4d} {rate:6.1f}% {len(self.misreads):5d}"
            f" {self.median():8.2f} {self.p95():8.2f}"
        )


def load(root: Path, only: set[str]) -> list[Sample]:
    samples: list[Sample] = []
    for set_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if only and set_dir.name not in only:
            continue
        for img in sorted(p for p in set_dir.iterdir() if p.suffix.lower() in IMAGE_EXT):
            txt = set_dir / (img.name.split(".")[0] + ".txt")
            if not txt.exists():
                continue
            with open(txt, "rb") as fh:
                expected = fh.read().decode("utf-8")
            samples.append(Sample(set_dir.name, img, expected, img.read_bytes()))
    return samples


def accepted_forms(family: str, expected: str) -> set[str]:
    """README allowance for the plain decoders: 13-digit UPC-A, UPC-E expansions."""
    forms = {expected}
    if family == "upca":
        forms.add("0" + expected)
    elif family == "upce":
        upca = upce_to_upca(expected)
        if upca:
            forms.update({upca, "0" + upca})
    return forms


def gray_of(data: bytes) -> npt.NDArray[np.uint8]:
    buf = np.frombuffer(data, dtype=np.uint8)
    gray: npt.NDArray[np.uint8] = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)  # type: ignore[assignment]
    return gray


def zbar_texts(data: bytes) -> list[str]:
    out = []
    for sym in pyzbar.decode(gray_of(data)):
        try:
            out.append(sym.data.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(sym.data.decode("latin-1"))
    return out


def zxing_texts(data: bytes) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(gray_of(data))]


def random_code(family: str, like: list[str], rnd: random.Random) -> str:
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
    template = rnd.choice(like)
    if family == "itf":
        if len(template) == 14:
            body = digits(13)
            return body + str(gtin_check_digit(body))
        return digits(len(template))
    alphabet = (
        string.ascii_uppercase
        + string.digits
        + ("-. " if family == "code39" else string.ascii_lowercase)
    )
    return "".join(rnd.choice(alphabet) for _ in range(max(4, len(template))))


def expected_lists(samples: list[Sample], seed: int) -> dict[str, frozenset[str]]:
    rnd = random.Random(seed)
    own: dict[str, set[str]] = {}
    for s in samples:
        own.setdefault(s.set_name, set()).add(s.expected)
    lists: dict[str, frozenset[str]] = {}
    for set_name, codes in sorted(own.items()):
        family = set_name.split("-")[0]
        extra: set[str] = set()
        while len(extra) < RANDOM_CODES:
            code = random_code(family, sorted(codes), rnd)
            if code not in codes:
                extra.add(code)
        lists[set_name] = frozenset(codes | extra)
    return lists


def outcome(got: str | None, expected: str) -> str:
    if got is None:
        return "none"
    return "ok" if got == expected else "wrong"


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, (time.perf_counter() - started) * 1000.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=default_dir())
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--sets", default="", help="comma-separated set names (default: all)")
    parser.add_argument(
        "--budget", type=float, default=1.5, help="per-image time budget in seconds"
    )
    parser.add_argument("--quiet", action="store_true", help="no per-image lines")
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        print(f"no such directory: {args.dir}", file=sys.stderr)
        return 2
    samples = load(args.dir, {s for s in args.sets.split(",") if s})
    if not samples:
        print(f"no images with expected text under {args.dir}", file=sys.stderr)
        return 2
    manifests = expected_lists(samples, args.seed)
    scan(samples[0].data)  # warm-up: first calls load libraries and models

    kinds = ("pipeline", "pyzbar", "zxing-cpp", "pipeline+expected")
    per_set: dict[str, dict[str, Tally]] = {}
    for i, s in enumerate(samples, 1):
        tallies = per_set.setdefault(s.set_name, {k: Tally() for k in kinds})
        name = f"{s.set_name}/{s.path.name}"
        report, ms = timed(scan, s.data, budget_s=args.budget)
        tallies["pipeline"].add(name, outcome(report.barcode, s.expected), ms)
        forms = accepted_forms(s.family, s.expected)
        for kind, fn in (("pyzbar", zbar_texts), ("zxing-cpp", zxing_texts)):
            texts, ms_alone = timed(fn, s.data)
            hit = any(t in forms for t in texts)
            tallies[kind].add(name, "ok" if hit else ("wrong" if texts else "none"), ms_alone)
        with_list, ms2 = timed(scan, s.data, manifests[s.set_name], budget_s=args.budget)
        tallies["pipeline+expected"].add(name, outcome(with_list.barcode, s.expected), ms2)
        if not args.quiet:
            print(
                f"[{i:3d}/{len(samples)}] {name:24s} {str(report.barcode)[:24]:24s}"
                f" {report.method or '-':14s} {ms:7.1f} ms"
                f" | +expected {str(with_list.barcode)[:16]:16s} {with_list.method or '-'}",
                file=sys.stderr,
            )

    header = (
        f"{'set / decoder':26s} {'imgs':>4s} {'ok':>4s} {'rate':>7s} {'wrong':>5s}"
        f" {'med ms':>8s} {'p95 ms':>8s}"
    )
    totals = {k: Tally() for k in kinds}
    print(header)
    for set_name, tallies in per_set.items():
        for kind in kinds:
            print(tallies[kind].line(f"{set_name} {kind}"))
            totals[kind].merge(tallies[kind])
        print()
    print("TOTAL (times per image, from the file's bytes: image decoding included)")
    for kind in kinds:
        print(totals[kind].line(f"all {kind}"))
    zx = totals["zxing-cpp"].median() or 1e-9
    print()
    print(f"median ratio pipeline / zxing-cpp:           {totals['pipeline'].median() / zx:5.2f}")
    ratio_expected = totals["pipeline+expected"].median() / zx
    print(f"median ratio pipeline+expected / zxing-cpp:  {ratio_expected:5.2f}")
    for kind in ("pipeline", "pipeline+expected"):
        t = totals[kind]
        print(f"{kind} misreads: {', '.join(t.misreads) or 'none'}")
        print(f"{kind} not found: {', '.join(t.failed) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
