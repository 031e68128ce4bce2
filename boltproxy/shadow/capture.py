"""Captures: what the proxy relayed, one JSON object a line, for offline replay.

A line holds the session, query, parameters, database, access mode and timing.
Parameters are written twice: ``parameters_packstream`` (base64 of the exact
bytes the client sent, what replay uses) and ``parameters`` (readable JSON,
what a person edits; used when the exact form is absent). A capture holds
parameter values by nature: keep it where the data itself may be kept.

Neo4j query logs (text or JSON format) are read into the same records.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from boltproxy.bolt import packstream, values
from boltproxy.shadow.exchange import Exchange
from boltproxy.shadow.lexer import Kind, Token, tokenize


class CaptureError(Exception):
    """A capture or query log line that cannot be read (the message says where)."""


@dataclass(frozen=True, slots=True)
class CapturedQuery:
    session: str
    query: str
    parameters: bytes  # a PackStream map
    database: str | None = None
    access_mode: str | None = None
    impersonated_user: str | None = None
    started_at: float = 0.0
    duration: float | None = None


def _readable(raw: bytes) -> Any:
    try:
        return values.hydrate(packstream.unpack_all(raw), (5, 0))
    except (packstream.PackStreamError, values.ValueShapeError):
        return None


class CaptureWriter:
    """Appends exchanges to a JSON Lines file (in the worker, never on the loop)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, exchange: Exchange) -> None:
        line = {
            "session": exchange.session_id,
            "query": exchange.query,
            "parameters": _readable(exchange.parameters),
            "parameters_packstream": base64.b64encode(exchange.parameters).decode("ascii"),
            "database": exchange.database,
            "access_mode": exchange.access_mode,
            "impersonated_user": exchange.impersonated_user,
            "in_transaction": exchange.in_transaction,
            "started_at": exchange.started_at,
            "duration": exchange.primary.latency,
        }
        self._file.write(json.dumps(line, default=repr, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_capture(path: Path) -> Iterator[CapturedQuery]:
    """Queries of a capture file, or of a Neo4j query log (recognised by its lines)."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line:
                continue
            try:
                query = _parse_line(line)
            except (ValueError, KeyError, TypeError, packstream.PackingError) as exc:
                raise CaptureError(f"{path}:{number}: {exc}") from None
            if query is not None:
                yield query


def _parse_line(line: str) -> CapturedQuery | None:
    if line.startswith("{"):
        data = json.loads(line)
        if "session" in data:
            return _from_capture(data)
        return _from_json_query_log(data)
    return _from_text_query_log(line)


def _from_capture(data: dict[str, Any]) -> CapturedQuery:
    encoded = data.get("parameters_packstream")
    # The exact bytes when present; the readable form is for hand-written captures.
    raw = base64.b64decode(encoded) if encoded else packstream.pack(data.get("parameters") or {})
    return CapturedQuery(
        session=str(data["session"]),
        query=str(data["query"]),
        parameters=raw,
        database=data.get("database"),
        access_mode=data.get("access_mode"),
        impersonated_user=data.get("impersonated_user"),
        started_at=float(data.get("started_at") or 0.0),
        duration=data.get("duration"),
    )


# --- Neo4j query logs ------------------------------------------------------------------

# `2024-05-15 09:11:34.181+0000 INFO  id:10 - 1 ms: 136 B - bolt-session\t...\tserver/…>\t`
_TEXT_HEAD = re.compile(
    r"^\S+ \S+ INFO\s+(?P<started>Query started: )?(?:id:\d+ - )?(?:transaction id:\d+ - )?"
    r"(?P<ms>\d+) ms: .*?(?:(?P<client>client/[^\t]*)\t[^\t]*>\t|\t(?=[^\t]* - ))"
)
_RUNTIME = re.compile(r" - runtime=\S*$")


def _from_text_query_log(line: str) -> CapturedQuery | None:
    head = _TEXT_HEAD.match(line)
    if head is None or head.group("started"):
        return None  # not a completed query (a start line, or another kind of entry)
    rest = line[head.end() :]
    database, _, rest = rest.partition(" - ")
    _user, _, rest = rest.partition(" - ")
    # From the right: transaction metadata `{…}`, then `runtime=…`, then the parameters.
    rest = _strip_map_suffix(rest)
    rest = _RUNTIME.sub("", rest)
    parameters: dict[str, Any] = {}
    if rest.endswith("}") and " - {" in rest:
        query, _, text = rest.rpartition(" - {")
        parameters = parse_cypher_map("{" + text)
    else:
        query = rest
    return CapturedQuery(
        session=head.group("client") or "query.log",
        query=query.removesuffix(" -").strip(),
        parameters=packstream.pack(parameters),
        database=database.strip() or None,
        duration=int(head.group("ms")) / 1000.0,
    )


def _strip_map_suffix(text: str) -> str:
    """Drop a trailing ` - {…}` (transaction metadata) when it follows a runtime."""
    if not text.endswith("}"):
        return text
    head, sep, _ = text.rpartition(" - {")
    if sep and _RUNTIME.search(head):
        return head
    return text


def _from_json_query_log(data: dict[str, Any]) -> CapturedQuery | None:
    if data.get("event") not in (None, "success", "fail", "failure") or "query" not in data:
        return None
    parameters = data.get("queryParameters") or {}
    if isinstance(parameters, str):
        parameters = parse_cypher_map(parameters) if parameters.strip() else {}
    elapsed = data.get("elapsedTimeMs")
    return CapturedQuery(
        session=str(data.get("source") or data.get("id") or "query.log"),
        query=str(data["query"]),
        parameters=packstream.pack(parameters),
        database=data.get("database"),
        duration=float(elapsed) / 1000.0 if elapsed is not None else None,
    )


def parse_cypher_map(text: str) -> dict[str, Any]:
    """A map literal as the query log prints parameters: ``{name: 'x', ids: [1, 2]}``."""
    tokens = [t for t in tokenize(text) if t.text != ";"]
    value, index = _literal(tokens, 0)
    if index != len(tokens) or not isinstance(value, dict):
        raise ValueError("parameters are not one map literal")
    return value


def _literal(tokens: list[Token], index: int) -> tuple[Any, int]:
    token = tokens[index]
    if token.kind is Kind.STRING:
        return _unquote(token.text), index + 1
    if token.kind is Kind.NUMBER:
        text = token.text.replace("_", "")
        number: float | int = float(text) if any(c in text for c in ".eE") else int(text, 0)
        return number, index + 1
    if token.text == "-":
        value, index = _literal(tokens, index + 1)
        return -value, index
    if token.is_word("TRUE", "FALSE", "NULL"):
        return {"TRUE": True, "FALSE": False, "NULL": None}[token.text], index + 1
    if token.text == "[":
        items: list[Any] = []
        index += 1
        while tokens[index].text != "]":
            item, index = _literal(tokens, index)
            items.append(item)
            if tokens[index].text == ",":
                index += 1
        return items, index + 1
    if token.text == "{":
        result: dict[str, Any] = {}
        index += 1
        while tokens[index].text != "}":
            key = tokens[index].text.strip("`")
            if tokens[index].kind is Kind.STRING:
                key = _unquote(tokens[index].text)
            if tokens[index + 1].text != ":":
                raise ValueError(f"expected ':' after {key!r}")
            result[key], index = _literal(tokens, index + 2)
            if tokens[index].text == ",":
                index += 1
        return result, index + 1
    raise ValueError(f"unexpected {token.text!r} in parameters")


def _unquote(text: str) -> str:
    body = text[1:-1] if len(text) >= 2 else ""
    out = []
    index = 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            following = body[index + 1]
            if following == "u" and index + 5 < len(body):
                out.append(chr(int(body[index + 2 : index + 6], 16)))
                index += 6
                continue
            out.append(escapes.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)
