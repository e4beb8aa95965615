"""Proof of delivery rows: the proof of a package and the keys of its stored objects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PackageProof, ProofObject


class ProofRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, proof: PackageProof, objects: Sequence[ProofObject]) -> None:
        self.session.add(proof)
        self.session.add_all(objects)

    async def for_packages(
        self, package_ids: Sequence[uuid.UUID]
    ) -> list[tuple[PackageProof, list[ProofObject]]]:
        """Each package's proof (if any) with its objects in order; one statement per table."""
        if not package_ids:
            return []
        proofs = list(
            (
                await self.session.scalars(
                    select(PackageProof).where(PackageProof.package_id.in_(list(package_ids)))
                )
            ).all()
        )
        if not proofs:
            return []
        objects = (
            await self.session.scalars(
                select(ProofObject)
                # An anonymised object's file is gone (or going): nothing to show or link.
                .where(
                    ProofObject.proof_id.in_([p.id for p in proofs]),
                    ProofObject.anonymized_at.is_(None),
                )
                .order_by(ProofObject.proof_id, ProofObject.kind, ProofObject.position)
            )
        ).all()
        grouped: dict[uuid.UUID, list[ProofObject]] = {p.id: [] for p in proofs}
        for obj in objects:
            grouped[obj.proof_id].append(obj)
        return [(p, grouped[p.id]) for p in proofs]

    async def packages_with_proof(self, session_id: uuid.UUID) -> set[uuid.UUID]:
        stmt = select(PackageProof.package_id).where(PackageProof.session_id == session_id)
        return set(await self.session.scalars(stmt))

    async def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of `keys` a live proof row names (what the sweeper must never delete); the
        objects of anonymised rows are the sweeper's to delete."""
        if not keys:
            return set()
        rows = await self.session.scalars(
            select(ProofObject.key).where(
                ProofObject.key.in_(list(keys)), ProofObject.anonymized_at.is_(None)
            )
        )
        return set(rows.all())

    async def for_anonymizing(
        self, package_ids: Sequence[uuid.UUID]
    ) -> tuple[list[PackageProof], list[ProofObject]]:
        """The proofs and live objects of these packages, to be anonymised."""
        if not package_ids:
            return [], []
        proofs = list(
            (
                await self.session.scalars(
                    select(PackageProof).where(PackageProof.package_id.in_(list(package_ids)))
                )
            ).all()
        )
        objects = (
            list(
                (
                    await self.session.scalars(
                        select(ProofObject).where(
                            ProofObject.proof_id.in_([p.id for p in proofs]),
                            ProofObject.anonymized_at.is_(None),
                        )
                    )
                ).all()
            )
            if proofs
            else []
        )
        return proofs, objects
