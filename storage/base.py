"""What every object store offers, and the errors it raises.

Keys are written once: `put` refuses a key that exists, so an object a database row names can
never be replaced behind its hash. Links are minted on each read and expire; nothing here
remembers one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

# Keys are ours (built by the domain), never a user's file name: a narrow alphabet keeps them
# safe as path segments on disk and in URLs, with no "..", no leading "/" and no "//".
_KEY = re.compile(r"^[A-Za-z0-9_-]+(?:[./][A-Za-z0-9_-]+)*$")
MAX_KEY_LENGTH = 512


class StorageError(Exception):
    """The store failed or refused; the message is for logs (it names the key, never a link)."""


class ObjectExists(StorageError):
    """A key is written once."""


class ObjectNotFound(StorageError):
    pass


class LinkRefused(StorageError):
    """A signed link that is expired, tampered with or for another key or method."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


def check_key(key: str) -> str:
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise StorageError(f"invalid object key {key!r}")
    return key


class ObjectStore(ABC):
    """An object store: put / get / delete / exists / list, and expiring links."""

    #: The longest lifetime a link may have (S3's SigV4 limit is 7 days).
    max_link_seconds: int = 7 * 24 * 3600

    @abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Stores `data` under a new `key`; ObjectExists if the key is taken."""

    @abstractmethod
    async def get(self, key: str) -> bytes: ...

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Removes the object; a missing one is not an error (deletes are retried)."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def list_prefix(self, prefix: str) -> list[ObjectInfo]:
        """Objects whose key starts with `prefix` (the sweeper's view)."""

    @abstractmethod
    async def presign_get(self, key: str, expires_s: int) -> str: ...

    @abstractmethod
    async def presign_put(self, key: str, expires_s: int, content_type: str) -> str: ...

    async def close(self) -> None:
        """Releases connections; the store is not used afterwards."""
        return None

    def lifetime(self, expires_s: int) -> int:
        if expires_s <= 0:
            raise StorageError("a link must live at least one second")
        return min(int(expires_s), self.max_link_seconds)
