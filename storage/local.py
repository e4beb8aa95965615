"""The embedded store: a folder on disk, with links the app itself serves and verifies.

A link is `<base>/<key>?method=GET&expires=<unix s>&signature=<hex HMAC-SHA256>` over the method,
the key and the expiry, so it cannot be stretched, pointed at another object or turned into an
upload. The app's `/objects/` route calls `verify` before it reads or writes anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from storage.base import (
    LinkRefused,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    check_key,
)

# Files being written carry this suffix until they are linked into place (never listed).
_PARTIAL = ".partial"


class LocalStore(ObjectStore):
    def __init__(self, root: Path, secret: bytes, base_url: str = "/objects") -> None:
        if len(secret) < 32:
            raise StorageError("the link secret must be at least 32 bytes")
        self.root = root
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    # --- objects ----------------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, self._path(key), bytes(data))

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}{_PARTIAL}")
        with open(partial, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            # link() fails if the name exists: write-once without a check-then-act race, and
            # readers never see a half-written object.
            os.link(partial, path)
        except FileExistsError:
            raise ObjectExists(f"object {path.name} exists") from None
        finally:
            partial.unlink(missing_ok=True)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key}") from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def list_prefix(self, prefix: str) -> list[ObjectInfo]:
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        if not self.root.is_dir():
            return found
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.endswith(_PARTIAL):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = path.stat()
                    found.append(
                        ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))
                    )
        return sorted(found, key=lambda o: o.key)

    # --- links ------------------------------------------------------------------------------

    def _signature(self, method: str, key: str, expires: int) -> str:
        message = f"{method}\n{key}\n{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def _link(self, method: str, key: str, expires_s: int) -> str:
        check_key(key)
        expires = int(time.time()) + self.lifetime(expires_s)
        signature = self._signature(method, key, expires)
        return (
            f"{self.base_url}/{quote(key)}?method={method}&expires={expires}&signature={signature}"
        )

    async def presign_get(self, key: str, expires_s: int) -> str:
        return self._link("GET", key, expires_s)

    async def presign_put(self, key: str, expires_s: int, content_type: str) -> str:
        return self._link("PUT", key, expires_s)

    def verify(self, method: str, key: str, expires: str, signature: str) -> None:
        """Raises LinkRefused unless the link was minted by this store for `method` on `key`
        and has not expired."""
        try:
            check_key(key)
            when = int(expires)
        except (StorageError, ValueError):
            raise LinkRefused("malformed link") from None
        expected = self._signature(method.upper(), key, when)
        # Compared before the expiry, so a forged link learns nothing from the answer.
        if not hmac.compare_digest(expected, signature or ""):
            raise LinkRefused("bad signature")
        if when < int(time.time()):
            raise LinkRefused("link expired")
