"""`bipa demo`: a manager, two deliverers and a session with packages, to try the API at once."""

from __future__ import annotations

import json

from bipa.settings import Settings
from db.engine import make_engine, make_sessionmaker
from db.enums import Role
from db.models import User
from domain import commands
from domain.addresses import AddressData
from domain.operations import Runner
from domain.packages import PackageData

PARCELS = [
    ("7891000315507", "Maria Oliveira", "Rua das Flores, 120", "São Paulo", "01310-100"),
    ("7894900011517", "João Santos", "Av. Paulista, 1578", "São Paulo", "01310-200"),
    ("036000291452", "Ana Costa", "Rua Augusta, 900", "São Paulo", "01305-100"),
    ("96385074", "Pedro Lima", "Rua das Flores, 120", "São Paulo", "01310-100"),
    ("LBR-000123-SP", "Carla Souza", "Rua Oscar Freire, 45", "São Paulo", "01426-001"),
]

QUERY = """query Demo($id: ID!) {
  session(id: $id) {
    name status progress { total delivered percent }
    deliverers { user { name } baseSalary commissionPerDelivery totalEarned }
    packages(first: 10) {
      edges { node { barcode status recipientName address { line } deliverer { user { name } } } }
    }
  }
}"""


async def run_demo(url: str, settings: Settings) -> int:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    runner = Runner(make_sessionmaker(engine), currency=settings.currency)

    async def user(name: str, role: Role) -> tuple[User, str]:
        done = await runner.run_once(None, commands.CreateUser(name, role))
        return done.rows["user"], done.private["token"]

    try:
        manager, manager_token = await user("Gerente Demo", Role.MANAGER)
        ana, ana_token = await user("Ana Entregadora", Role.DELIVERER)
        bruno, bruno_token = await user("Bruno Entregador", Role.DELIVERER)
        created = await runner.run_once(manager, commands.CreateSession("Demo: entregas da manhã"))
        session_id = created.rows["session"].id
        team = []
        for person, salary, commission in ((ana, "120.00", "3.50"), (bruno, "110.00", "4.00")):
            added = await runner.run_once(
                manager,
                commands.AddDeliverer(session_id, salary, commission, user_id=person.id),
            )
            team.append(added.rows["deliverer"].id)
        items = tuple(
            PackageData(
                barcode=code,
                recipient_name=name,
                address=AddressData(line, city, postal),
                deliverer_id=team[i % 2],
            )
            for i, (code, name, line, city, postal) in enumerate(PARCELS)
        )
        await runner.run_once(manager, commands.AddPackages(session_id, items))
    finally:
        await engine.dispose()
    print("Demo data created (tokens are shown once):")
    print(f"  manager   {manager.name}: {manager_token}")
    print(f"  deliverer {ana.name}: {ana_token}")
    print(f"  deliverer {bruno.name}: {bruno_token}")
    print(f"\nOpen GraphiQL at http://{settings.host}:{settings.port}/graphql and set the header")
    print('  {"Authorization": "Bearer ' + manager_token + '"}')
    print("\nQuery:\n" + QUERY)
    print("\nVariables:\n  " + json.dumps({"id": str(session_id)}))
    return 0
