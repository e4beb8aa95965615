"""Many different subscription documents at once (aliases, fragments, inline fragments,
@include/@skip with variables, __typename, nested selections), generated from a fixed seed:
each subscriber gets exactly the shape it asked for, for the replay and for a live event, and
subscribers that asked for the same thing get the same bytes, whichever their afterSequence."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Callable
from typing import Any

from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.test_subscriptions import _post
from tests.e2e.wsclient import WsClient

LEAVES = ["sessionId", "sequence", "action", "details", "createdAt", "__typename"]
ACTOR = ["id", "name", "role", "createdAt", "__typename"]
PROGRESS = ["total", "pending", "delivered", "failed", "percent", "__typename"]


def _document(rng: random.Random) -> tuple[str, dict[str, Any], Callable[[dict], None]]:
    """A document, its variables, and a check of one event's data against what it asked."""
    variables: dict[str, Any] = {}
    declared = ["$sid: ID!", "$after: Int"]
    expected: list[tuple[str, str, list[str] | None, bool]] = []  # key, field, sub-keys, present
    parts: list[str] = []
    fragments: list[str] = []
    for n, field in enumerate(rng.sample([*LEAVES, "actor", "progress"], rng.randint(1, 6))):
        alias = f"a{n}" if rng.random() < 0.3 else None
        key = alias or field
        sub: list[str] | None = None
        text = f"{alias}: {field}" if alias else field
        present = True
        if rng.random() < 0.25:
            var = f"v{n}"
            include = rng.random() < 0.5
            declared.append(f"${var}: Boolean!")
            variables[var] = rng.random() < 0.5
            text += f" @{'include' if include else 'skip'}(if: ${var})"
            present = variables[var] if include else not variables[var]
        if field in ("actor", "progress"):
            sub = rng.sample(ACTOR if field == "actor" else PROGRESS, rng.randint(1, 3))
            text += " { " + " ".join(sub) + " }"
        style = rng.random()
        if style < 0.2:
            name = f"F{n}"
            fragments.append(f"fragment {name} on SessionEvent {{ {text} }}")
            parts.append(f"...{name}")
        elif style < 0.35:
            parts.append(f"... on SessionEvent {{ {text} }}")
        else:
            parts.append(text)
        expected.append((key, field, sub, present))
    root_alias = "ev" if rng.random() < 0.3 else "sessionEvents"
    root = f"{root_alias}: sessionEvents" if root_alias == "ev" else "sessionEvents"
    doc = (
        f"subscription({', '.join(declared)}) {{ {root}(sessionId: $sid, afterSequence: $after)"
        f" {{ {' '.join(parts)} }} }}\n" + "\n".join(fragments)
    )

    def check(data: dict) -> None:
        event = data[root_alias]
        keys = {key for key, _, _, present in expected if present}
        assert set(event) == keys, (doc, variables, event)
        for key, field, sub, present in expected:
            if not present:
                continue
            if sub is not None and event[key] is not None:
                assert set(event[key]) == set(sub), (doc, event)
            if field == "__typename":
                assert event[key] == "SessionEvent"
            if field == "sequence":
                assert isinstance(event[key], int)

    return doc, variables, check


async def test_generated_subscription_documents(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = (await _post(live_server, manager.token, q.CREATE_SESSION, name="Formas"))[
        "createSession"
    ]["session"]["id"]
    rng = random.Random(20261122)
    documents = [_document(rng) for _ in range(40)]
    async with contextlib.AsyncExitStack() as stack:
        # 80 subscriptions; BIPA_MAX_SUBSCRIPTIONS is 20 per connection.
        clients = [
            await stack.enter_async_context(WsClient(live_server.ws_url, manager.token))
            for _ in range(4)
        ]
        for ws in clients:
            assert await ws.acked()
        subs: list[tuple[WsClient, str, str, dict[str, Any], Callable[[dict], None], bool]] = []
        for i, (doc, extra, check) in enumerate(documents):
            ws = clients[i % 4]
            replay = i % 3 != 0  # some replay the stored entry, the rest are live only
            variables = {"sid": sid, "after": 0 if replay else None, **extra}
            # The same document again with the other afterSequence: same bytes for live events.
            twin = variables | {"after": None if replay else 0}
            for v, r in ((variables, replay), (twin, not replay)):
                sub_id = await ws.subscribe(doc, **v)
                subs.append((ws, sub_id, doc, v, check, r))
        for ws, sub_id, doc, v, check, replay in subs:
            if replay:
                msg = await ws.next(sub_id)
                assert msg["type"] == "next" and "errors" not in msg["payload"], (doc, msg)
                check(msg["payload"]["data"])
        await asyncio.sleep(0.5)  # every subscription is live
        await _post(
            live_server, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "SHAPE"}]
        )
        by_document: dict[tuple[str, str], set[str]] = {}
        for ws, sub_id, doc, v, check, _ in subs:
            msg = await ws.next(sub_id)
            assert msg["type"] == "next" and "errors" not in msg["payload"], (doc, msg)
            check(msg["payload"]["data"])
            assert json.dumps(msg["payload"]["data"]).count('"package.added"') <= 1
            shape = {k: val for k, val in v.items() if k not in ("sid", "after")}
            key = (doc, json.dumps(shape, sort_keys=True))
            by_document.setdefault(key, set()).add(json.dumps(msg["payload"], sort_keys=True))
        assert all(len(payloads) == 1 for payloads in by_document.values()), by_document
