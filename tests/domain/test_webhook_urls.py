"""Webhook URL rules: in production no address that is, or embeds, a non-public one."""

from __future__ import annotations

import pytest

from domain.errors import ValidationFailed
from domain.webhook_urls import check_url


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "100.64.0.1",  # shared address space (CGNAT)
        "::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 embedding 127.0.0.1
        "2002:a00:1::1",  # 6to4 embedding 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 embedding 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 embedding 169.254.169.254 (cloud metadata)
        "64:ff9b:1::808:808",  # local-use NAT64 prefix
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo, client 192.0.2.45
        "::127.0.0.1",  # IPv4-compatible
        "::a9fe:a9fe",
        "fc00::1",
        "fe80::1",
        "fec0::1",  # deprecated site-local
        "3fff::1",  # documentation (RFC 9637)
        "2001:db8::1",
        "ff02::1",
    ],
)
async def test_production_refuses_addresses_that_are_or_embed_non_public_ones(
    address: str,
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await check_url("https://hooks.example.com/x", production=True, resolve=resolver(address))
    assert refused.value.code == "URL_REFUSED"


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2606:4700:4700::1111", "2002:808:808::", "64:ff9b::808:808"]
)
async def test_production_accepts_public_addresses_and_ones_embedding_public_ones(
    address: str,
) -> None:
    checked = await check_url(
        "https://hooks.example.com/x", production=True, resolve=resolver(address)
    )
    assert checked.address == address


async def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    with pytest.raises(ValidationFailed):
        await check_url(
            "https://hooks.example.com/x",
            production=True,
            resolve=resolver("8.8.8.8", "2002:7f00:1::"),
        )
