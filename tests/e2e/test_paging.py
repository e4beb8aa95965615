"""Relay-complete connections: pageInfo both ways, and the audit log paged backwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.queries import ADD_DELIVERER, ADD_PACKAGES, ASSIGN, CREATE_SESSION

AUDIT = """query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  session(id: $id) {
    audit(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor node { sequence } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}"""


async def test_audit_pages_forward_and_backward(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    sid = manager(CREATE_SESSION, name="Paging")["createSession"]["session"]["id"]
    for n in range(4):
        added = manager(ADD_PACKAGES, sid=sid, packages=[{"barcode": f"PAGE{n}XYZ{n}00"}])
        assert added["addPackages"]["__typename"] == "AddPackagesSuccess", added

    def audit(**args: Any) -> dict[str, Any]:
        return manager(AUDIT, id=sid, **args)["session"]["audit"]

    everything = audit(first=100)
    total = everything["totalCount"]
    assert total >= 5
    sequences = [e["node"]["sequence"] for e in everything["edges"]]
    assert sequences == list(range(1, total + 1))
    assert everything["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": everything["edges"][0]["cursor"],
        "endCursor": everything["edges"][-1]["cursor"],
    }

    newest = audit(last=2)
    assert [e["node"]["sequence"] for e in newest["edges"]] == [total - 1, total]
    assert newest["pageInfo"]["hasPreviousPage"] is True
    assert newest["pageInfo"]["hasNextPage"] is False
    older = audit(last=2, before=newest["pageInfo"]["startCursor"])
    assert [e["node"]["sequence"] for e in older["edges"]] == [total - 3, total - 2]
    assert older["pageInfo"]["hasNextPage"] is True

    forward = audit(first=2)
    assert forward["pageInfo"]["hasNextPage"] is True
    assert forward["pageInfo"]["hasPreviousPage"] is False
    second = audit(first=2, after=forward["pageInfo"]["endCursor"])
    assert [e["node"]["sequence"] for e in second["edges"]] == [3, 4]
    assert second["pageInfo"]["hasPreviousPage"] is True

    oldest = audit(last=10, before=forward["edges"][1]["cursor"])
    assert [e["node"]["sequence"] for e in oldest["edges"]] == [1]
    assert oldest["pageInfo"]["hasPreviousPage"] is False

    bad = manager.raw(AUDIT, {"id": sid, "last": 1, "before": "nope"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad["errors"][0]["extensions"]["field"] == "before"


def _both_ways(fetch: Callable[..., dict[str, Any]], ids: list[str]) -> None:
    """`fetch(**args)` pages a list whose whole content, in list order, is `ids` (at least 4):
    forward and backward pages agree with it, and pageInfo says what lies on either side."""
    n = len(ids)

    def nodes(page: dict[str, Any]) -> list[str]:
        return [e["node"]["id"] for e in page["edges"]]

    forward = fetch(first=2)
    assert nodes(forward) == ids[:2]
    assert forward["pageInfo"]["hasNextPage"] is True
    assert forward["pageInfo"]["hasPreviousPage"] is False
    assert forward["pageInfo"]["startCursor"] == forward["edges"][0]["cursor"]
    second = fetch(first=2, after=forward["pageInfo"]["endCursor"])
    assert nodes(second) == ids[2:4]
    assert second["pageInfo"]["hasPreviousPage"] is True

    tail = fetch(last=2)
    assert nodes(tail) == ids[-2:]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    assert tail["pageInfo"]["hasNextPage"] is False
    assert tail["pageInfo"]["endCursor"] == tail["edges"][-1]["cursor"]
    earlier = fetch(last=2, before=tail["pageInfo"]["startCursor"])
    assert nodes(earlier) == ids[-4:-2]
    assert earlier["pageInfo"]["hasNextPage"] is True
    assert earlier["pageInfo"]["hasPreviousPage"] is (n > 4)

    head = fetch(last=10, before=forward["edges"][1]["cursor"])
    assert nodes(head) == ids[:1]
    assert head["pageInfo"]["hasPreviousPage"] is False
    assert head["pageInfo"]["hasNextPage"] is True
    assert fetch(last=0)["edges"] == []
    everything = fetch(last=n + 5)
    assert nodes(everything) == ids
    assert everything["totalCount"] == n


PAGE_INFO = "totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

SESSIONS = f"""query($owner: ID, $first: Int, $after: String, $last: Int, $before: String) {{
  sessions(ownerId: $owner, first: $first, after: $after, last: $last, before: $before) {{ {PAGE_INFO} }}
}}"""

PACKAGES = f"""query($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
                    $search: String, $unassigned: Boolean) {{
  session(id: $id) {{
    packages(first: $first, after: $after, last: $last, before: $before, search: $search,
             unassigned: $unassigned) {{ {PAGE_INFO} }}
  }}
}}"""


async def test_sessions_page_both_ways(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    made = [
        manager(CREATE_SESSION, name=f"Both ways {n}")["createSession"]["session"]["id"]
        for n in range(5)
    ]

    def fetch(**args: Any) -> dict[str, Any]:
        return manager(SESSIONS, owner=manager.id, **args)["sessions"]

    _both_ways(fetch, list(reversed(made)))  # newest first
    bad = manager.raw(SESSIONS, {"last": 1, "before": "nope"})
    assert bad["errors"][0]["extensions"]["field"] == "before"
    too_many = manager.raw(SESSIONS, {"last": 5000})
    assert too_many["errors"][0]["extensions"]["field"] == "last"


async def test_packages_page_both_ways_search_and_unassigned(
    make_user: Callable[..., Any],
) -> None:
    manager = await make_user("MANAGER")
    deliverer = await make_user("DELIVERER")
    sid = manager(CREATE_SESSION, name="Search")["createSession"]["session"]["id"]
    names = ["João da Silva", "MARIA Conceição", "José Ávila", None, "Ana_100%"]
    ids = []
    for n, name in enumerate(names):
        added = manager(
            ADD_PACKAGES, sid=sid, packages=[{"barcode": f"SRCH{n}ABC{n}99", "recipientName": name}]
        )["addPackages"]
        ids.append(added["added"][0]["id"])

    def fetch(**args: Any) -> dict[str, Any]:
        return manager(PACKAGES, id=sid, **args)["session"]["packages"]

    _both_ways(fetch, ids)

    def found(**args: Any) -> list[str]:
        return [e["node"]["id"] for e in fetch(first=100, **args)["edges"]]

    assert found(search="joao") == [ids[0]]
    assert found(search="  CONCEICAO ") == [ids[1]]
    assert found(search="avil") == [ids[2]]
    assert found(search="srch3") == [ids[3]]  # a part of the code, any case
    assert found(search="abc") == ids
    assert found(search="_1") == [ids[4]]  # LIKE wildcards are plain text
    assert found(search="%") == [ids[4]]
    assert found(search="") == ids
    assert fetch(first=1, search="j")["totalCount"] == 2

    did = manager(ADD_DELIVERER, sid=sid, uid=deliverer.id, base="0", commission="1")[
        "addDeliverer"
    ]["deliverer"]["id"]
    manager(ASSIGN, sid=sid, pids=[ids[1], ids[3]], did=did)
    assert found(unassigned=True) == [ids[0], ids[2], ids[4]]
    assert found(unassigned=False) == [ids[1], ids[3]]
    assert found(unassigned=True, search="maria") == []
    page = fetch(last=1, unassigned=True)
    assert [e["node"]["id"] for e in page["edges"]] == [ids[4]]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasPreviousPage"] is True


CREATE_WEBHOOK = """mutation($url: String!) {
  createWebhook(input: {url: $url, events: ["*"]}) {
    __typename ... on WebhookSecretSuccess { webhook { id } } ... on Error { code message }
  }
}"""
TEST_WEBHOOK = """mutation($id: ID!) {
  testWebhook(input: {webhookId: $id}) {
    __typename ... on WebhookDeliverySuccess { delivery { id } } ... on Error { code message }
  }
}"""
DELIVERIES = f"""query($first: Int, $after: String, $last: Int, $before: String) {{
  webhooks {{ id deliveries(first: $first, after: $after, last: $last, before: $before) {{ {PAGE_INFO} }} }}
}}"""


async def test_webhook_deliveries_page_both_ways(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    created = manager(CREATE_WEBHOOK, url="http://127.0.0.1:9/hook")["createWebhook"]
    assert created["__typename"] == "WebhookSecretSuccess", created
    wid = created["webhook"]["id"]
    pings = [manager(TEST_WEBHOOK, id=wid)["testWebhook"]["delivery"]["id"] for _ in range(5)]

    def fetch(**args: Any) -> dict[str, Any]:
        (hook,) = manager(DELIVERIES, **args)["webhooks"]
        return hook["deliveries"]  # type: ignore[no-any-return]

    _both_ways(fetch, list(reversed(pings)))  # newest first
