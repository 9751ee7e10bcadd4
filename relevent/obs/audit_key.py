"""The audit key: the secret the audit chain, its anchor and its checkpoint are MAC'd with.

It comes from `[audit] key` (the systemd credential `audit__key`) or `[audit] key_file`; without either the
gateway generates one into the state directory (0600) at its first start. A key kept off the box (a
credential the gateway reads but cannot write) is stronger: whoever holds the key can rewrite the trail.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from relevent.errors import ConfigError
from relevent.obs.audit_store import AuditError

KEY_FILE = "audit.key"
MIN_KEY_CHARS = 16


def audit_key(configured: SecretStr | None, state_dir: Path, *, create: bool) -> bytes:
    """The configured key, else the state directory's (generated first when `create`).

    `AuditError` when there is none, `ConfigError` when it is too short to be a key.
    """
    if configured is None:
        configured = _state_dir_key(state_dir / KEY_FILE, create=create)
    text = configured.get_secret_value().strip()
    if len(text) < MIN_KEY_CHARS:
        raise ConfigError(f"the audit key has {len(text)} characters, fewer than {MIN_KEY_CHARS}")
    return text.encode()


def _state_dir_key(path: Path, *, create: bool) -> SecretStr:
    try:
        if create and not path.exists():
            # O_EXCL: two starts at once never write two keys; 0600 from the start, not chmod'ed after.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
        return SecretStr(path.read_text(encoding="ascii"))
    except FileNotFoundError:
        raise AuditError(f"no audit key: {path} does not exist and [audit] key/key_file is not set") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"audit key {path}: {exc}") from None
