"""Bookmarks of one backend translated to another's.

A bookmark names a point in one server's transaction log and means nothing to
another server. When a session is mirrored, each commit on the primary is
paired with the same commit on the candidate; the pair is kept here (shared by
every session, since causal chains cross sessions) so that a bookmark the
client holds from one backend can be given to the other. Bounded: the oldest
pairs go first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from boltproxy.bolt import messages, packstream
from boltproxy.bolt.framing import chunk
from boltproxy.bolt.messages import Tag


class BookmarkMap:
    """Pairs of (backend, bookmark) that name the same commit, both ways."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._pairs: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pairs) // 2

    def record(self, backend: str, bookmark: str, other: str, other_bookmark: str) -> None:
        for key, value in (
            ((backend, bookmark), (other, other_bookmark)),
            ((other, other_bookmark), (backend, bookmark)),
        ):
            self._pairs[key] = value
            self._pairs.move_to_end(key)
        while len(self._pairs) > 2 * self._capacity:
            self._pairs.popitem(last=False)

    def translate(
        self, bookmarks: Iterable[str], source: str, target: str
    ) -> tuple[list[str], int]:
        """``bookmarks`` of ``source`` as ``target``'s, and how many had no counterpart."""
        translated: list[str] = []
        missing = 0
        for bookmark in bookmarks:
            pair = self._pairs.get((source, bookmark))
            if pair is not None and pair[0] == target:
                translated.append(pair[1])
            else:
                missing += 1
        return translated, missing


def retarget(
    tag: int, payload: bytes, pairs: BookmarkMap, source: str, target: str
) -> tuple[bytes | None, int]:
    """A BEGIN or auto-commit RUN whose bookmarks name ``target``'s commits.

    Returns the re-framed message (None when it carries no bookmark) and how
    many bookmarks had no counterpart and were left out: a server waits for, or
    rejects, a bookmark of another server's.
    """
    if tag == Tag.BEGIN:
        _, fields = messages.decode(payload)
        extra = fields[0] if fields and isinstance(fields[0], dict) else {}
        translated, missing = translate_extra(extra, pairs, source, target)
        if translated is None:
            return None, 0
        return chunk(messages.encode(Tag.BEGIN, translated)), missing
    if tag != Tag.RUN:
        return None, 0
    # Parameters stay the bytes the client packed: only the extra map changes.
    query_end = packstream.skip(payload, 2)
    params_end = packstream.skip(payload, query_end)
    extra, _ = packstream.unpack(payload, params_end)
    translated, missing = translate_extra(
        extra if isinstance(extra, dict) else {}, pairs, source, target
    )
    if translated is None:
        return None, 0
    body = bytearray(payload[:params_end])
    packstream.pack_into(body, translated)
    return chunk(bytes(body)), missing


def translate_extra(
    extra: dict[str, Any], pairs: BookmarkMap, source: str, target: str
) -> tuple[dict[str, Any] | None, int]:
    """``extra`` with its bookmarks as ``target``'s (None: it has none), and how many were lost."""
    bookmarks = extra.get("bookmarks")
    if not isinstance(bookmarks, list) or not bookmarks:
        return None, 0
    mapped, missing = pairs.translate(
        (b for b in bookmarks if isinstance(b, str)), source, target
    )
    return {**extra, "bookmarks": mapped}, missing
