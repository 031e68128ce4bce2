"""Which queries are mirrored, how, and which differences are disregarded.

:func:`decide` is cheap enough for the client's path (a cached fingerprint, a
hash and a few pattern matches); everything else happens in the worker.
"""

from __future__ import annotations

import enum
import hashlib
from fnmatch import fnmatchcase

from boltproxy.shadow.classify import classify
from boltproxy.shadow.fingerprint import Shape, fingerprint
from boltproxy.shadow.settings import IgnoreRule, ShadowRule, ShadowSettings


class Mirror(enum.Enum):
    SKIP = "skip"  # not sent to the candidate
    RUN = "run"  # run on the candidate as on the primary
    EXPLAIN = "explain"  # compiled on the candidate with EXPLAIN (a write in `reads` mode)


def _shape_matches(pattern: str | None, shape: Shape) -> bool:
    return pattern is None or pattern == shape.id or fnmatchcase(shape.text, pattern)


def _matches(pattern: str | None, value: str | None) -> bool:
    return pattern is None or fnmatchcase(value or "", pattern)


def rule_matches(rule: ShadowRule, shape: Shape, database: str | None, user: str | None) -> bool:
    return (
        _shape_matches(rule.shape, shape)
        and _matches(rule.database, database)
        and _matches(rule.user, user)
    )


def ignore_patterns(rules: list[IgnoreRule], shape: Shape) -> tuple[str, ...]:
    """The result paths to disregard for ``shape``."""
    return tuple(rule.path for rule in rules if _shape_matches(rule.shape, shape))


def sampled(key: str, rate: float) -> bool:
    """A stable coin: the same key gets the same answer in every process and run."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


def decide(
    settings: ShadowSettings,
    *,
    session_id: str,
    query: str,
    database: str | None = None,
    user: str | None = None,
    access_mode: str | None = None,
) -> Mirror:
    if settings.mode == "off":
        return Mirror.SKIP
    shape = fingerprint(query)
    if settings.include and not any(
        rule_matches(rule, shape, database, user) for rule in settings.include
    ):
        return Mirror.SKIP
    if any(rule_matches(rule, shape, database, user) for rule in settings.exclude):
        return Mirror.SKIP
    key = shape.id if settings.sticky == "shape" else session_id
    if not sampled(key, settings.sample_rate):
        return Mirror.SKIP
    if settings.mode == "all" or access_mode == "r":
        # Drivers send a mode only for reads; without one the text decides.
        return Mirror.RUN
    kind = classify(query)
    if not kind.write:
        return Mirror.RUN
    # Schema and admin commands cannot be EXPLAINed: in `reads` mode they are not mirrored.
    return Mirror.SKIP if kind.admin else Mirror.EXPLAIN
