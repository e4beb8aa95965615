# ruff: noqa: E501  (the report table lines are wider than code lines)
"""Parcel-label photos: does the scan answer the label's tracking code, and fast enough?

    .venv/bin/python bench/label_photos.py [--seed 13] [--per 1] [--no-e2e] [--database-url URL]

Photos come from bench/label_gen.py (fixed seed: the same photos every run): 6 carriers x 12
damages. In one run, for every photo: the pipeline without an expected list, with one (the
set's tracking codes plus 200 random codes of the same shapes), zxing-cpp alone and pyzbar
alone (each answering its first code, as a plain scanner app does, normalised like a typed
code), the recipient block (CEP read right), and, unless --no-e2e, scanBarcode ADD through
the real app over HTTP on a throw-away database (the package's code must be the label's
tracking code). Timings start from the file's bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zxingcpp  # type: ignore[import-untyped,unused-ignore]
from pyzbar import pyzbar  # type: ignore[import-untyped,unused-ignore]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import label_gen

import ocr
from domain.barcodes import canonical

RANDOM_CODES = 200
# Issue #13's targets, word for word: read right without / with the expected list, CEP read
# right on in-focus labels, every right read accepted by scanBarcode ADD.
TARGETS = {
    "pipeline": 0.90,
    "pipeline+expected": 0.96,
    "end-to-end": 1.00,
    "cep": 0.80,
}
# Issue #13: median time per photo within 3x of zxing-cpp alone.
MAX_MEDIAN_RATIO = 3.0
# A photo with no readable code is answered within the scan budget plus this much (stopping a
# timed-out Tesseract and returning the report).
BUDGET_SLACK_S = 0.25


def _gray(data: bytes) -> Any:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def zxing_first(data: bytes) -> str | None:
    found = zxingcpp.read_barcodes(_gray(data))
    return canonical(found[0].text) if found else None


def pyzbar_first(data: bytes) -> str | None:
    found = pyzbar.decode(_gray(data))
    return canonical(found[0].data.decode("utf-8", "replace")) if found else None


def _random_codes(rng: random.Random) -> list[str]:
    out = []
    for _ in range(RANDOM_CODES):
        label = label_gen.make_label(rng, rng.choice(label_gen.CARRIERS))
        out.append(label.tracking)
    return out


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - started) * 1000.0


class Tally:
    def __init__(self) -> None:
        self.right = 0
        self.wrong = 0
        self.total = 0
        self.ms: list[float] = []

    def add(self, answer: str | None, expected: str, ms: float | None = None) -> None:
        self.total += 1
        if answer == expected:
            self.right += 1
        elif answer is not None:
            self.wrong += 1
        if ms is not None:
            self.ms.append(ms)

    def rate(self) -> float:
        return self.right / self.total if self.total else 0.0


async def end_to_end(photos: list[label_gen.Photo], server_url: str) -> list[str | None]:
    """scanBarcode ADD of every photo, each in a session of its own, over real HTTP."""
    import httpx

    from bench import common

    answers: list[str | None] = []
    async with common.throwaway_database(server_url, "bench_labels") as db:
        seeded = await common.seed_manager_and_sessions(db.url, sessions=len(photos))
        server = await common.InProcessServer(db.url).start()
        query = """mutation($input: ScanBarcodeInput!) { scanBarcode(input: $input) {
          __typename ... on ScanBarcodeSuccess { package { barcode carrier } }
          ... on Error { code } } }"""
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                for photo, sid in zip(photos, seeded.session_ids, strict=True):
                    variables = {"input": {"sessionId": str(sid), "image": None, "intent": "ADD"}}
                    r = await client.post(
                        "/graphql",
                        data={
                            "operations": json.dumps({"query": query, "variables": variables}),
                            "map": json.dumps({"0": ["variables.input.image"]}),
                        },
                        files={"0": ("label.jpg", io.BytesIO(photo.data), "image/jpeg")},
                        headers={"authorization": f"Bearer {seeded.manager_token}"},
                    )
                    result = r.json()["data"]["scanBarcode"]
                    package = result.get("package") if isinstance(result, dict) else None
                    answers.append(package["barcode"] if package else None)
        finally:
            await server.stop()
    return answers


def pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--per", type=int, default=1, help="photos per carrier and damage")
    parser.add_argument(
        "--budget", type=float, default=1.5, help="seconds per photo (BIPA_SCAN_BUDGET)"
    )
    parser.add_argument("--no-e2e", action="store_true")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    started = time.perf_counter()
    photos = label_gen.photos(args.seed, args.per)
    print(
        f"{len(photos)} photos generated (seed {args.seed}) in {time.perf_counter() - started:.1f} s"
    )
    rng = random.Random(args.seed + 1)
    expected = [p.label.tracking for p in photos] + _random_codes(rng)
    tallies: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    misreads: list[str] = []
    cep = Tally()
    cep_in_focus = Tally()
    right_no_list: list[bool] = []
    unread: dict[str, list[str]] = defaultdict(list)
    unreadable_ms: list[float] = []
    for i, photo in enumerate(photos):
        want = photo.label.tracking
        name = f"{i:03d} {photo.label.carrier}/{photo.damage}"
        groups = ("all", f"carrier {photo.label.carrier}", f"damage {photo.damage}")
        report, ms = timed(lambda p=photo: ocr.scan(p.data, budget_s=args.budget))
        if report.barcode is not None and report.barcode != want:
            misreads.append(f"{name}: {report.barcode!r} for {want!r}")
        if report.barcode is None:
            unreadable_ms.append(ms)
        with_list, ms_e = timed(lambda p=photo: ocr.scan(p.data, expected, budget_s=args.budget))
        zx, ms_z = timed(lambda p=photo: zxing_first(p.data))
        zb, ms_b = timed(lambda p=photo: pyzbar_first(p.data))
        right_no_list.append(report.barcode == want)
        for method, answer in (
            ("pipeline", report.barcode),
            ("pipeline+expected", with_list.barcode),
        ):
            if answer is None:
                unread[method].append(name)
        # As scanBarcode ADD does: the code first, then the recipient block.
        recipient_report = ocr.scan(photo.data, budget_s=args.budget, read_recipient=True)
        got_cep = recipient_report.recipient.postal_code if recipient_report.recipient else None
        cep.add(got_cep, photo.label.cep)
        if photo.in_focus:
            cep_in_focus.add(got_cep, photo.label.cep)
        for g in groups:
            tallies[g]["pipeline"].add(report.barcode, want, ms)
            tallies[g]["pipeline+expected"].add(with_list.barcode, want, ms_e)
            tallies[g]["zxing-cpp"].add(zx, want, ms_z)
            tallies[g]["pyzbar"].add(zb, want, ms_b)
    answers: list[str | None] = []
    if not args.no_e2e:
        answers = asyncio.run(end_to_end(photos, args.database_url))
        for photo, answer in zip(photos, answers, strict=True):
            groups = ("all", f"carrier {photo.label.carrier}", f"damage {photo.damage}")
            for g in groups:
                tallies[g]["end-to-end"].add(answer, photo.label.tracking)

    print(
        f"\n{'group':28} {'method':18} {'n':>4} {'right':>6} {'rate':>7} {'wrong':>6} {'median ms':>10}"
    )
    for group, methods in tallies.items():
        for method, t in methods.items():
            med = f"{statistics.median(t.ms):10.1f}" if t.ms else " " * 10
            print(
                f"{group:28} {method:18} {t.total:4d} {t.right:6d} {pct(t.rate()):>7} {t.wrong:6d} {med}"
            )
        print()
    overall = tallies["all"]
    med_ratio = statistics.median(overall["pipeline"].ms) / max(
        statistics.median(overall["zxing-cpp"].ms), 1e-6
    )
    checks: list[tuple[str, float, str, bool]] = []
    for method in ("pipeline", "pipeline+expected"):
        rate = overall[method].rate()
        checks.append(
            (f"read right: {method}", rate, f">= {pct(TARGETS[method])}", rate >= TARGETS[method])
        )
    wrong = overall["pipeline"].wrong + overall["pipeline+expected"].wrong
    if "end-to-end" in overall:
        wrong += overall["end-to-end"].wrong
        right_reads = sum(right_no_list)
        accepted = sum(
            ok and answer == photo.label.tracking
            for ok, answer, photo in zip(right_no_list, answers, photos, strict=True)
        )
        share = accepted / right_reads if right_reads else 0.0
        lost = [
            f"{i:03d} {photo.label.carrier}/{photo.damage}: {answer!r}"
            for i, (ok, answer, photo) in enumerate(
                zip(right_no_list, answers, photos, strict=True)
            )
            if ok and answer != photo.label.tracking
        ]
        unread["end-to-end, read right by the pipeline"] = lost
        checks.append(
            (
                "read right: end-to-end / right reads",
                share,
                f">= {pct(TARGETS['end-to-end'])}",
                share >= TARGETS["end-to-end"],
            )
        )
        e2e = overall["end-to-end"].rate()
        checks.append(("read right: end-to-end (all photos, no target)", e2e, "-", True))
    checks.append(("misreads (pipelines and end-to-end)", float(wrong), "== 0", wrong == 0))
    checks.append(
        (
            f"CEP read right: in-focus labels (n={cep_in_focus.total})",
            cep_in_focus.rate(),
            f">= {pct(TARGETS['cep'])}",
            cep_in_focus.rate() >= TARGETS["cep"],
        )
    )
    checks.append((f"CEP read right: all labels (n={cep.total})", cep.rate(), "-", True))
    checks.append(
        (
            "median time pipeline / zxing-cpp",
            med_ratio,
            f"<= {MAX_MEDIAN_RATIO:.1f}",
            med_ratio <= MAX_MEDIAN_RATIO,
        )
    )
    limit = args.budget + BUDGET_SLACK_S
    worst = max(unreadable_ms, default=0.0) / 1000.0
    median_unreadable = statistics.median(unreadable_ms) / 1000.0 if unreadable_ms else 0.0
    checks.append(
        (
            f"'not found' photos (n={len(unreadable_ms)}): median s",
            median_unreadable,
            f"<= {limit:.2f}",
            median_unreadable <= limit,
        )
    )
    checks.append(("'not found' photos: worst s", worst, f"<= {limit:.2f}", worst <= limit))
    for method in ("zxing-cpp", "pyzbar"):
        print(
            f"baseline read right: {method:12} {pct(overall[method].rate())}  wrong {overall[method].wrong}  median {statistics.median(overall[method].ms):.1f} ms"
        )
    for title, value, target, ok in checks:
        shown = pct(value) if "read right" in title else f"{value:.2f}"
        verdict = "" if target == "-" else ("PASS" if ok else "FAIL")
        print(f"{title:52} {shown:>8}  target {target:10} {verdict}")
    print("misreads: " + ("; ".join(misreads) if misreads else "none"))
    for method, names in unread.items():
        print(f"not read ({method}): " + ("; ".join(names) if names else "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
