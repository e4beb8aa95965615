"""`bipa serve` with the web routes added when the app does not serve them yet.

Used by tests/web so the browser tests run whether or not bipa/app.py mounts `web_routes()`
already; once it does, this is exactly `bipa serve`.
"""

from __future__ import annotations

import sys

import bipa.app as app_module
from bipa.web import web_routes

_create_app = app_module.create_app


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    app = _create_app(*args, **kwargs)
    if not any(getattr(route, "name", None) == "web" for route in app.router.routes):
        app.router.routes.extend(web_routes())
    return app


app_module.create_app = create_app

if __name__ == "__main__":
    from bipa.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
