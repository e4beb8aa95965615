"""Geocoding 1,000 addresses of which 60% repeat across sessions, against a local provider.

Five sessions of 200 addresses each, geocoded one after the other by the code the
`geocodeSession` job calls (domain.geocoding.geocode_session, batches through the runner, on
a throw-away database): 400 distinct addresses, the other 600 repeat an earlier session's,
half of them spelled differently ("R." for "Rua", "nº", the CEP without its dash). The
provider is a local Nominatim-compatible server answering every request after a fixed
latency (default 20 ms).

Prints the provider calls made (target: only the distinct addresses) and the wall time
against the provider's own latency: distinct x latency (the least any geocoder asking one
address at a time can spend) and 1,000 x latency (no cache).

    .venv/bin/python bench/geocode.py [--latency-ms 20] [--database-url ...]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import add_database_argument, run, throwaway_database, verdict

SESSIONS = 5
PER_SESSION = 200
DISTINCT = 400


def spelled(k: int, variant: bool) -> tuple[str, str, str]:
    """The k-th address: street, number, CEP; a variant spells it another way."""
    street = f"Rua das Palmeiras {k // 50}"
    number = str(100 + k)
    cep = f"{1310000 + k:08d}"
    if variant:
        return street.replace("Rua", "R."), f"nº {number}", f"{cep[:5]}-{cep[5:]}"
    return street, number, cep


def plan() -> list[list[int]]:
    """Which distinct address each session holds: 200 new in the first, then 50 new and 150
    seen before in each of the next four (600 repeats in all)."""
    rnd = random.Random(16)
    sessions = [list(range(PER_SESSION))]
    fresh = PER_SESSION
    for _ in range(SESSIONS - 1):
        seen = rnd.sample(range(fresh), PER_SESSION - 50)
        sessions.append([*range(fresh, fresh + 50), *seen])
        fresh += 50
    assert fresh == DISTINCT
    return sessions


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    add_database_argument(parser)
    args = parser.parse_args()

    import geo
    from db.engine import make_engine, make_sessionmaker
    from db.enums import Role
    from domain import commands, geocoding
    from domain.addresses import AddressData
    from domain.operations import Runner
    from domain.packages import PackageData
    from geo.address import normalize_street
    from tests.geo.fakes import FakeProviders, Place, serve

    places = {
        normalize_street(f"Rua das Palmeiras {k // 50} {100 + k}"): Place(
            -23.55 + k * 1e-4, -46.63 - k * 1e-4
        )
        for k in range(DISTINCT)
    }
    fake = FakeProviders(places=places, latency_s=args.latency_ms / 1000)
    async with throwaway_database(args.database_url, "bench_geocode") as db:
        engine = make_engine(db.url)
        runner = Runner(make_sessionmaker(engine))
        manager = (await runner.run_once(None, commands.CreateUser("Bench", Role.MANAGER))).rows[
            "user"
        ]
        rnd = random.Random(7)
        session_ids: list[uuid.UUID] = []
        for n, keys in enumerate(plan()):
            sid = (
                (await runner.run_once(manager, commands.CreateSession(f"Geo {n}")))
                .rows["session"]
                .id
            )
            items = []
            for j, k in enumerate(keys):
                street, number, cep = spelled(k, variant=n > 0 and rnd.random() < 0.5)
                address = AddressData(
                    street=street, number=number, city="São Paulo", state="SP", postal_code=cep
                )
                items.append(PackageData(f"GEO-{n}-{j}", address=address))
            await runner.run_once(manager, commands.AddPackages(sid, tuple(items)))
            session_ids.append(sid)
        with serve(fake):
            g = geo.build("nominatim", url=fake.url, cep_url=None, user_agent="bench/1.0")
            started = time.perf_counter()
            placed = cached = 0
            for sid in session_ids:
                report = await geocoding.geocode_session(runner, manager, sid, g)
                placed += report.placed
                cached += report.from_cache
            elapsed = time.perf_counter() - started
            await g.aclose()
        await engine.dispose()
    calls = fake.count("/search")
    floor = DISTINCT * args.latency_ms / 1000
    naive = SESSIONS * PER_SESSION * args.latency_ms / 1000
    print(
        f"{SESSIONS * PER_SESSION} addresses in {SESSIONS} sessions, {DISTINCT} distinct, "
        f"provider latency {args.latency_ms:g} ms"
    )
    print(f"placed {placed}, from the cache {cached}")
    print(
        f"provider calls        {calls} (target: {DISTINCT}, the distinct ones)  "
        f"{verdict(calls == DISTINCT)}"
    )
    print(f"wall time             {elapsed:.2f} s")
    print(f"  vs distinct x latency {floor:.2f} s: {elapsed / floor:.2f}x")
    print(f"  vs 1,000 x latency    {naive:.2f} s (no cache): {elapsed / naive:.2f}x")


if __name__ == "__main__":
    run(main)
