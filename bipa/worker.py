"""The webhook worker: claims due deliveries (FOR UPDATE SKIP LOCKED), signs and POSTs them.

Runs in `bipa worker` beside the job worker (jobs/), and inside `bipa serve` unless
BIPA_RUN_WORKER=false. Any number of workers can run against one database: the claim's row
locks and leases keep them apart. The housekeeping it used to run (key purge, proof sweep,
retention, backups) is on procrastinate's schedule now (jobs/periodic.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import metrics
from db.models import WebhookDelivery
from domain import commands, webhooks
from domain.crypto import SecretBox, sign
from domain.errors import ValidationFailed
from domain.operations import Runner
from domain.webhook_urls import check_url

log = logging.getLogger("bipa.worker")
USER_AGENT = "Bipa-Webhooks/1"


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class WebhookWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        *,
        production: bool,
        backoff: tuple[float, ...],
        disable_after: int,
        retry_for_s: float = 0.0,
        lease_s: float = 60.0,
        poll_s: float = 0.5,
        batch: int = 20,
        timeout_s: float = 10.0,
    ) -> None:
        self.runner = Runner(sessionmaker)
        self.box = box
        self.production = production
        self.backoff = backoff
        self.disable_after = disable_after
        self.retry_for_s = retry_for_s
        self.lease = timedelta(seconds=lease_s)
        self.poll_s = poll_s
        self.batch = batch
        self.client = httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=False,
            verify=True,
            headers={"User-Agent": USER_AGENT},
        )
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        log.info("webhook worker started")
        while not self._stopping.is_set():
            try:
                claimed = await self._claim()
            except Exception as exc:  # the database may be restarting: keep the worker alive
                log.warning("claiming deliveries failed", extra={"error": type(exc).__name__})
                claimed = []
            if claimed:
                await asyncio.gather(*(self._deliver(d) for d in claimed))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_s)
        await self.client.aclose()

    def stop(self) -> None:
        self._stopping.set()

    async def _claim(self) -> list[tuple[WebhookDelivery, str, bytes]]:
        done = await self.runner.run_once(
            None, commands.ClaimWebhookDeliveries(self.lease.total_seconds(), self.batch)
        )
        rows: list[WebhookDelivery] = done.rows["deliveries"]
        hooks = done.rows["webhooks"]
        out = []
        for row in rows:
            hook = hooks.get(row.webhook_id)
            if hook is not None:
                out.append((row, hook.url, hook.secret_ciphertext))
        return out

    async def _deliver(self, item: tuple[WebhookDelivery, str, bytes]) -> None:
        delivery, url, ciphertext = item
        ok, status, error = False, None, None
        try:
            checked = await check_url(url, production=self.production, resolve=resolve)
            body = webhooks.payload_bytes(delivery)
            secret = self.box.decrypt(ciphertext)
            headers = {
                "Content-Type": "application/json",
                "Host": checked.host_header,
                "Bipa-Event": delivery.event,
                "Bipa-Delivery": str(delivery.id),
                "Bipa-Signature": sign(secret, int(time.time()), body),
            }
            # Connect to the address that was checked; TLS still verifies the host name (SNI).
            response = await self.client.post(
                checked.pinned_url(),
                content=body,
                headers=headers,
                extensions={"sni_hostname": checked.host},
            )
            status = response.status_code
            ok = 200 <= status < 300
            if not ok:
                error = f"HTTP {status}"
        except ValidationFailed as exc:
            error = f"refused: {exc.message}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        except Exception as exc:  # never let one delivery kill the worker
            log.exception("webhook delivery crashed")
            error = type(exc).__name__
        try:
            await self.runner.run_once(
                None,
                commands.RecordWebhookAttempt(
                    delivery.id,
                    ok,
                    status,
                    error,
                    tuple(self.backoff),
                    self.disable_after,
                    self.retry_for_s,
                ),
            )
        except Exception as exc:  # the lease expires and the delivery is retried
            log.warning("recording a delivery failed", extra={"error": type(exc).__name__})
        metrics.WEBHOOK_ATTEMPTS.labels("delivered" if ok else "failed").inc()
        log.info(
            "webhook delivery",
            extra={
                "delivery_id": str(delivery.id),
                "event": delivery.event,
                "ok": ok,
                "status": status,
            },
        )
