"""The ``[shadow]`` section of the configuration, and its changes at run time.

``POST /shadow`` changes the settings of every worker and replica: the control
plane keeps the operator's *overrides* (the keys changed, with their values as
canonical JSON) in the shared control state, and each proxy applies them over
its own configuration (:func:`in_force`). ``store``, ``capture`` and the noise
login never travel: every worker writes a store and a capture of its own, and a
password must not reach the control store, so each proxy keeps its configured ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

ShadowMode = Literal["off", "reads", "all"]
Sticky = Literal["session", "shape"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShadowRule(_Section):
    """Matches queries by shape, database and user; every given field must match.

    ``shape`` is a shape id or an fnmatch pattern on the shape text; the other
    fields are fnmatch patterns too. An empty rule matches everything.
    """

    shape: str | None = None
    database: str | None = None
    user: str | None = None


class IgnoreRule(_Section):
    """Differences to disregard: ``path`` (fnmatch) in the result of ``shape``.

    Paths: ``columns``, ``row_count``, ``order``, ``rows[i].<column>…``,
    ``stats.<counter>``, ``status.<GQL status>``, ``failure``. ``shape`` as in
    :class:`ShadowRule`; omitted, the rule holds for every shape.
    """

    shape: str | None = None
    path: str = "*"


class NoiseSettings(_Section):
    """Learning which result fields differ between two runs on the primary itself.

    A sampled read that was compared is run once more, on its own, on the
    primary, over a connection of the shadow worker's own (never the client's);
    a result path that differs between the two runs (a transaction id, an
    elapsed time, rows of an unordered LIMIT) is noise for that query shape
    once it has differed ``confirmations`` times, and is disregarded in the
    comparison with the candidate from then on. Off while ``sample_rate`` is 0.
    """

    sample_rate: float = Field(0.0, ge=0.0, le=1.0)
    # Re-runs per shape; after that, what was learned for the shape stands.
    runs_per_shape: int = Field(20, ge=1)
    confirmations: int = Field(2, ge=1)
    # The worker's login on the primary (none: the server must not require one).
    user: str | None = None
    password: SecretStr | None = None


class ShadowSettings(_Section):
    mode: ShadowMode = "reads"
    # Share of traffic mirrored, decided once per session or per query shape so
    # that a session (or shape) is either followed whole or not at all.
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    sticky: Sticky = "session"
    include: list[ShadowRule] = Field(default_factory=list)
    exclude: list[ShadowRule] = Field(default_factory=list)
    # The mirror queue's bounds; beyond them exchanges are dropped and counted.
    queue_entries: int = Field(10_000, ge=1)
    queue_bytes: int = Field(64 << 20, ge=1 << 16)
    # Sessions the candidate may be working for at once; at the cap a new unit of
    # work that only reads (any unit in `reads` mode) is shed whole and counted.
    max_concurrent: int = Field(16, ge=1)
    # Commits paired between primary and candidate (to translate bookmarks); the
    # oldest pairs go first. About 550 bytes each (100,000: some 55 MB).
    bookmark_pairs: int = Field(100_000, ge=1)
    # A candidate answer later than this is abandoned (outcome "timeout").
    query_timeout: float = Field(30.0, gt=0)
    # Per-query cap on the records kept from each side for comparison.
    max_records: int = Field(10_000, ge=0)
    max_record_bytes: int = Field(16 << 20, ge=0)
    store: Path | None = None
    capture: Path | None = None
    # Examples keep parameters only as hashes unless this is set.
    keep_parameters: bool = False
    examples_per_kind: int = Field(3, ge=0, le=100)
    # Relative tolerance for floats (absolute below 1.0).
    float_tolerance: float = Field(1e-9, ge=0.0)
    # A candidate whose p95 exceeds this multiple of the primary's is flagged slower...
    latency_flag_multiple: float = Field(2.0, ge=1.0)
    # ...when it is also this many seconds slower (noise on fast queries is not a finding).
    latency_flag_floor: float = Field(0.005, ge=0.0)
    ignore: list[IgnoreRule] = Field(default_factory=list)
    noise: NoiseSettings = Field(default_factory=NoiseSettings)


# Set at start only, per proxy: never changed at run time nor kept in the control state.
STARTUP_ONLY = ("store", "capture")
NOISE_LOGIN = ("user", "password")


def in_force(configured: ShadowSettings, overrides: Mapping[str, Any]) -> ShadowSettings:
    """``configured`` with the run-time ``overrides``; ValueError says what is wrong.

    The start-only keys and the noise login stay as configured, whatever
    ``overrides`` hold (a state file edited by hand cannot move them).
    """
    # The Python form keeps the configured password as a secret, never as text.
    merged = _merge(configured.model_dump(), _runtime_part(overrides))
    try:
        return ShadowSettings.model_validate(merged)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None


def revised(
    overrides: Mapping[str, Any], changes: Mapping[str, Any], configured: ShadowSettings
) -> dict[str, Any]:
    """The overrides after an operator's ``changes`` (a ``POST /shadow`` body).

    Changes merge into the earlier overrides (``noise`` key by key; rule lists
    are replaced whole). Start-only keys may be sent back as ``GET /shadow``
    shows them, for a read-modify-write, but not changed. The result is checked
    against ``configured`` and kept in canonical form (``1`` becomes ``1.0``), so
    the same settings asked for twice are the same overrides. ValueError refuses.
    """
    _refuse_startup_changes(changes, configured)
    merged = _merge(overrides, _runtime_part(changes))
    settings = in_force(configured, merged)
    return _pick(merged, settings.model_dump(mode="json"))


def _refuse_startup_changes(changes: Mapping[str, Any], configured: ShadowSettings) -> None:
    shown = configured.model_dump(mode="json")  # a password is shown masked
    changed = [key for key in STARTUP_ONLY if key in changes and changes[key] != shown[key]]
    noise = changes.get("noise")
    if isinstance(noise, Mapping):
        changed += [
            f"noise.{key}"
            for key in NOISE_LOGIN
            if key in noise and noise[key] != shown["noise"][key]
        ]
    if changed:
        raise ValueError(
            f"{', '.join(changed)} cannot change at run time (set at start, per proxy);"
            " change the configuration and restart"
        )


def _runtime_part(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` without the keys that never change at run time."""
    part = {key: value for key, value in settings.items() if key not in STARTUP_ONLY}
    noise = part.get("noise")
    if isinstance(noise, Mapping):
        part["noise"] = {key: value for key, value in noise.items() if key not in NOISE_LOGIN}
    return part


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes``; sections (mappings on both sides) merge key by key."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _pick(keys: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """From ``values``, the keys (and section keys) present in ``keys``."""
    return {
        key: _pick(wanted, values[key])
        if isinstance(wanted, Mapping) and isinstance(values[key], Mapping)
        else values[key]
        for key, wanted in keys.items()
    }


def _first_error(exc: ValidationError) -> str:
    # The location and the rule broken, never the value given.
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
