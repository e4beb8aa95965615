"""An S3-compatible store (AWS S3, MinIO, ...) through aioboto3, with real presigned URLs."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from storage.base import (
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    check_key,
)

_MISSING = {"404", "NoSuchKey", "NotFound"}
_TAKEN = {"PreconditionFailed", "412", "ConditionalRequestConflict"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Store(ObjectStore):
    # SigV4 presigned URLs live at most 7 days.
    max_link_seconds = 7 * 24 * 3600

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self._session = aioboto3.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region or "us-east-1",
        )
        # Path-style addressing: MinIO and most self-hosted stores have no per-bucket DNS.
        self._config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._opening = asyncio.Lock()

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    self._client = await self._stack.enter_async_context(
                        self._session.client(
                            "s3", endpoint_url=self.endpoint_url, config=self._config
                        )
                    )
        return self._client

    async def close(self) -> None:
        self._client = None
        await self._stack.aclose()

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def create_bucket(self) -> None:
        """For development and tests: the bucket, if it does not exist yet."""
        s3 = await self._s3()
        try:
            await s3.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StorageError(f"creating bucket {self.bucket} failed: {_code(exc)}") from None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        s3 = await self._s3()
        name = self._key(key)
        if await self.exists(key):
            raise ObjectExists(f"object {key} exists")
        try:
            # If-None-Match makes the write itself conditional where the store supports it
            # (AWS S3 since 2024, MinIO); the look above covers the others.
            await s3.put_object(
                Bucket=self.bucket,
                Key=name,
                Body=bytes(data),
                ContentType=content_type,
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if _code(exc) in _TAKEN:
                raise ObjectExists(f"object {key} exists") from None
            raise StorageError(f"put {key} failed: {_code(exc)}") from None
        except BotoCoreError as exc:
            raise StorageError(f"put {key} failed: {type(exc).__name__}") from None

    async def get(self, key: str) -> bytes:
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=self._key(key))
            async with response["Body"] as body:
                data: bytes = await body.read()
                return data
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectNotFound(f"no object {key}") from None
            raise StorageError(f"get {key} failed: {_code(exc)}") from None

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        try:
            await s3.delete_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise StorageError(f"delete {key} failed: {_code(exc)}") from None

    async def exists(self, key: str) -> bool:
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise StorageError(f"head {key} failed: {_code(exc)}") from None
        return True

    async def list_prefix(self, prefix: str) -> list[ObjectInfo]:
        s3 = await self._s3()
        found: list[ObjectInfo] = []
        paginator = s3.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    key = str(item["Key"])[len(self.prefix) :]
                    found.append(ObjectInfo(key, int(item["Size"]), item["LastModified"]))
        except ClientError as exc:
            raise StorageError(f"list {prefix} failed: {_code(exc)}") from None
        return sorted(found, key=lambda o: o.key)

    async def presign_get(self, key: str, expires_s: int) -> str:
        s3 = await self._s3()
        url: str = await s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=self.lifetime(expires_s),
        )
        return url

    async def presign_put(self, key: str, expires_s: int, content_type: str) -> str:
        s3 = await self._s3()
        url: str = await s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": self._key(key), "ContentType": content_type},
            ExpiresIn=self.lifetime(expires_s),
        )
        return url
