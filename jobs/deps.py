"""What tasks need from the composition root (bipa/), handed to the worker as its context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import geo
from domain.jobs import ImportLimits
from domain.operations import Runner
from domain.proof import ProofConfig


def no_geocoder() -> geo.Geocoder:
    """No provider: only the cache places addresses (BIPA_GEOCODER=none and no BIPA_CEP_URL)."""
    return geo.build("none", url=None, cep_url=None, user_agent="Bipa")


@dataclass(frozen=True)
class JobDeps:
    runner: Runner
    # The proof's object store and link lifetime: the one storage mechanism.
    files: ProofConfig
    imports: ImportLimits = field(default_factory=ImportLimits)
    retention_days: int = 0
    stalled_after_s: float = 30.0
    # A defer older than this with no procrastinate job is made again.
    redefer_after_s: float = 30.0
    backup: Callable[[], Awaitable[None]] | None = None
    # A fresh geocoder per geocoding job (its HTTP clients, its pace), closed after the job.
    geocoder: Callable[[], geo.Geocoder] = no_geocoder
