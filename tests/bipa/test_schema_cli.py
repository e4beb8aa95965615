"""`bipa schema` prints the served schema, and `./dev check` catches a stale schema.graphql."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_schema

from bipa.checks import schema_check
from bipa.cli import schema_sdl
from gql.schema import build_schema as build_bipa_schema
from tests.conftest import ROOT


def _bipa(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # No DATABASE_URL and a broken setting: the schema needs neither settings nor a database.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BIPA_PORT"] = "not-a-port"
    return subprocess.run(
        [sys.executable, "-m", "bipa.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_prints_the_served_schema_to_stdout() -> None:
    proc = _bipa("schema")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout == build_bipa_schema().as_str() + "\n"
    parsed = build_schema(proc.stdout)
    assert {"Query", "Mutation", "Subscription", "DeliverySession"} <= set(parsed.type_map)


def test_output_writes_the_file(tmp_path: Path) -> None:
    proc = _bipa("schema", "--output", "out.graphql", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("", "")
    assert (tmp_path / "out.graphql").read_text(encoding="utf-8") == schema_sdl()


def test_check_passes_on_an_exported_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = tmp_path / "schema.graphql"
    committed.write_text(schema_sdl(), encoding="utf-8")
    assert schema_check(committed)
    assert "schema.graphql: ok" in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, "type Query { old: Int }\n"])
def test_check_fails_on_a_missing_or_stale_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    committed = tmp_path / "schema.graphql"
    if content is not None:
        committed.write_text(content, encoding="utf-8")
    assert not schema_check(committed)
    out = capsys.readouterr().out
    assert "FAILED" in out and "bipa schema --output schema.graphql" in out
