"""Manifest rows -> packages of a session, by the rules addPackages applies.

manifest/ (pure) reads the file and checks its shape; here each row is checked against the
session (the tracking-code model, the address rules, the session's deliverers, what the
session already holds) and the valid rows go through `packages.add_packages`, the service
addPackages and scans use, so the audit log, live events and webhooks are theirs.

A batch is idempotent by content: a row whose code the session already has is "already
present", not an error, so a batch retried after a crash adds nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import manifest
import storage
from db.models import DeliverySession, User
from domain import addresses, barcodes, packages, permissions
from domain.errors import NotFound, ValidationFailed
from domain.jobs import ImportLimits, upload_key
from domain.uow import UnitOfWork
from manifest import ManifestRow, RowProblem
from manifest.headers import fold

# Reasons an operator reads, for the codes the package rules answer (English in the API).
_REASONS = {
    "BARCODE_NOT_ASCII": "o código de rastreio só pode ter letras sem acento, números e símbolos",
    "BARCODE_TOO_LONG": "o código de rastreio é longo demais",
    "BARCODE_EMPTY": "falta o código de rastreio",
    "BARCODE_CHECK_DIGIT": "o dígito verificador do código de barras não confere",
    "TRACKING_CHECK_DIGIT": "o dígito verificador do código de rastreio não confere",
    "RECIPIENT_TOO_LONG": "o nome do destinatário passa de 200 caracteres",
    "ADDRESS_EMPTY": "há cidade ou CEP, mas falta o endereço (rua, número ou bairro)",
    "ADDRESS_TOO_LONG": "o endereço (ou uma de suas partes) é longo demais",
    "ADDRESS_STREET_REQUIRED": "há número, complemento ou bairro, mas falta a rua",
    "UF_INVALID": "a UF deve ser uma das 27 siglas (SP, RJ, ...)",
    "CEP_INVALID": "o CEP deve ter 8 dígitos (00000-000)",
    "POSTAL_CODE_TOO_LONG": "o CEP é longo demais",
    "COORDINATE_OUT_OF_RANGE": "coordenada fora do intervalo",
}


class Outcome(enum.StrEnum):
    ADDED = "ADDED"
    ALREADY_PRESENT = "ALREADY_PRESENT"  # the session had it: a retried batch, or a re-upload
    PROBLEM = "PROBLEM"
    # Valid, but not added: all-or-nothing, and another row has a problem.
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class RowOutcome:
    row: int
    outcome: Outcome
    code: str | None = None  # the problem's code
    column: str | None = None
    reason: str | None = None
    package_id: uuid.UUID | None = None
    barcode: str | None = None  # canonical

    def ref(self) -> dict[str, Any]:
        # By hand, not dataclasses.asdict (which deep-copies): one per imported row.
        plain: dict[str, Any] = {"row": self.row, "outcome": self.outcome.value}
        for name in ("code", "column", "reason", "barcode"):
            value = getattr(self, name)
            if value is not None:
                plain[name] = value
        if self.package_id is not None:
            plain["package_id"] = str(self.package_id)
        return plain


@dataclass
class ImportResult:
    session: DeliverySession
    outcomes: list[RowOutcome]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome is outcome)


def counted(outcomes: Sequence[RowOutcome]) -> tuple[int, int]:
    """Rows now in the session (added, or there already: a retried batch's), rows refused."""
    done = sum(1 for o in outcomes if o.outcome in (Outcome.ADDED, Outcome.ALREADY_PRESENT))
    refused = len({o.row for o in outcomes if o.outcome is Outcome.PROBLEM})
    return done, refused


# A refused address's field (addresses.clean) -> the manifest column to point at.
_ADDRESS_COLUMNS = {
    "street": "street",
    "line": "street",
    "number": "number",
    "complement": "complement",
    "neighbourhood": "neighbourhood",
    "city": "city",
    "state": "uf",
    "postalCode": "cep",
}


def address_of(row: ManifestRow) -> addresses.AddressData | None:
    """The one place a manifest's address columns become the domain's address: structured
    (street, number, complement, neighbourhood, city, UF, CEP) when the row has a street, the
    line then built by `addresses.clean` as for addPackages; without one, what there is as a
    line."""
    if row.street:
        return addresses.AddressData(
            street=row.street,
            number=row.number,
            complement=row.complement,
            neighbourhood=row.neighbourhood,
            city=row.city,
            state=row.uf,
            postal_code=row.cep,
        )
    line = " - ".join(p for p in (row.number, row.complement, row.neighbourhood) if p) or None
    if not (line or row.city or row.cep):
        return None
    return addresses.AddressData(line, row.city, row.cep, state=row.uf)


def _problem(row: ManifestRow, column: str | None, code: str, reason: str | None) -> RowProblem:
    return RowProblem(row.row, column, code, reason or _REASONS.get(code, code))


@dataclass(frozen=True)
class _Checked:
    row: ManifestRow
    barcode: str
    item: packages.PackageData


def _deliverer_index(named: Sequence[tuple[uuid.UUID, str]]) -> dict[str, list[uuid.UUID]]:
    index: dict[str, list[uuid.UUID]] = {}
    for deliverer_id, name in named:
        index.setdefault(fold(name), []).append(deliverer_id)
    return index


def _check_row(
    row: ManifestRow, deliverers: dict[str, list[uuid.UUID]]
) -> tuple[_Checked | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    checked = barcodes.check(row.tracking_code)
    if checked.rejected is not None:
        problems.append(_problem(row, "tracking_code", checked.rejected.code, None))
    address = address_of(row)
    if address is not None:
        try:
            # Cleaned once: add_packages takes a clean address as it is.
            address = addresses.clean(address, "address")
        except ValidationFailed as e:
            column = _ADDRESS_COLUMNS.get((e.field or "").rsplit(".", 1)[-1], "street")
            problems.append(_problem(row, column, e.code, None))
    if row.recipient_name is not None and len(row.recipient_name) > 200:
        problems.append(_problem(row, "recipient_name", "RECIPIENT_TOO_LONG", None))
    deliverer_id: uuid.UUID | None = None
    if row.deliverer:
        found = deliverers.get(fold(row.deliverer), [])
        if not found:
            why = f"o entregador '{row.deliverer}' não faz parte desta sessão"
            problems.append(_problem(row, "deliverer", "UNKNOWN_DELIVERER", why))
        elif len(found) > 1:
            why = f"há mais de um entregador chamado '{row.deliverer}' nesta sessão"
            problems.append(_problem(row, "deliverer", "AMBIGUOUS_DELIVERER", why))
        else:
            deliverer_id = found[0]
    if problems:
        return None, problems
    item = packages.PackageData(
        barcode=row.tracking_code,
        recipient_name=row.recipient_name,
        address=address,
        deliverer_id=deliverer_id,
        checked=checked,
    )
    return _Checked(row, checked.barcode, item), []


async def _check_rows(
    uow: UnitOfWork, session: DeliverySession, rows: Sequence[ManifestRow]
) -> tuple[list[_Checked], list[RowProblem]]:
    # Most manifests name no deliverer: then the session's deliverers are not read.
    wanted = any(row.deliverer for row in rows)
    index = _deliverer_index(await uow.deliverers.names(session.id)) if wanted else {}
    valid: list[_Checked] = []
    problems: list[RowProblem] = []
    first: dict[str, int] = {}
    for row in rows:
        checked, row_problems = _check_row(row, index)
        if checked is not None and checked.barcode in first:
            # Canonical codes: the same parcel written two ways (a QR's JSON and its number).
            why = f"código repetido: é o mesmo pacote da linha {first[checked.barcode]}"
            row_problems = [_problem(row, "tracking_code", "DUPLICATE_IN_FILE", why)]
            checked = None
        if checked is not None:
            first[checked.barcode] = row.row
            valid.append(checked)
        problems.extend(row_problems)
    return valid, problems


async def lock_for_import(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> None:
    """The refusals of importing into a session, known when its job is asked for: nothing is
    queued for a session that cannot take packages (the job checks again at each batch)."""
    packages.ensure_addable(await permissions.lock_for_change(uow, actor, session_id))


def _added(chunk: Sequence[_Checked], result: packages.AddResult) -> list[RowOutcome]:
    # Checked above by the same rules under the same lock, each row was added; a refusal
    # here would be a rule that changed in add_packages only, reported rather than lost.
    by_code = {p.barcode: p for p in result.new}
    refused = {r.barcode: r for r in result.rejected}
    outcomes: list[RowOutcome] = []
    for c in chunk:
        package = by_code.get(c.barcode)
        if package is not None:
            outcomes.append(
                RowOutcome(c.row.row, Outcome.ADDED, package_id=package.id, barcode=c.barcode)
            )
            continue
        no = refused.get(c.row.tracking_code)
        code = no.code if no is not None else "NOT_ADDED"
        outcomes.append(
            RowOutcome(c.row.row, Outcome.PROBLEM, code, "tracking_code", _REASONS.get(code, code))
        )
    return outcomes


async def validate_manifest(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    rows: Sequence[ManifestRow],
    *,
    actor: User | None = None,
) -> list[RowProblem]:
    """The problems importing `rows` would report, writing nothing: for dry runs and the
    all-or-nothing check before the first batch. With `actor`, refused unless they manage
    the session (a front-end without one has checked already). Rows the session already
    holds are no problem."""
    if actor is not None:
        session = await permissions.ensure_manages(uow, actor, session_id)
    else:
        found = await uow.sessions.get(session_id)
        if found is None:
            raise NotFound("session not found", id=str(session_id), code="SESSION_NOT_FOUND")
        session = found
    packages.ensure_addable(session)
    _, problems = await _check_rows(uow, session, rows)
    return problems


async def import_rows(
    uow: UnitOfWork,
    actor: User,
    session_id: uuid.UUID,
    rows: Sequence[ManifestRow],
    all_or_nothing: bool,
) -> ImportResult:
    """One batch, in the caller's transaction, under the session's lock."""
    session = await permissions.lock_for_change(uow, actor, session_id)
    packages.ensure_addable(session)
    valid, problems = await _check_rows(uow, session, rows)
    outcomes = [RowOutcome(p.row, Outcome.PROBLEM, p.code, p.column, p.reason) for p in problems]
    present = await uow.packages.existing_ids(session.id, [c.barcode for c in valid])
    fresh = [c for c in valid if c.barcode not in present]
    outcomes += [
        RowOutcome(
            c.row.row, Outcome.ALREADY_PRESENT, package_id=present[c.barcode], barcode=c.barcode
        )
        for c in valid
        if c.barcode in present
    ]
    if all_or_nothing and problems:
        outcomes += [RowOutcome(c.row.row, Outcome.SKIPPED, barcode=c.barcode) for c in fresh]
    else:
        step = packages.MAX_PACKAGES_PER_CALL
        for start in range(0, len(fresh), step):
            chunk = fresh[start : start + step]
            result = await packages.add_packages(uow, actor, session.id, [c.item for c in chunk])
            outcomes += _added(chunk, result)
    outcomes.sort(key=lambda o: o.row)
    return ImportResult(session, outcomes)


# --- the uploaded file: refused whole, or stored for the job (every front-end the same) ------


def read_file(data: bytes, filename: str | None, limits: ImportLimits) -> manifest.Manifest:
    """The file's rows, or the refusal of the whole file as a coded error."""
    try:
        return manifest.read_manifest(
            data, filename, max_bytes=limits.max_bytes, max_rows=limits.max_rows
        )
    except manifest.ManifestError as exc:
        raise _refused(exc) from None


def check_file(data: bytes, filename: str | None, limits: ImportLimits) -> int:
    """The refusal of the whole file as a coded error, without reading each row (an upload's
    check: the job reads the rows); answers the number of data rows."""
    try:
        return manifest.check_manifest(
            data, filename, max_bytes=limits.max_bytes, max_rows=limits.max_rows
        )
    except manifest.ManifestError as exc:
        raise _refused(exc) from None


def _refused(exc: manifest.ManifestError) -> ValidationFailed:
    return ValidationFailed(exc.message, field="file", code=exc.code, params=dict(exc.params))


def too_large(limit: int) -> ValidationFailed:
    return ValidationFailed(
        f"the file exceeds {limit} bytes",
        field="file",
        code="MANIFEST_TOO_LARGE",
        params={"max": str(limit)},
    )


def _extension(filename: str | None, data: bytes) -> str:
    """Only the kind of file is kept (never the sender's file name)."""
    name = (filename or "").lower()
    if name.endswith(".xlsx") or data[:2] == b"PK":
        return "xlsx"
    return "csv"


async def stage_upload(
    store: storage.ObjectStore,
    session_id: uuid.UUID,
    data: bytes,
    filename: str | None,
    limits: ImportLimits,
    *,
    dry_run: bool,
    all_or_nothing: bool,
) -> dict[str, Any]:
    """Checks the whole file (refused before anything is stored or queued), stores it under a
    fresh key and answers the import job's parameters (`CreateJob`'s)."""
    if len(data) > limits.max_bytes:
        raise too_large(limits.max_bytes)
    ext = _extension(filename, data)
    await asyncio.to_thread(check_file, data, f"manifest.{ext}", limits)
    key = upload_key(session_id, ext)
    await store.put(key, data, "application/octet-stream")
    return {
        "key": key,
        "sha256": hashlib.sha256(data).hexdigest(),
        "filename": f"manifest.{ext}",
        "dryRun": dry_run,
        "allOrNothing": all_or_nothing,
    }


async def drop_upload(store: storage.ObjectStore, key: str | None) -> None:
    """An upload no job reads (the request was refused, or answered by a job already asked
    for with another copy of the file): an orphan would cost only space."""
    if key is not None:
        with contextlib.suppress(Exception):
            await store.delete(key)
