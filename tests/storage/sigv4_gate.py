"""A SigV4 gate in front of moto's S3 server, for the presigned-link tests.

moto serves presigned URLs without checking their signature or expiry (it only verifies
Authorization headers, and only with IAM auth on): moto/s3/responses.py. AWS S3 and MinIO do
check both. This gate recomputes the query signature (the SigV4 algorithm, written out from the
AWS specification, not botocore's signer that made the link) and the expiry, answers 403 like
S3 for a bad one, and forwards everything else to moto unchanged: the bytes still come from
the real S3 implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def expected_signature(
    method: str, headers: dict[str, str], path: str, query: list[tuple[str, str]], secret: str
) -> str:
    params = dict(query)
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(query)
        if k != "X-Amz-Signature"
    )
    signed = params["X-Amz-SignedHeaders"].split(";")
    canonical_headers = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed)
    canonical = "\n".join(
        [
            method,
            quote(path, safe="/-_.~"),
            canonical_query,
            canonical_headers,
            ";".join(signed),
            "UNSIGNED-PAYLOAD",
        ]
    )
    _, date, region, service, _ = params["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(
        _hmac(_hmac(_hmac(("AWS4" + secret).encode(), date), region), service), "aws4_request"
    )
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def gate(upstream: str, secret: str) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def forward(request: Request) -> Response:
        query = list(request.query_params.multi_items())
        params = dict(query)
        if "X-Amz-Signature" in params:
            lowered = {k.lower(): v for k, v in request.headers.items()}
            good = expected_signature(request.method, lowered, request.url.path, query, secret)
            if not hmac.compare_digest(good, params["X-Amz-Signature"]):
                return Response("SignatureDoesNotMatch", status_code=403)
            signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
                tzinfo=UTC
            )
            if signed_at.timestamp() + int(params["X-Amz-Expires"]) < time.time():
                return Response("Request has expired", status_code=403)
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        upstream_response = await client.request(
            request.method,
            request.url.path,
            params=query,
            headers=headers,
            content=await request.body(),
        )
        drop = {"content-length", "transfer-encoding", "content-encoding", "connection"}
        return Response(
            upstream_response.content,
            status_code=upstream_response.status_code,
            headers={k: v for k, v in upstream_response.headers.items() if k.lower() not in drop},
        )

    return Starlette(
        routes=[Route("/{path:path}", forward, methods=["GET", "PUT", "POST", "HEAD", "DELETE"])]
    )
