"""``bipa scan`` run as a separate process on a folder of real photos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Photo

REPO = Path(__file__).resolve().parents[2]
ENTRY = "import sys; from bipa.scan_cli import main; sys.exit(main(sys.argv[1:]))"
KEYS = {"file", "barcode", "symbology", "method", "confidence", "elapsed_ms"}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, photo: dict[str, Photo]) -> Path:
    """A few photos, one in a subfolder, plus a broken file and a non-image file."""
    root = tmp_path_factory.mktemp("photos")
    (root / "nested").mkdir()
    for key in ("upca-1/2.png", "code128-1/6.png", "upce-2/01.png"):
        (root / key.replace("/", "_")).write_bytes(photo[key].data)
    (root / "nested" / "ean13-4_19.png").write_bytes(photo["ean13-4/19.png"].data)
    (root / "broken.png").write_bytes(photo["upca-1/2.png"].data[:300])
    (root / "notes.txt").write_text("not an image, and not picked up by extension\n")
    return root


def test_json_lines_for_a_folder(folder: Path) -> None:
    result = run_cli(str(folder), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5  # recursive, images only
    assert all(set(row) >= KEYS for row in rows)
    by_name = {Path(row["file"]).name: row for row in rows}
    assert by_name["upca-1_2.png"]["barcode"] == "036602301467"
    assert by_name["upca-1_2.png"]["symbology"] == "UPCA"
    assert by_name["code128-1_6.png"]["barcode"] == "óóóó1234óóabózz"
    assert by_name["upce-2_01.png"]["barcode"] == "05096893"
    assert by_name["ean13-4_19.png"]["barcode"] == "9780441014989"
    assert by_name["broken.png"]["barcode"] is None
    assert "truncated or corrupt" in by_name["broken.png"]["error"]
    # Progress and summary go to stderr so stdout stays machine-readable.
    assert "[5/5]" in result.stderr
    assert "images: 5" in result.stderr and "decoded: 4" in result.stderr
    assert "failed: 1" in result.stderr and "median:" in result.stderr


def test_table_without_json(folder: Path) -> None:
    result = run_cli(str(folder / "upca-1_2.png"), str(folder / "upce-2_01.png"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "036602301467" in result.stdout and "05096893" in result.stdout
    assert lines[-1].startswith("images: 2")


def test_expected_file(folder: Path, tmp_path: Path) -> None:
    expected = tmp_path / "manifest.txt"
    expected.write_text("9780441014989\n036602301467\n", encoding="utf-8")
    result = run_cli(str(folder / "nested"), "--expected", str(expected), "--json")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout.splitlines()[0])
    assert row["barcode"] == "9780441014989" and row["confidence"] == 1.0


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--json",),
        ("--no-such-option", "x.png"),
        ("/no/such/folder",),
    ],
)
def test_bad_usage_exits_2(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "bipa scan" in result.stderr


def test_missing_expected_file_exits_2(folder: Path) -> None:
    result = run_cli(str(folder), "--expected", str(folder / "missing.txt"))
    assert result.returncode == 2


def test_folder_without_images_exits_2(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    assert run_cli(str(tmp_path)).returncode == 2
