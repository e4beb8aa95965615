"""Object storage: bytes by key, written once, read through links that expire.

A pure package (imports nothing of ours). Two backends behind one interface, chosen by one
URL (`open_store`):

* `file:///path/to/objects` (the default, under the data dir): a folder, with HMAC-signed
  links that the app serves and verifies (`LocalStore.verify`);
* `s3://[KEY:SECRET@]bucket[/prefix]?endpoint=https://...&region=...`: AWS S3 or any
  S3-compatible store, with real presigned URLs (credentials from the URL or the usual AWS
  environment).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from storage.base import (
    LinkRefused,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    check_key,
)
from storage.local import LocalStore

__all__ = [
    "LinkRefused",
    "LocalStore",
    "ObjectExists",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "StorageError",
    "check_key",
    "open_store",
]


def open_store(url: str, *, secret: bytes, base_url: str = "/objects") -> ObjectStore:
    """The store a URL names. `secret` signs the embedded store's links; `base_url` is where
    the app serves them."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if not path:
            raise StorageError("a file:// storage URL needs a path")
        return LocalStore(Path(path), secret, base_url)
    if parts.scheme == "s3":
        from storage.s3 import S3Store  # aioboto3 is imported only when it is used

        if not parts.hostname:
            raise StorageError("an s3:// storage URL needs a bucket")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return S3Store(
            parts.hostname,
            prefix=unquote(parts.path),
            endpoint_url=query.get("endpoint") or None,
            region=query.get("region") or None,
            access_key=unquote(parts.username) if parts.username else None,
            secret_key=unquote(parts.password) if parts.password else None,
        )
    raise StorageError("the storage URL must start with file:// or s3://")
