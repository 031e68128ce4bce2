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
