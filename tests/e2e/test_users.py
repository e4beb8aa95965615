"""The user list a manager picks deliverers from: by name, searchable, nothing personal."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.e2e.test_paging import PAGE_INFO, _both_ways

USERS = f"""query($role: Role, $search: String, $first: Int, $after: String, $last: Int,
                  $before: String) {{
  users(role: $role, search: $search, first: $first, after: $after, last: $last,
        before: $before) {{ {PAGE_INFO} edges {{ node {{ name role telegramLinked }} }} }}
}}"""


async def test_managers_list_users_by_name_with_search_and_role(
    make_user: Callable[..., Any],
) -> None:
    u = uuid.uuid4().hex[:8]
    manager = await make_user("MANAGER", name=f"Gerente {u}")
    # Different first letters: the order is the same in every collation.
    names = [f"Ana {u}", f"Caio Ávila {u}", f"DORA AVILA {u}", f"Maria {u}", f"Otávio {u}"]
    made = {}
    for n, name in enumerate(names):
        tg = str(900_000_000 + int(u[:6], 16) * 10 + n) if n == 3 else None
        made[name] = (await make_user("DELIVERER", name=name, telegram_id=tg)).id

    def fetch(caller: Any = manager, **args: Any) -> dict[str, Any]:
        return caller(USERS, **args)["users"]  # type: ignore[no-any-return]

    listed = fetch(role="DELIVERER", search=u, first=100)
    assert [e["node"]["name"] for e in listed["edges"]] == sorted(names)
    assert listed["totalCount"] == 5
    linked = {e["node"]["name"]: e["node"]["telegramLinked"] for e in listed["edges"]}
    assert linked == {name: name == f"Maria {u}" for name in names}
    ids = [e["node"]["id"] for e in listed["edges"]]
    assert ids == [made[name] for name in sorted(names)]
    _both_ways(lambda **args: fetch(role="DELIVERER", search=u, **args), ids)

    twins = fetch(search=f"avila {u}", first=100)
    assert sorted(e["node"]["name"] for e in twins["edges"]) == sorted(names[1:3])
    assert fetch(search=f"OTAVIO {u}")["totalCount"] == 1
    everyone = fetch(search=u, first=100)
    assert everyone["totalCount"] == 6  # the manager too, without a role filter
    assert fetch(role="MANAGER", search=u)["edges"][0]["node"]["name"] == f"Gerente {u}"

    # Nothing personal: no Telegram id, no token on the type at all.
    leak = manager.raw("{ users(first: 1) { edges { node { telegramId } } } }")
    assert leak["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_deliverers_get_an_empty_user_list(make_user: Callable[..., Any]) -> None:
    deliverer = await make_user("DELIVERER")
    page = deliverer(USERS, first=10)["users"]
    assert page["edges"] == [] and page["totalCount"] == 0
    assert page["pageInfo"]["hasNextPage"] is False
