"""Relay-complete connections: pageInfo both ways, and the audit log paged backwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.queries import ADD_PACKAGES, CREATE_SESSION

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
