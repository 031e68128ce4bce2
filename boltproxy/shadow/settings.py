"""The ``[shadow]`` section of the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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
    # Send a mirrored request once the primary has answered it (and everything
    # before it): two servers on shared cores then do not run the same query at
    # the same time. False sends it to both at once.
    wait_for_primary: bool = True
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
