"""Files the app reads at run time, found through the package.

`bipa/migrations` and `bipa/webroot` are links to the repository's `alembic/` and `web/`:
in a checkout (or an editable install) they lead there, and a wheel (`pip install .`, as the
Dockerfile does) copies what they lead to into the package as package data. Either way the
app finds them beside its own code, never from the working directory or the repo's layout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_dir(name: str) -> Path:
    """A directory of package data (resolved: the checkout's real path behind the link)."""
    return Path(str(files("bipa").joinpath(name))).resolve()


MIGRATIONS_DIR = package_dir("migrations")
WEB_DIR = package_dir("webroot")
