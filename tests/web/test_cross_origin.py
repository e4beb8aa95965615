"""A browser front-end on another origin, in headless Chromium: a page served by a second
local HTTP server runs a query and a mutation over HTTP (fetch with an Authorization header,
so a CORS preflight) and a subscription over websockets (the vendored graphql-ws client)
against the app started with BIPA_ALLOWED_ORIGINS set to that origin. A page from an origin
not in the list gets neither.
"""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bipa.web import WEB_DIR
from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.web.conftest import Browser

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Outro site</title></head>
<body><p>front-end de outro site</p>
<script type="module">
import { createClient } from "./graphql-ws/client.js";

const params = new URLSearchParams(location.search);
const app = params.get("app");
const token = params.get("token");
const out = (window.__result = { steps: [] });

async function gql(query, variables) {
  const r = await fetch(app + "/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer " + token },
    body: JSON.stringify({ query, variables }),
  });
  return r.json();
}

try {
  out.me = (await gql("query Me { me { name } }")).data.me.name;
} catch (e) {
  out.httpError = String(e);
}
try {
  const made = await gql(
    "mutation M($name: String!) { createSession(input: {name: $name}) {" +
      " __typename ... on SessionSuccess { session { id } } } }",
    { name: "De outro site" },
  );
  out.sessionId = made.data.createSession.session.id;
} catch (e) {
  out.mutationError = String(e);
}

const client = createClient({
  url: app.replace(/^http/, "ws") + "/graphql",
  connectionParams: { authorization: "Bearer " + token },
  retryAttempts: 0,
  shouldRetry: () => false,
  on: { closed: (ev) => { out.closeCode = ev && ev.code; } },
});
out.events = [];
client.subscribe(
  {
    query: "subscription E { mySessionEvents { action sessionId } }",
  },
  {
    next: (v) => out.events.push(v.data.mySessionEvents.action),
    error: (e) => { out.wsError = String((e && e.code) || e); },
    complete: () => {},
  },
);
client.on("connected", () => { out.connected = true; });
</script></body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Starts static servers of the page on loopback ports of their own; returns origins."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    # A front-end on another origin ships its own copy of the client.
    shutil.copytree(WEB_DIR / "vendor" / "graphql-ws", root / "graphql-ws")
    servers: list[ThreadingHTTPServer] = []

    def start() -> str:
        handler = functools.partial(_Quiet, directory=str(root))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _run_page(browser: Browser, origin: str, app: LiveServer, token: str) -> dict[str, Any]:
    browser.driver.get(f"{origin}/index.html?app={app.url}&token={token}")
    return dict(
        browser.wait(
            lambda: browser.driver.execute_script(
                "const r = window.__result;"
                "return r && ('me' in r || 'httpError' in r)"
                " && ('sessionId' in r || 'mutationError' in r)"
                " && (r.connected || 'wsError' in r || 'closeCode' in r) ? r : null"
            ),
            20,
            what="the page's requests",
        )
    )


async def test_a_page_on_an_allowed_origin_queries_mutates_and_subscribes(  # type: ignore[no-untyped-def]
    other_site, browser_factory, web_user, database_url: str
) -> None:
    allowed = other_site()
    refused = other_site()
    app = LiveServer(
        database_url, {"BIPA_ALLOWED_ORIGINS": allowed, "BIPA_RUN_WORKER": "false"}
    ).start()
    try:
        manager = await web_user("MANAGER", name="Olga Origem")
        browser = browser_factory()

        result = _run_page(browser, allowed, app, manager.token)
        assert result.get("me") == "Olga Origem", result
        assert result.get("sessionId"), result
        assert result.get("connected") is True, result
        # The subscription is live: a change made elsewhere arrives on the other site's page.
        sid = result["sessionId"]
        r = httpx.post(
            app.url + "/graphql",
            json={
                "query": q.ADD_PACKAGES,
                "variables": {"sid": sid, "packages": [{"barcode": "CO-1"}]},
            },
            headers={"authorization": f"Bearer {manager.token}"},
        )
        assert r.json()["data"]["addPackages"]["__typename"] == "AddPackagesSuccess"
        browser.wait(
            lambda: (
                "package.added" in browser.driver.execute_script("return window.__result.events")
            ),
            15,
            what="the event on the other origin's page",
        )

        # Another origin: the browser gets no answer to read, and no socket.
        other = _run_page(browser, refused, app, manager.token)
        assert "me" not in other and "TypeError" in other.get("httpError", ""), other
        assert "sessionId" not in other, other
        assert not other.get("connected"), other
        # The refused page's mutation never ran (its preflight failed first).
        count = httpx.post(
            app.url + "/graphql",
            json={"query": q.SESSIONS_COUNT},
            headers={"authorization": f"Bearer {manager.token}"},
        ).json()["data"]["sessions"]["totalCount"]
        assert count == 1
    finally:
        app.stop()
