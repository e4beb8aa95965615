"""The server key that encrypts webhook secrets at rest.

BIPA_SECRET_KEY when set (required practice in production); otherwise a random key kept in
`<BIPA_DATA_DIR>/secret.key` (mode 0600), created on first use, so a development machine
needs no set-up and every process on it agrees on the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from bipa.settings import Settings
from domain.crypto import SecretBox

log = logging.getLogger("bipa.secrets")


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / "secret.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_urlsafe(48).encode())
    return path.read_bytes().strip()


def _key_material(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    return _key_file(settings.data_dir)


def link_secret(settings: Settings) -> bytes:
    """Signs the embedded store's links: derived from the server key, so every process (and
    a restart) agrees on it, and it is not the key that encrypts webhook secrets."""
    return hmac.new(_key_material(settings), b"bipa object links v1", hashlib.sha256).digest()


def secret_box(settings: Settings) -> SecretBox:
    if settings.secret_key:
        return SecretBox(settings.secret_key.encode())
    if settings.production:
        log.warning("BIPA_SECRET_KEY is not set: using a key file in the data dir")
    return SecretBox(_key_file(settings.data_dir))
