"""Settings of traffic control: ``[control]``, ``[control.guards]`` and the admin token.

These models are hooked into :class:`boltproxy.config.Settings` (as ``control``, and
the token as ``[admin] token``); they live here so that control's knobs stay next to
the code that reads them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AdminAuthSettings(_Section):
    """The admin API's bearer token (``[admin] token``).

    Without a token every mutating call is refused and the admin listener must
    stay on loopback: an open flip endpoint on a network interface would let
    anyone who reaches the port move production traffic.
    """

    token: str | None = Field(None, min_length=16)


class GuardSettings(_Section):
    """Automatic rollback: thresholds over a sliding window of the routed traffic.

    A threshold of ``None`` turns its guard off. A guard only judges a window
    that holds at least ``min_samples`` observations, so a handful of early
    failures right after a flip cannot trip it.
    """

    enabled: bool = True
    window_seconds: float = Field(30.0, gt=0)
    min_samples: int = Field(50, ge=1)
    # Share of failed queries (failures the backend caused) on the guarded backend.
    max_error_rate: float | None = Field(0.05, gt=0, le=1)
    # p95 latency of the guarded backend divided by the other backend's p95.
    max_p95_latency_ratio: float | None = Field(3.0, gt=1)
    # Share of shadow comparisons whose results differed. Off by default: some
    # differences between versions are expected and are reported, not guarded.
    max_shadow_mismatch_rate: float | None = Field(None, gt=0, le=1)
    # Guards are judged at most this often: observations arrive per query and a
    # judgement sums the whole window.
    evaluate_interval: float = Field(0.1, ge=0)

    @field_validator(
        "max_error_rate", "max_p95_latency_ratio", "max_shadow_mismatch_rate", mode="before"
    )
    @classmethod
    def _off(cls, value: object) -> object:
        # TOML has no null: ``false`` or "off" turns a guard off there and in the environment.
        if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "")):
            return None
        return value


class ControlSettings(_Section):
    """Where the routing state and the audit log live, and how guards judge."""

    # Without a state file the routing state lives in memory only: a restart
    # returns to ``routing.primary``.
    state_file: Path | None = None
    # "file" keeps the state in ``state_file``; "redis://host:port/db" shares it
    # (and the audit log) between proxy replicas.
    store: str = "file"
    # JSON Lines, appended. Without a path the log is kept in memory (recent entries).
    audit_log: Path | None = None
    # How long a flip waits for the candidate to apply every mirrored write.
    flip_max_wait: float = Field(10.0, ge=0)
    # Replicas hear of changes through pub/sub at once; polling catches what a
    # dropped subscription missed.
    redis_poll_interval: float = Field(0.5, gt=0, le=1)
    redis_key_prefix: str = Field("boltproxy", min_length=1)
    # Entries kept in the shared audit stream (Redis trims the oldest beyond it).
    redis_audit_max_entries: int = Field(100_000, ge=100)
    guards: GuardSettings = GuardSettings()

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if value == "file":
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError('store must be "file" or a redis://, rediss:// or unix:// URL')
        return value

    @property
    def uses_redis(self) -> bool:
        return self.store != "file"
