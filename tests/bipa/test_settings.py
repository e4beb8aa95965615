from __future__ import annotations

import subprocess
import sys

import pytest

from bipa.settings import Settings, SettingsError


def test_defaults_are_development_and_embedded() -> None:
    s = Settings.from_env({})
    assert s.env == "development"
    assert s.database_url is None
    assert s.port == 8000
    assert s.currency == "BRL"
    assert s.data_dir.name == ".data"


def test_database_url_is_normalized_to_asyncpg() -> None:
    s = Settings.from_env({"DATABASE_URL": "postgres://u@h:5432/db"})
    assert s.database_url == "postgresql+asyncpg://u@h:5432/db"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"BIPA_ENV": "staging"}, "BIPA_ENV"),
        ({"BIPA_PORT": "eighty"}, "BIPA_PORT"),
        ({"BIPA_PORT": "70000"}, "BIPA_PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"BROADCAST_URL": "kafka://x"}, "BROADCAST_URL"),
        ({"BIPA_LOG_LEVEL": "LOUD"}, "BIPA_LOG_LEVEL"),
        ({"BIPA_RUN_WORKER": "maybe"}, "BIPA_RUN_WORKER"),
        ({"BIPA_CURRENCY": "REAL"}, "BIPA_CURRENCY"),
    ],
)
def test_invalid_settings_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env(env)


def test_cli_invalid_setting_exits_2_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bipa.cli", "migrate"],
        env={"BIPA_ENV": "staging", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "BIPA_ENV" in lines[0]


def test_proof_storage_settings() -> None:
    s = Settings.from_env({"BIPA_DATA_DIR": "/srv/bipa"})
    assert s.storage == "file:///srv/bipa/objects"
    assert (s.link_ttl_s, s.proof_max_edge, s.proof_quality, s.proof_max_photos) == (
        900,
        1600,
        82,
        4,
    )
    s3 = Settings.from_env(
        {"BIPA_STORAGE_URL": "s3://bucket/p?region=sa-east-1", "BIPA_LINK_TTL": "604800"}
    )
    assert s3.storage == "s3://bucket/p?region=sa-east-1" and s3.link_ttl_s == 604800
    for env, needle in (
        ({"BIPA_STORAGE_URL": "ftp://x"}, "BIPA_STORAGE_URL"),
        ({"BIPA_LINK_TTL": "604801"}, "BIPA_LINK_TTL"),  # S3's 7-day limit
        ({"BIPA_PROOF_QUALITY": "100"}, "BIPA_PROOF_QUALITY"),
    ):
        with pytest.raises(SettingsError, match=needle):
            Settings.from_env(env)


@pytest.mark.parametrize(
    "key",
    [
        "replace-with-a-long-random-secret-of-32-or-more-characters",
        "change-me-change-me-change-me-change-me",
    ],
)
def test_production_refuses_a_placeholder_secret_key(key: str) -> None:
    with pytest.raises(SettingsError, match="BIPA_SECRET_KEY is still the example value"):
        Settings.from_env({"BIPA_ENV": "production", "BIPA_SECRET_KEY": key})
    # A development machine may keep the example.
    assert Settings.from_env({"BIPA_SECRET_KEY": key}).secret_key == key


def test_serve_in_production_with_the_example_secret_exits_with_one_line() -> None:
    import os
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    values = dict(
        line.split("=", 1)
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    )
    env = {
        **os.environ,
        "BIPA_ENV": "production",
        "BIPA_SECRET_KEY": "replace-with-a-long-random-secret-of-32-or-more-characters",
    }
    assert values["BIPA_ENV"] == "production"
    result = subprocess.run(
        [sys.executable, "-m", "bipa.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "BIPA_SECRET_KEY is still the example value" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    result = subprocess.run(
        [sys.executable, "-m", "bipa.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"bipa {version('bipa')}"


def test_geocoding_and_routing_settings() -> None:
    s = Settings.from_env({})
    assert (s.geocoder, s.cep_url, s.depot, s.osrm_url) == ("none", None, None, None)
    assert (s.route_detour, s.route_speed_kmh, s.route_capacity) == (1.3, 25.0, 80)
    s = Settings.from_env(
        {
            "BIPA_GEOCODER": "Photon",
            "BIPA_GEOCODER_URL": "http://photon.local:2322",
            "BIPA_CEP_URL": "https://brasilapi.com.br/api/cep/v2/{cep}",
            "BIPA_DEPOT_LAT": "-23.55",
            "BIPA_DEPOT_LON": "-46.63",
            "BIPA_OSRM_URL": "http://osrm.local:5000",
        }
    )
    assert s.geocoder == "photon" and s.depot == (-23.55, -46.63)
    ok = Settings.from_env(
        {"BIPA_GEOCODER": "nominatim", "BIPA_GEOCODER_USER_AGENT": "Entregas X/1.0 (ti@x.com.br)"}
    )
    assert ok.geocoder_user_agent.startswith("Entregas X")
    for env, needle in (
        ({"BIPA_GEOCODER": "google"}, "BIPA_GEOCODER"),
        # The public Nominatim wants an application that says who it is.
        ({"BIPA_GEOCODER": "nominatim"}, "BIPA_GEOCODER_USER_AGENT"),
        ({"BIPA_CEP_URL": "https://brasilapi.com.br/api/cep/v2/"}, "BIPA_CEP_URL"),
        ({"BIPA_DEPOT_LAT": "-23.5"}, "BIPA_DEPOT_LAT"),
        ({"BIPA_DEPOT_LAT": "-123.5", "BIPA_DEPOT_LON": "0"}, "BIPA_DEPOT_LAT"),
        ({"BIPA_OSRM_URL": "osrm:5000"}, "BIPA_OSRM_URL"),
    ):
        with pytest.raises(SettingsError, match=needle):
            Settings.from_env(env)
