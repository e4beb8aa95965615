"""Choosing the database (DATABASE_URL or the embedded one) and migrating it."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command
from bipa import embedded
from bipa.settings import PROJECT_ROOT, Settings


def resolve_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return embedded.start(settings.data_dir)


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(Path(PROJECT_ROOT / "alembic")))
    # ConfigParser interpolation: a literal % in a URL must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def migrate(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
