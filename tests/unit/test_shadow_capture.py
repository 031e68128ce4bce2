"""Captures and Neo4j query logs read back into the queries replay plays."""

from __future__ import annotations

from pathlib import Path

import pytest

from boltproxy.bolt import packstream, values
from boltproxy.shadow.capture import CaptureError, CaptureWriter, parse_cypher_map, read_capture
from tests.support.shadow_answers import answer, exchange


def test_capture_round_trip_keeps_exact_parameters(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    params = {"when": values.DateTime(1_700_000_000, 5, 3540), "x": 1.5, "ids": [1, 2]}
    raw = packstream.pack(values.dehydrate(params, (5, 8)))
    writer = CaptureWriter(path)
    ex = exchange("RETURN $x AS x", answer(["x"], [[1.5]]), None, database="neo4j",
                  access_mode="r", session="s-9")  # fmt: skip
    ex.parameters = raw
    writer.write(ex)
    writer.close()
    (captured,) = read_capture(path)
    assert captured.parameters == raw
    assert (captured.session, captured.database, captured.access_mode) == ("s-9", "neo4j", "r")
    assert '"x": 1.5' in path.read_text()


def test_hand_written_capture_lines_use_readable_parameters(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"session": "a", "query": "RETURN $n AS n", "parameters": {"n": 3}}\n\n')
    (captured,) = read_capture(path)
    assert packstream.unpack_all(captured.parameters) == {"n": 3}


TEXT_LOG = (
    "2024-05-15 09:11:34.181+0000 INFO  Query started: id:9 - 0 ms: 0 B - bolt-session\tbolt\t"
    "neo4j-python/5.28\t\tclient/127.0.0.1:5100\tserver/127.0.0.1:7687>\tneo4j - neo4j - "
    "MATCH (n) RETURN n - {} - runtime=null - {}\n"
    "2024-05-15 09:11:34.190+0000 INFO  id:9 - 12 ms: 136 B - bolt-session\tbolt\t"
    "neo4j-python/5.28\t\tclient/127.0.0.1:5100\tserver/127.0.0.1:7687>\tneo4j - alice - "
    "MATCH (n:P {name: $name}) WHERE n.x - 1 > 0 RETURN n - {name: 'Tom \\'T\\' Hanks', "
    "ids: [1, -2.5], ok: true} - runtime=pipelined - {app: 'x'}\n"
    "2024-05-15 09:11:35.000+0000 INFO  [o.n.k.d.Database] unrelated line\n"
)


def test_neo4j_text_query_log(tmp_path: Path) -> None:
    path = tmp_path / "query.log"
    path.write_text(TEXT_LOG)
    (captured,) = read_capture(path)
    assert captured.query == "MATCH (n:P {name: $name}) WHERE n.x - 1 > 0 RETURN n"
    assert packstream.unpack_all(captured.parameters) == {
        "name": "Tom 'T' Hanks", "ids": [1, -2.5], "ok": True,
    }  # fmt: skip
    assert captured.database == "neo4j" and captured.session == "client/127.0.0.1:5100"
    assert captured.duration == 0.012


def test_neo4j_json_query_log(tmp_path: Path) -> None:
    path = tmp_path / "query.log"
    path.write_text(
        '{"time": "2024", "level": "INFO", "event": "start", "query": "RETURN 1"}\n'
        '{"time": "2024", "level": "INFO", "event": "success", "elapsedTimeMs": 3,'
        ' "database": "neo4j", "source": "bolt-session\\tclient/1", "query": "RETURN $a AS a",'
        ' "queryParameters": "{a: 5}"}\n'
    )
    (captured,) = read_capture(path)
    assert captured.query == "RETURN $a AS a" and packstream.unpack_all(captured.parameters) == {
        "a": 5
    }


def test_bad_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"session": "a"}\n')
    with pytest.raises(CaptureError, match=r"c.jsonl:1"):
        list(read_capture(path))
    assert parse_cypher_map("{`a b`: null, 'c': {d: 0x10}}") == {"a b": None, "c": {"d": 16}}
