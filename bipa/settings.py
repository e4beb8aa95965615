"""Settings read once from environment variables.

Every setting is documented in the README's configuration table; an invalid value raises
SettingsError, which the CLI turns into one clear line and exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Env = Literal["development", "production"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Example values people copy without changing (.env.example, docs): refused in production.
PLACEHOLDER_SECRETS = ("replace-with", "change-me", "changeme", "example", "placeholder")


def default_data_dir() -> Path:
    """A checkout keeps its data in its own .data/; an installed package (site-packages is no
    place for data) in the working directory's."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / ".data"
    return Path.cwd() / ".data"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


WS_IMPLS = ("wsproto", "websockets-sansio", "websockets")
GEOCODERS = ("nominatim", "photon", "none")
DEFAULT_USER_AGENT = "Bipa/0.1 (last-mile delivery sessions)"


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {raw!r}")
    return raw


def _depot(env: Mapping[str, str]) -> tuple[float, float] | None:
    raw = [(env.get(n) or "").strip() for n in ("BIPA_DEPOT_LAT", "BIPA_DEPOT_LON")]
    if not any(raw):
        return None
    if not all(raw):
        raise SettingsError("BIPA_DEPOT_LAT and BIPA_DEPOT_LON must be set together")
    return (
        _float(env, "BIPA_DEPOT_LAT", 0.0, -90.0, 90.0),
        _float(env, "BIPA_DEPOT_LON", 0.0, -180.0, 180.0),
    )


def _geocoding(env: Mapping[str, str]) -> dict[str, object]:
    kind = _choice(env, "BIPA_GEOCODER", "none", GEOCODERS)
    url = _http_url(env, "BIPA_GEOCODER_URL")
    agent = (env.get("BIPA_GEOCODER_USER_AGENT") or "").strip() or DEFAULT_USER_AGENT
    public = kind == "nominatim" and (url is None or "nominatim.openstreetmap.org" in url)
    if public and agent == DEFAULT_USER_AGENT:
        # The public Nominatim's usage policy: an application that says who it is.
        raise SettingsError(
            "BIPA_GEOCODER_USER_AGENT must name your application and a contact "
            "(e.g. 'Entregas Silva/1.0 (ti@silva.com.br)') to use the public Nominatim"
        )
    cep_url = _http_url(env, "BIPA_CEP_URL")
    if cep_url is not None and "{cep}" not in cep_url:
        raise SettingsError(
            "BIPA_CEP_URL must contain {cep}, e.g. https://brasilapi.com.br/api/cep/v2/{cep}"
        )
    return {
        "geocoder": kind,
        "geocoder_url": url,
        "geocoder_user_agent": agent,
        "geocoder_timeout_s": _float(env, "BIPA_GEOCODER_TIMEOUT", 10.0, 0.5, 120.0),
        "geocoder_interval_s": _float(env, "BIPA_GEOCODER_INTERVAL", 0.0, 0.0, 60.0),
        "cep_url": cep_url,
    }


DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_ATTRIBUTION = "© colaboradores do OpenStreetMap"


def _tiles(env: Mapping[str, str]) -> str | None:
    """The map's tile URL (Leaflet's {z}/{x}/{y}, {s} for subdomains); "none": no map."""
    raw = (env.get("BIPA_MAP_TILES_URL") or "").strip()
    if raw.lower() == "none":
        return None
    if not raw:
        return DEFAULT_TILES
    if not raw.startswith(("http://", "https://")) or not all(
        part in raw for part in ("{z}", "{x}", "{y}")
    ):
        raise SettingsError(
            "BIPA_MAP_TILES_URL must be an http(s) URL with {z}, {x} and {y} "
            f"(or none), got {raw!r}"
        )
    return raw


def _routing(env: Mapping[str, str]) -> dict[str, object]:
    return {
        "map_tiles_url": _tiles(env),
        "map_attribution": (env.get("BIPA_MAP_ATTRIBUTION") or "").strip() or DEFAULT_ATTRIBUTION,
        "depot": _depot(env),
        "osrm_url": _http_url(env, "BIPA_OSRM_URL"),
        "route_detour": _float(env, "BIPA_ROUTE_DETOUR", 1.3, 1.0, 5.0),
        "route_speed_kmh": _float(env, "BIPA_ROUTE_SPEED", 25.0, 1.0, 200.0),
        "route_timeout_s": _float(env, "BIPA_ROUTE_TIMEOUT", 1.5, 0.1, 60.0),
        "route_capacity": _int(env, "BIPA_ROUTE_CAPACITY", 80, 1, 100_000),
        "route_service_s": _int(env, "BIPA_ROUTE_SERVICE", 120, 0, 3_600),
        "route_service_per_parcel_s": _int(env, "BIPA_ROUTE_SERVICE_PER_PARCEL", 30, 0, 3_600),
    }


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _database_url(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    url = raw.strip()
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise SettingsError("DATABASE_URL must be a postgresql:// URL")


def _broadcast_url(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    url = raw.strip()
    if not url.startswith(("memory://", "postgres://", "postgresql://", "redis://", "rediss://")):
        raise SettingsError("BROADCAST_URL must start with memory://, postgres://, or redis://")
    return url


def _storage_url(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    url = raw.strip()
    if not url.startswith(("file://", "s3://")):
        raise SettingsError("BIPA_STORAGE_URL must start with file:// or s3://")
    return url


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    """A limit in the `limits` notation: "600/minute", or several as "20/second;600/minute"."""
    from limits import parse_many

    raw = (env.get(name) or "").strip() or default
    try:
        parse_many(raw)
    except ValueError:
        raise SettingsError(f"{name} must be like 600/minute, got {raw!r}") from None
    return raw


def _rate_storage(raw: str | None) -> str:
    url = (raw or "").strip() or "memory://"
    if not url.startswith(("memory://", "redis://", "rediss://")):
        raise SettingsError("BIPA_RATE_LIMIT_STORAGE must start with memory:// or redis://")
    return url


def _secret_key(raw: str | None, production: bool) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) < 32:
        raise SettingsError("BIPA_SECRET_KEY must be at least 32 characters")
    if production and any(word in raw.lower() for word in PLACEHOLDER_SECRETS):
        raise SettingsError(
            "BIPA_SECRET_KEY is still the example value: set a random one "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
        )
    return raw


@dataclass(frozen=True)
class Settings:
    env: Env = "development"
    database_url: str | None = None
    broadcast_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    currency: str = "BRL"
    max_body_bytes: int = 1_000_000
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_nodes: int = 100_000
    max_ws_per_token: int = 100
    max_ws_per_ip: int = 1_000
    allowed_origins: tuple[str, ...] = ()
    max_subscriptions_per_connection: int = 20
    auth_cache_s: float = 5.0
    group_commit: bool = True
    ws_impl: str = "wsproto"
    ws_ping_s: float = 20.0
    scan_workers: int = 2
    scan_queue: int = 16
    scan_budget_s: float = 1.5
    run_worker: bool = True
    webhook_backoff_s: tuple[float, ...] = (2.0, 4.0, 8.0)
    webhook_disable_after: int = 20
    webhook_retry_for_s: float = 86_400.0
    webhook_lease_s: float = 60.0
    webhook_poll_s: float = 0.5
    secret_key: str | None = None
    retention_days: int = 90
    backup_dir: Path | None = None
    backup_every_s: float = 0.0
    backup_keep: int = 7
    storage_url: str | None = None
    link_ttl_s: int = 900
    proof_max_edge: int = 1600
    proof_quality: int = 82
    proof_max_photos: int = 4
    proof_sweep_after_s: float = 3600.0
    import_max_bytes: int = 20_000_000
    import_max_rows: int = 20_000
    # --- background jobs (jobs/) ---
    jobs_concurrency: int = 4
    jobs_heartbeat_s: float = 10.0
    jobs_stalled_after_s: float = 30.0
    import_batch: int = 50
    telegram_bot_token: str | None = None
    telegram_api_url: str | None = None
    rate_limits: bool = True
    rate_limit_storage: str = "memory://"
    rate_limit_ip: str = "3000/minute"
    rate_limit_token: str = "600/minute"  # noqa: S105 (a rate, not a secret)
    rate_limit_ws: str = "60/minute"
    rate_limit_auth: str = "10/minute"
    rate_limit_scan: str = "120/minute"
    geocoder: str = "none"
    geocoder_url: str | None = None
    geocoder_user_agent: str = DEFAULT_USER_AGENT
    geocoder_timeout_s: float = 10.0
    geocoder_interval_s: float = 0.0
    cep_url: str | None = None
    depot: tuple[float, float] | None = None
    osrm_url: str | None = None
    route_detour: float = 1.3
    route_speed_kmh: float = 25.0
    route_timeout_s: float = 1.5
    route_capacity: int = 80
    route_service_s: int = 120
    route_service_per_parcel_s: int = 30
    map_tiles_url: str | None = DEFAULT_TILES
    map_attribution: str = DEFAULT_ATTRIBUTION

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def storage(self) -> str:
        """BIPA_STORAGE_URL, else the embedded store under the data dir."""
        return self.storage_url or (self.data_dir / "objects").resolve().as_uri()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e: Mapping[str, str] = os.environ if env is None else env
        bipa_env = e.get("BIPA_ENV", "development").strip().lower() or "development"
        if bipa_env not in ("development", "production"):
            raise SettingsError(f"BIPA_ENV must be development or production, got {bipa_env!r}")
        log_level = e.get("BIPA_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if log_level not in LOG_LEVELS:
            raise SettingsError(f"BIPA_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        data_dir = Path(e.get("BIPA_DATA_DIR", "") or default_data_dir()).expanduser()
        origins = tuple(
            o.strip() for o in e.get("BIPA_ALLOWED_ORIGINS", "").split(",") if o.strip()
        )
        currency = e.get("BIPA_CURRENCY", "BRL").strip().upper() or "BRL"
        if len(currency) != 3 or not currency.isalpha():
            raise SettingsError("BIPA_CURRENCY must be a three-letter ISO 4217 code")
        backoff_raw = e.get("BIPA_WEBHOOK_BACKOFF", "2,4,8")
        try:
            backoff = tuple(float(x) for x in backoff_raw.split(",") if x.strip())
        except ValueError:
            raise SettingsError("BIPA_WEBHOOK_BACKOFF must be comma-separated seconds") from None
        if not backoff or any(b < 0 for b in backoff):
            raise SettingsError("BIPA_WEBHOOK_BACKOFF must list at least one non-negative delay")
        return cls(
            env=bipa_env,  # type: ignore[arg-type]
            database_url=_database_url(e.get("DATABASE_URL")),
            broadcast_url=_broadcast_url(e.get("BROADCAST_URL")),
            data_dir=data_dir,
            host=e.get("BIPA_HOST", "127.0.0.1").strip() or "127.0.0.1",
            port=_int(e, "BIPA_PORT", 8000, 1, 65535),
            log_level=log_level,
            currency=currency,
            max_body_bytes=_int(e, "BIPA_MAX_BODY_BYTES", 1_000_000, 1_000, 100_000_000),
            max_depth=_int(e, "BIPA_MAX_DEPTH", 12, 2, 100),
            max_aliases=_int(e, "BIPA_MAX_ALIASES", 30, 1, 1_000),
            max_tokens=_int(e, "BIPA_MAX_TOKENS", 5_000, 100, 1_000_000),
            max_nodes=_int(e, "BIPA_MAX_NODES", 100_000, 1, 100_000_000),
            # 0: no cap (benchmarks hold thousands of sockets from one loopback address).
            max_ws_per_token=_int(e, "BIPA_MAX_WS_PER_TOKEN", 100, 0, 1_000_000),
            max_ws_per_ip=_int(e, "BIPA_MAX_WS_PER_IP", 1_000, 0, 1_000_000),
            allowed_origins=origins,
            max_subscriptions_per_connection=_int(e, "BIPA_MAX_SUBSCRIPTIONS", 20, 1, 1_000),
            auth_cache_s=_float(e, "BIPA_AUTH_CACHE", 5.0, 0.0, 300.0),
            scan_workers=_int(e, "BIPA_SCAN_WORKERS", 2, 1, 64),
            scan_queue=_int(e, "BIPA_SCAN_QUEUE", 16, 1, 10_000),
            scan_budget_s=_float(e, "BIPA_SCAN_BUDGET", 1.5, 0.1, 60.0),
            run_worker=_bool(e, "BIPA_RUN_WORKER", True),
            group_commit=_bool(e, "BIPA_GROUP_COMMIT", True),
            ws_impl=_choice(e, "BIPA_WS_IMPL", "wsproto", WS_IMPLS),
            ws_ping_s=_float(e, "BIPA_WS_PING", 20.0, 0.1, 3600.0),
            webhook_backoff_s=backoff,
            webhook_disable_after=_int(e, "BIPA_WEBHOOK_DISABLE_AFTER", 20, 1, 10_000),
            # Seconds after its event that a delivery is still retried (then FAILED).
            webhook_retry_for_s=_float(e, "BIPA_WEBHOOK_RETRY_FOR", 86_400.0, 0.0, 30 * 86_400.0),
            webhook_lease_s=_float(e, "BIPA_WEBHOOK_LEASE", 60.0, 0.5, 3600.0),
            webhook_poll_s=_float(e, "BIPA_WEBHOOK_POLL", 0.5, 0.05, 60.0),
            secret_key=_secret_key(e.get("BIPA_SECRET_KEY"), bipa_env == "production"),
            # Days after completion that recipients' data is kept (LGPD); 0: kept until asked.
            retention_days=_int(e, "BIPA_RETENTION_DAYS", 90, 0, 36_500),
            backup_dir=Path(e["BIPA_BACKUP_DIR"]) if e.get("BIPA_BACKUP_DIR") else None,
            backup_every_s=_float(e, "BIPA_BACKUP_EVERY", 0.0, 0.0, 24 * 30.0) * 3600,
            backup_keep=_int(e, "BIPA_BACKUP_KEEP", 7, 1, 10_000),
            storage_url=_storage_url(e.get("BIPA_STORAGE_URL")),
            # S3 presigned URLs live at most 7 days (SigV4).
            link_ttl_s=_int(e, "BIPA_LINK_TTL", 900, 1, 7 * 24 * 3600),
            proof_max_edge=_int(e, "BIPA_PROOF_MAX_EDGE", 1600, 320, 8000),
            proof_quality=_int(e, "BIPA_PROOF_QUALITY", 82, 30, 95),
            proof_max_photos=_int(e, "BIPA_PROOF_MAX_PHOTOS", 4, 1, 10),
            proof_sweep_after_s=_float(e, "BIPA_PROOF_SWEEP_AFTER", 3600.0, 60.0, 7 * 86400.0),
            # A manifest is read whole in memory: these bound what one upload may cost.
            import_max_bytes=_int(e, "BIPA_IMPORT_MAX_BYTES", 20_000_000, 1_000, 500_000_000),
            import_max_rows=_int(e, "BIPA_IMPORT_MAX_ROWS", 20_000, 1, 1_000_000),
            # --- background jobs (jobs/) ---
            jobs_concurrency=_int(e, "BIPA_JOBS_CONCURRENCY", 4, 1, 100),
            jobs_heartbeat_s=_float(e, "BIPA_JOBS_HEARTBEAT", 10.0, 0.2, 600.0),
            # A job whose worker sent no heartbeat for this long is run again by another.
            jobs_stalled_after_s=_float(e, "BIPA_JOBS_STALLED_AFTER", 30.0, 1.0, 3600.0),
            import_batch=_int(e, "BIPA_IMPORT_BATCH", 50, 1, 1000),
            telegram_bot_token=e.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_url=e.get("TELEGRAM_API_URL") or None,
            # false for tests and benchmarks, which send thousands of requests from one address.
            rate_limits=_bool(e, "BIPA_RATE_LIMITS", True),
            rate_limit_storage=_rate_storage(e.get("BIPA_RATE_LIMIT_STORAGE")),
            rate_limit_ip=_rate(e, "BIPA_RATE_LIMIT_IP", "3000/minute"),
            rate_limit_token=_rate(e, "BIPA_RATE_LIMIT_TOKEN", "600/minute"),
            rate_limit_ws=_rate(e, "BIPA_RATE_LIMIT_WS", "60/minute"),
            rate_limit_auth=_rate(e, "BIPA_RATE_LIMIT_AUTH", "10/minute"),
            rate_limit_scan=_rate(e, "BIPA_RATE_LIMIT_SCAN", "120/minute"),
            **_geocoding(e),  # type: ignore[arg-type]
            **_routing(e),  # type: ignore[arg-type]
        )
