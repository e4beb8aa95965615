"""The project installed as the Docker image installs it: a wheel, non-editable, in a fresh
venv, run from a directory that is not the checkout. `bipa migrate` must find the migrations
and `bipa serve` the web pages through the package (bipa/assets.py), not the repo's layout.

The fresh venv borrows the project's .venv for the dependencies (a .pth line; nothing is
downloaded for them), and gets the declared minimum of the dependencies whose minimum is
lower than what .venv tests (MINIMUMS), so those minimums are proven to start the app too.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# The lowest versions pyproject.toml allows, where .venv has a newer one (the others'
# minimum is the tested version: strawberry-graphql, graphql-core, limits).
MINIMUMS = ("redis==5.0.0",)


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, cwd=ROOT)


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv's bin directory."""
    tmp = tmp_path_factory.mktemp("install")
    dist = tmp / "dist"
    _pip("wheel", "--no-deps", "--disable-pip-version-check", "-w", str(dist), str(ROOT))
    (wheel,) = dist.glob("bipa-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # After the venv's own site-packages on sys.path: what is installed there wins.
    Path(site, "zz_project_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _pip("--python", str(python), "install", "--no-deps", str(wheel), *MINIMUMS)
    return venv / "bin"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    # Not the checkout: nothing may be found through the working directory.
    return tmp_path


def _env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PWD")}
    return {
        **env,
        "DATABASE_URL": database_url,
        "BIPA_DATA_DIR": str(data_dir),
        "BIPA_RUN_WORKER": "false",
        **extra,
    }


async def test_a_wheel_installed_non_editable_migrates_and_serves(
    installed: Path, run_dir: Path, create_database: Callable[[str], object]
) -> None:
    database_url = str(await create_database("bipa_install"))  # type: ignore[misc]
    env = _env(database_url, run_dir / "data")
    where = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import bipa, redis; print(bipa.__file__, redis.__version__)",
        ],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(installed.parent)), where  # the installed copy, not ours
    assert where[1] == MINIMUMS[0].split("==")[1]
    version = subprocess.run(
        [str(installed / "bipa"), "--version"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert version.returncode == 0 and version.stdout.startswith("bipa "), version

    migrate = subprocess.run(
        [str(installed / "bipa"), "migrate"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "migrations applied" in migrate.stderr

    port = free_port()
    if _redis_up():  # the declared minimum redis-py, through broadcaster
        env["BROADCAST_URL"] = "redis://127.0.0.1:6379/0"
    log = (run_dir / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(installed / "bipa"), "serve", "--port", str(port)],
        cwd=run_dir,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            while True:
                assert server.poll() is None, (run_dir / "serve.log").read_text()[-3000:]
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "not healthy in 60 s"
                await asyncio.sleep(0.3)
            home = await client.get("/")
            assert home.status_code == 200 and "<html" in home.text.lower()
            assert (await client.get("/css/app.css")).status_code == 200
            ide = await client.get("/graphql", headers={"accept": "text/html"})
            assert ide.status_code == 200 and "graphiql" in ide.text.lower()
            answer = await client.post("/graphql", json={"query": "{ __typename }"})
            assert answer.status_code == 200 and answer.json() == {"data": {"__typename": "Query"}}
            got = await client.get("/graphql", params={"query": "{ __typename }"})
            assert got.json() == {"data": {"__typename": "Query"}}
    finally:
        server.terminate()
        server.wait(15)
        log.close()
