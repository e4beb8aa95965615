"""The one contract both object stores keep, over real HTTP for their links."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from storage import ObjectExists, ObjectNotFound, ObjectStore, StorageError, open_store

pytestmark = pytest.mark.e2e


def _key(ext: str = "jpg") -> str:
    return f"proof/{uuid.uuid4()}/{uuid.uuid4().hex}.{ext}"


def _tamper(url: str, name: str, change: str) -> str:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    query[name] = change
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_put_get_exists_delete(store: ObjectStore) -> None:
    key = _key()
    assert not await store.exists(key)
    await store.put(key, b"\xff\xd8photo", "image/jpeg")
    assert await store.exists(key)
    assert await store.get(key) == b"\xff\xd8photo"
    await store.delete(key)
    assert not await store.exists(key)
    await store.delete(key)  # deleting twice is fine: deletes are retried
    with pytest.raises(ObjectNotFound):
        await store.get(key)


async def test_keys_are_written_once(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"first", "image/jpeg")
    with pytest.raises(ObjectExists):
        await store.put(key, b"second", "image/jpeg")
    assert await store.get(key) == b"first"


async def test_concurrent_writers_of_one_key_one_wins(store: ObjectStore) -> None:
    key = _key()
    results = await asyncio.gather(
        *(store.put(key, f"v{i}".encode(), "image/jpeg") for i in range(5)),
        return_exceptions=True,
    )
    # The local store is atomic (link()); moto honours If-None-Match, so one write wins.
    assert sum(r is None for r in results) == 1
    assert all(r is None or isinstance(r, ObjectExists) for r in results)


async def test_bad_keys_are_refused(store: ObjectStore) -> None:
    for bad in ("../etc/passwd", "/abs", "a//b", "a/../b", "", "a b", "x" * 600):
        with pytest.raises(StorageError):
            await store.put(bad, b"x", "image/jpeg")


async def test_list_by_prefix(store: ObjectStore) -> None:
    folder = f"proof/{uuid.uuid4()}"
    keys = [f"{folder}/{i}.jpg" for i in range(3)]
    for k in keys:
        await store.put(k, b"abc", "image/jpeg")
    listed = await store.list_prefix(folder + "/")
    assert [o.key for o in listed] == keys
    assert all(o.size == 3 and o.modified.tzinfo is not None for o in listed)


async def test_presigned_get_over_http(store: ObjectStore, http: httpx.AsyncClient) -> None:
    key = _key()
    await store.put(key, b"\xff\xd8 the photo", "image/jpeg")
    url = await store.presign_get(key, 60)
    r = await http.get(url)
    assert r.status_code == 200
    assert r.content == b"\xff\xd8 the photo"


async def test_expired_link_is_refused(store: ObjectStore, http: httpx.AsyncClient) -> None:
    key = _key()
    await store.put(key, b"old", "image/jpeg")
    url = await store.presign_get(key, 1)
    await asyncio.sleep(2.2)
    r = await http.get(url)
    assert r.status_code == 403


async def test_tampered_links_are_refused(store: ObjectStore, http: httpx.AsyncClient) -> None:
    key, other = _key(), _key()
    await store.put(key, b"mine", "image/jpeg")
    await store.put(other, b"theirs", "image/jpeg")
    url = await store.presign_get(key, 60)
    signature = "X-Amz-Signature" if "X-Amz-Signature" in url else "signature"
    sig = parse_qs(urlsplit(url).query)[signature][-1]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    assert (await http.get(_tamper(url, signature, flipped))).status_code == 403
    # The same signature for another object.
    assert (await http.get(url.replace(key, other))).status_code == 403
    # A longer life than was signed.
    expiry = "X-Amz-Expires" if "X-Amz-Expires" in url else "expires"
    life = parse_qs(urlsplit(url).query)[expiry][-1]
    assert (await http.get(_tamper(url, expiry, str(int(life) + 3600)))).status_code == 403


async def test_presigned_put_over_http(store: ObjectStore, http: httpx.AsyncClient) -> None:
    key = _key("png")
    url = await store.presign_put(key, 60, "image/png")
    r = await http.put(url, content=b"\x89PNG signature", headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    assert await store.get(key) == b"\x89PNG signature"
    # A GET link is not an upload link.
    get_url = await store.presign_get(_key("png"), 60)
    assert (await http.put(get_url, content=b"x")).status_code == 403


def test_link_lifetime_is_capped_at_seven_days() -> None:
    store = open_store("file:///tmp/unused", secret=b"k" * 32)
    assert store.lifetime(30 * 24 * 3600) == 7 * 24 * 3600
    with pytest.raises(StorageError):
        store.lifetime(0)


def test_open_store_urls() -> None:
    from storage.s3 import S3Store

    s3 = open_store(
        "s3://AK:SK@bucket-a/some/prefix?endpoint=http://127.0.0.1:9000&region=sa-east-1",
        secret=b"k" * 32,
    )
    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == (
        "bucket-a",
        "some/prefix/",
        "http://127.0.0.1:9000",
    )
    with pytest.raises(StorageError):
        open_store("ftp://x/y", secret=b"k" * 32)
