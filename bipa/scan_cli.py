"""``bipa scan PATH... [--expected FILE] [--json]``: run the barcode pipeline on photos.

Files and folders (searched recursively for images) are scanned one by one.
With ``--json`` each image yields one JSON line on stdout and the progress and
summary go to stderr, so stdout can be piped; otherwise a table is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import TextIO

from ocr import ImageError, scan

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
EXIT_OK = 0
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage by exception instead of exiting the process."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> _Parser:
    parser = _Parser(prog="bipa scan", description="Read the barcode in each photo.")
    parser.add_argument("paths", nargs="+", type=Path, help="image files or folders")
    parser.add_argument(
        "--expected", type=Path, help="file with one expected barcode per line (a manifest)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    parser.add_argument(
        "--label",
        action="store_true",
        help="parcel labels: also the carrier, every code with its role, and the recipient read",
    )
    return parser


def collect_images(paths: list[Path]) -> list[Path]:
    """Named files as given, plus images found recursively in named folders, in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                )
            )
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def read_expected(path: Path) -> list[str]:
    # Only line terminators are stripped: spaces can be part of a Code 39/128 payload.
    with open(path, encoding="utf-8", newline="") as fh:
        return [line.rstrip("\r\n") for line in fh if line.rstrip("\r\n")]


def _print_label(row: dict[str, object]) -> None:
    """Carrier, the label's codes by role and the recipient read (this machine's terminal only)."""
    print(f"    carrier: {row.get('carrier') or '-'}")
    for code in row.get("codes") or []:  # type: ignore[attr-defined]
        print(f"    {code['role']:12s} {code['code']}  ({code['symbology']})")
    rec = row.get("recipient")
    if isinstance(rec, dict):
        parts = [rec.get(k) for k in ("name", "street", "number", "complement", "neighbourhood")]
        where = f"{rec.get('city') or ''}/{rec.get('state') or ''} {rec.get('postalCode') or ''}"
        shown = ", ".join(str(p) for p in parts if p)
        print(f"    recipient ({rec['confidence']:.2f}): {shown} - {where.strip()}")


def _progress(out: TextIO, index: int, total: int, path: Path) -> None:
    if out.isatty():
        out.write(f"\r[{index}/{total}] {str(path)[-60:]:60s}")
        if index == total:
            out.write("\n")
    else:
        out.write(f"[{index}/{total}] {path}\n")
    out.flush()


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(f"bipa scan: {exc}", file=sys.stderr)
        _parser().print_usage(sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"bipa scan: no such file or folder: {missing[0]}", file=sys.stderr)
        return EXIT_USAGE
    expected: list[str] = []
    if args.expected is not None:
        try:
            expected = read_expected(args.expected)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"bipa scan: cannot read --expected file: {exc}", file=sys.stderr)
            return EXIT_USAGE
    images = collect_images(args.paths)
    if not images:
        print("bipa scan: no images found", file=sys.stderr)
        return EXIT_USAGE

    times: list[float] = []
    decoded = 0
    if not args.json:
        print(
            f"{'file':50s} {'barcode':24s} {'symbology':9s} {'method':14s} {'conf':>4s} {'ms':>7s}"
        )
    for index, path in enumerate(images, 1):
        _progress(sys.stderr, index, len(images), path)
        row: dict[str, object] = {"file": str(path)}
        try:
            report = scan(path.read_bytes(), expected, read_recipient=args.label)
        except (ImageError, OSError) as exc:
            row.update(barcode=None, symbology=None, method=None, confidence=0.0, elapsed_ms=0.0)
            row["error"] = str(exc)
        else:
            times.append(report.elapsed_ms)
            decoded += report.barcode is not None
            row.update(
                barcode=report.barcode,
                symbology=report.symbology,
                method=report.method,
                confidence=round(report.confidence, 3),
                elapsed_ms=round(report.elapsed_ms, 1),
            )
            if args.label:
                row.update(
                    carrier=report.carrier,
                    raw_text=report.raw_text,
                    codes=[c.to_dict() for c in report.codes],
                    recipient=report.recipient.to_dict() if report.recipient else None,
                )
        if args.json:
            print(json.dumps(row, ensure_ascii=False), flush=True)
        else:
            shown = row.get("error") or row["barcode"] or "-"
            print(
                f"{str(path)[-50:]:50s} {str(shown)[:24]:24s} {row['symbology'] or '-':9s}"
                f" {row['method'] or '-':14s} {row['confidence']:4.2f} {row['elapsed_ms']:7.1f}"
            )
            if args.label:
                _print_label(row)
    median = statistics.median(times) if times else 0.0
    summary = (
        f"images: {len(images)}  decoded: {decoded}  failed: {len(images) - decoded}"
        f"  median: {median:.1f} ms"
    )
    print(summary, file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
