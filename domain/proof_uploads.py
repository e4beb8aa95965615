"""Running a command that carries proof: process and store the files, run, clean up.

The upload mode is multipart in the same call (see README, Proof of delivery): the server must
decode and re-encode every photo anyway (EXIF out, size down), so the phone sends its bytes
once, to us, and a bad image is refused before anything is stored.

    staged = await stage(...)          # decode, strip, re-encode (thread pool); put objects
    done = await runner.run_once(...)  # the command carries keys, hashes, sizes
    # refused, failed or a replay: the staged objects are deleted again (only those that no
    # committed row names); a crash in between leaves them to the sweeper.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable

import ocr
from db.models import User
from domain import proof
from domain.commands import Command, Done
from domain.operations import Runner
from domain.scanning import ScanPool

log = logging.getLogger("bipa.proof")


async def stage(
    config: proof.ProofConfig,
    pool: ScanPool,
    session_id: uuid.UUID,
    data: proof.ProofData,
) -> proof.StagedProof:
    """Every file processed first (an ImageError stores nothing), then all of them stored."""
    data = proof.check(data, config)
    encoded: list[tuple[str, int, ocr.Encoded]] = []
    for position, photo in enumerate(data.photos):
        result = await pool.call(
            lambda p=photo: ocr.prepare_photo(  # type: ignore[misc]
                p, longest_edge=config.longest_edge, quality=config.quality
            )
        )
        encoded.append((proof.PHOTO, position, result))
    if data.signature is not None:
        signature = data.signature
        encoded.append(
            (proof.SIGNATURE, 0, await pool.call(lambda: ocr.prepare_signature(signature)))
        )
    objects: list[proof.StoredObject] = []
    try:
        for kind, position, item in encoded:
            key = proof.new_key(session_id, item)
            await config.store.put(key, item.data, item.content_type)
            objects.append(
                proof.StoredObject(
                    key,
                    kind,
                    position,
                    item.sha256,
                    len(item.data),
                    item.width,
                    item.height,
                    item.content_type,
                )
            )
    except BaseException:
        await _delete(config, [o.key for o in objects])
        raise
    return proof.StagedProof(
        uploads=proof.upload_ids(data),
        objects=tuple(objects),
        received_by=data.received_by,
        note=data.note,
        latitude=data.latitude,
        longitude=data.longitude,
        accuracy=data.accuracy,
        captured_at=data.captured_at,
    )


def unstored(config: proof.ProofConfig, data: proof.ProofData) -> proof.StagedProof:
    """The same proof without its files, for a call known to be a replay."""
    data = proof.check(data, config)
    return proof.StagedProof(
        uploads=proof.upload_ids(data),
        received_by=data.received_by,
        note=data.note,
        latitude=data.latitude,
        longitude=data.longitude,
        accuracy=data.accuracy,
        captured_at=data.captured_at,
        stored=False,
    )


async def _delete(config: proof.ProofConfig, keys: list[str]) -> None:
    for key in keys:
        try:
            await config.store.delete(key)
        except Exception as exc:  # the sweeper removes what is left
            log.warning("deleting an uncommitted proof object failed", extra={"error": str(exc)})


async def discard(runner: Runner, config: proof.ProofConfig, staged: proof.StagedProof) -> None:
    """Deletes the staged objects that no committed row names (a commit whose answer was lost
    may have stored them: those stay)."""
    if not staged.keys:
        return
    try:
        async with runner.uow() as uow:
            keys = await proof.unknown(uow, staged.keys)
    except Exception:
        return  # cannot tell: the sweeper decides later, with the database back
    await _delete(config, keys)


async def run(
    runner: Runner,
    config: proof.ProofConfig,
    pool: ScanPool,
    caller: User,
    session_id: uuid.UUID,
    data: proof.ProofData,
    build: Callable[[proof.StagedProof], Command],
    key: str | None,
) -> Done:
    """Runs `build(staged proof)` once for `key`, with no object left behind unless it
    committed. A retry whose first call committed stores nothing at all."""
    if key is not None and await runner.stored(caller, key) is not None:
        return await runner.run_once(caller, build(unstored(config, data)), key)
    staged = await stage(config, pool, session_id, data)
    try:
        done = await runner.run_once(caller, build(staged), key)
    except BaseException:
        with contextlib.suppress(Exception):
            await discard(runner, config, staged)
        raise
    if done.replayed:
        await discard(runner, config, staged)
    return done
