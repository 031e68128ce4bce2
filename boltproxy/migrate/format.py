"""The export directory: ``manifest.json`` plus gzip-compressed JSON Lines batches.

Why gzip JSON Lines rather than PackStream: the files stay inspectable with
``zcat | jq`` by whoever has to debug a migration at night, the standard library
reads and writes them, and the tagged value form (``codec``) already makes every
type explicit, which PackStream would only do for the types Bolt knows.

Crash safety: a batch file is written under a temporary name, renamed, and only
then listed in the manifest, which is itself replaced atomically. So the manifest
never lists a batch that is not complete on disk; a batch file that is not listed
(interrupted before the manifest was saved) is simply written again on resume.
The manifest's ``cursor`` says where the export stopped; ``complete`` is set last.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypedDict

from boltproxy.migrate.codec import Tagged
from boltproxy.migrate.errors import BadExport

FORMAT_NAME = "boltproxy-export"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

Kind = Literal["nodes", "relationships"]
KINDS: tuple[Kind, ...] = ("nodes", "relationships")


class NodeRow(TypedDict):
    id: int
    labels: list[str]
    props: dict[str, Tagged]


class RelRow(TypedDict):
    id: int
    type: str
    start: int
    end: int
    props: dict[str, Tagged]


@dataclass
class BatchEntry:
    file: str
    kind: Kind
    count: int
    sha256: str
    last_id: int


@dataclass
class Cursor:
    """Where a (possibly interrupted) export continues: after ``after`` in ``phase``."""

    phase: Literal["nodes", "relationships", "done"] = "nodes"
    after: int = -1


@dataclass
class Manifest:
    kind: Literal["export", "snapshot"]
    source: dict[str, Any]
    created: str
    batch_size: int
    schema: dict[str, Any] | None = None
    batches: list[BatchEntry] = field(default_factory=list)
    cursor: Cursor = field(default_factory=Cursor)
    complete: bool = False
    # Entity counts the source reported at the start of each phase and at the end;
    # ``changed`` says how the source changed while it was being read (None: it did not).
    observed: dict[str, int] = field(default_factory=dict)
    changed: str | None = None
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    def count(self, kind: Kind) -> int:
        return sum(entry.count for entry in self.batches if entry.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["totals"] = {kind: self.count(kind) for kind in KINDS}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            kind=data["kind"],
            source=dict(data["source"]),
            created=data["created"],
            batch_size=int(data["batch_size"]),
            schema=data.get("schema"),
            batches=[BatchEntry(**entry) for entry in data["batches"]],
            cursor=Cursor(**data["cursor"]),
            complete=bool(data["complete"]),
            observed={str(k): int(v) for k, v in (data.get("observed") or {}).items()},
            changed=data.get("changed"),
            format=data["format"],
            format_version=int(data["format_version"]),
        )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ExportDir:
    """An export directory being written or read."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest

    # --- opening ---------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, manifest: Manifest) -> ExportDir:
        """Start a new export in ``path``, which must be empty or absent."""
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadExport(f"cannot create {path} ({exc.strerror or exc})") from None
        if any(path.iterdir()):
            raise BadExport(
                f"{path} is not empty and holds no boltproxy export to resume",
                hint="choose an empty directory",
            )
        export = cls(path, manifest)
        export.save()
        return export

    @classmethod
    def open(cls, path: Path) -> ExportDir:
        """Open and check an existing export directory (finished or not)."""
        manifest_path = path / MANIFEST_NAME
        if not path.is_dir():
            raise BadExport(f"{path} is not a directory")
        if not manifest_path.is_file():
            raise BadExport(f"{path} is not a boltproxy export (no {MANIFEST_NAME})")
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadExport(f"{manifest_path} is not readable JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise BadExport(f"{path} is not a boltproxy export (foreign {MANIFEST_NAME})")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise BadExport(
                f"{path} uses export format version {version}; "
                f"this boltproxy reads version {FORMAT_VERSION}",
                hint="use the boltproxy release that wrote it",
            )
        try:
            manifest = Manifest.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadExport(f"{manifest_path} is incomplete or malformed ({exc!r})") from None
        return cls(path, manifest)

    @classmethod
    def open_complete(cls, path: Path) -> ExportDir:
        export = cls.open(path)
        if not export.manifest.complete:
            raise BadExport(
                f"the export in {path} is not finished",
                hint="resume it with the same `export` command, then import",
            )
        return export

    # --- writing ---------------------------------------------------------------

    def save(self) -> None:
        _atomic_write(
            self.path / MANIFEST_NAME, json.dumps(self.manifest.to_dict(), indent=2).encode("utf-8")
        )

    def write_batch(
        self, kind: Kind, rows: list[NodeRow] | list[RelRow], last_id: int | None = None
    ) -> BatchEntry:
        """Write one batch and record it (and the cursor after it) in the manifest.

        ``last_id``: the end of the id range the batch covers (default: its last row's).
        """
        number = sum(1 for entry in self.manifest.batches if entry.kind == kind) + 1
        name = f"{kind}-{number:06d}.jsonl.gz"
        # allow_nan=False: a bare NaN is not JSON; non-finite floats must come tagged.
        lines = "".join(
            json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n" for row in rows
        )
        # mtime=0 keeps the bytes (and so the checksum) a function of the content.
        data = gzip.compress(lines.encode("utf-8"), compresslevel=1, mtime=0)
        _atomic_write(self.path / name, data)
        entry = BatchEntry(name, kind, len(rows), hashlib.sha256(data).hexdigest(),
                           rows[-1]["id"] if last_id is None else last_id)
        self.manifest.batches.append(entry)
        self.manifest.cursor = Cursor(kind, entry.last_id)
        self.save()
        return entry

    def finish_phase(self, kind: Kind) -> None:
        self.manifest.cursor = Cursor("relationships" if kind == "nodes" else "done", -1)
        self.save()

    def mark_complete(self) -> None:
        self.manifest.cursor = Cursor("done", -1)
        self.manifest.complete = True
        self.save()

    # --- reading ---------------------------------------------------------------

    def entries(self, kind: Kind) -> list[BatchEntry]:
        return [entry for entry in self.manifest.batches if entry.kind == kind]

    def read_batch(self, entry: BatchEntry) -> list[Any]:
        """The rows of one batch, after checking its checksum."""
        path = self.path / entry.file
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadExport(f"batch {entry.file} cannot be read ({exc.strerror})") from None
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise BadExport(
                f"batch {entry.file} is corrupt (checksum mismatch)", hint="take the export again"
            )
        try:
            rows = [json.loads(line) for line in gzip.decompress(data).splitlines()]
        except (OSError, EOFError, ValueError) as exc:
            raise BadExport(f"batch {entry.file} is corrupt ({type(exc).__name__})") from None
        if len(rows) != entry.count:
            raise BadExport(
                f"batch {entry.file} holds {len(rows)} rows, the manifest says {entry.count}"
            )
        return rows

    def iter_batches(self, kind: Kind) -> Iterator[tuple[BatchEntry, list[Any]]]:
        for entry in self.entries(kind):
            yield entry, self.read_batch(entry)

    def verify(self) -> None:
        """Check every batch's checksum before anything is written to a target."""
        for entry in self.manifest.batches:
            path = self.path / entry.file
            try:
                digest = _sha256_file(path)
            except OSError as exc:
                raise BadExport(f"batch {entry.file} cannot be read ({exc.strerror})") from None
            if digest != entry.sha256:
                raise BadExport(
                    f"batch {entry.file} is corrupt (checksum mismatch)",
                    hint="take the export again",
                )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        _atomic_write_unchecked(path, data)
    except OSError as exc:
        # A local disk problem, not the server's: exit 5 with the file named.
        raise BadExport(f"cannot write {path} ({exc.strerror or exc})") from None


def _atomic_write_unchecked(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
