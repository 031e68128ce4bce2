"""What a query does, read from its text: writes, EXPLAIN form, nondeterminism, ordering.

Used when the driver sent no access mode (a read could then be a write in
disguise), to compile writes on the candidate without running them, and to
tell the comparer which differences are expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from boltproxy.shadow.lexer import Kind, Token, tokenize

_WRITE_CLAUSES = frozenset({"CREATE", "MERGE", "SET", "DELETE", "REMOVE", "DETACH", "FOREACH"})
# Schema and administration commands: never EXPLAINable, never mirrored as reads.
_ADMIN_COMMANDS = frozenset(
    {"DROP", "ALTER", "GRANT", "DENY", "REVOKE", "RENAME", "TERMINATE", "START", "STOP",
     "ENABLE", "DEALLOCATE", "REALLOCATE"}
)  # fmt: skip
_SCHEMA_OBJECTS = frozenset(
    {"INDEX", "CONSTRAINT", "DATABASE", "USER", "ROLE", "ALIAS", "COMPOSITE", "SERVER"}
)
# Procedures (by name prefix, lower-cased) that change data, schema or the server.
_WRITE_PROCEDURES = (
    "db.create.",
    "db.index.fulltext.create",
    "db.index.fulltext.drop",
    "db.index.vector.create",
    "db.createlabel",
    "db.createproperty",
    "db.createrelationshiptype",
    "db.clearquerycaches",
    "db.awaitindex",
    "dbms.",
    "tx.setmetadata",
    "apoc.create.",
    "apoc.merge.",
    "apoc.refactor.",
    "apoc.periodic.",
    "apoc.nodes.delete",
    "apoc.cypher.dowrite",
    "apoc.cypher.runwrite",
    "apoc.schema.assert",
    "apoc.trigger.",
    "apoc.atomic.",
    "apoc.lock.",
)
# dbms.* procedures that only read.
_READ_PROCEDURES = (
    "dbms.components",
    "dbms.info",
    "dbms.listconfig",
    "dbms.queryjmx",
    "dbms.routing.getroutingtable",
    "dbms.cluster.routing.getroutingtable",
    "dbms.showcurrentuser",
    "dbms.procedures",
    "dbms.functions",
    "dbms.clientconfig",
)
# Functions whose value changes from run to run or from server to server.
_NONDETERMINISTIC = frozenset(
    {"rand", "randomuuid", "timestamp", "elementid", "id", "apoc.create.uuid", "apoc.util.uuid"}
)
# Temporal constructors read the clock when called without an argument.
_CLOCKS = frozenset(
    {
        f"{base}{suffix}"
        for base in ("date", "time", "localtime", "datetime", "localdatetime")
        for suffix in ("", ".realtime", ".statement", ".transaction")
    }
)


@dataclass(frozen=True, slots=True)
class Classification:
    write: bool
    #: Schema or administration command: the candidate cannot compile it with EXPLAIN.
    admin: bool
    reasons: tuple[str, ...]


def _procedure_names(tokens: list[Token]) -> list[str]:
    """Dotted names after CALL (not ``CALL {`` subqueries), lower-cased."""
    names = []
    for index, token in enumerate(tokens):
        if token.is_word("CALL") and index + 1 < len(tokens) and tokens[index + 1].text != "{":
            names.append(_dotted_name(tokens, index + 1)[0].lower())
    return names


def _dotted_name(tokens: list[Token], index: int) -> tuple[str, int]:
    """The dotted name starting at ``index`` and the index after it."""
    parts = []
    while index < len(tokens):
        token = tokens[index]
        if token.kind is Kind.PUNCT and token.text == ".":
            parts.append(".")
        elif token.kind in (Kind.NAME, Kind.KEYWORD) and (not parts or parts[-1] == "."):
            parts.append(token.text.strip("`"))
        else:
            break
        index += 1
    return "".join(parts), index


# Applications send the same texts again and again; tokenizing one is the cost.
@lru_cache(maxsize=4096)
def classify(query: str) -> Classification:
    tokens = tokenize(query)
    reasons: list[str] = []
    admin = False
    words = [t.text for t in tokens if t.kind is Kind.KEYWORD]
    first = _first_statement_word(tokens)
    if first in _ADMIN_COMMANDS:
        admin = True
        reasons.append(f"{first} command")
    if first == "CREATE" and _second_word_is_schema(tokens):
        admin = True
        reasons.append("schema command")
    for word in _WRITE_CLAUSES.intersection(words):
        reasons.append(f"{word} clause")
    for index, token in enumerate(tokens[:-1]):
        if token.is_word("LOAD") and tokens[index + 1].is_word("CSV"):
            reasons.append("LOAD CSV")
        if token.is_word("IN") and tokens[index + 1].is_word("TRANSACTIONS"):
            reasons.append("CALL { } IN TRANSACTIONS")
    for name in _procedure_names(tokens):
        if name.startswith(_WRITE_PROCEDURES) and not name.startswith(_READ_PROCEDURES):
            reasons.append(f"procedure {name}")
    return Classification(bool(reasons), admin, tuple(dict.fromkeys(reasons)))


def is_write(query: str) -> bool:
    return classify(query).write


def _prefix_end(tokens: list[Token]) -> int:
    """Index of the first token after the pre-parser options (CYPHER …, EXPLAIN, PROFILE)."""
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.is_word("EXPLAIN", "PROFILE"):
            index += 1
        elif token.is_word("CYPHER"):
            index += 1
            # A version (`5`, `25`) and `key=value` options, in any number.
            while index < len(tokens):
                if tokens[index].kind is Kind.NUMBER:
                    index += 1
                elif index + 2 < len(tokens) and tokens[index + 1].text == "=":
                    index += 3
                else:
                    break
        else:
            break
    return index


def _first_statement_word(tokens: list[Token]) -> str:
    index = _prefix_end(tokens)
    if index < len(tokens) and tokens[index].is_word("USE"):
        index = _dotted_name(tokens, index + 1)[1]
    return tokens[index].text.upper() if index < len(tokens) else ""


def _second_word_is_schema(tokens: list[Token]) -> bool:
    start = _prefix_end(tokens)
    following = [t.text for t in tokens[start + 1 : start + 5] if t.kind is Kind.KEYWORD]
    return bool(_SCHEMA_OBJECTS.intersection(following)) or following[:1] == ["OR"]


def explain_form(query: str) -> str:
    """``query`` compiled but not run: EXPLAIN after any CYPHER options, PROFILE replaced.

    The options stay first so that a ``CYPHER 25`` query is still compiled as
    Cypher 25; an existing EXPLAIN is kept and a PROFILE becomes EXPLAIN.
    """
    tokens = tokenize(query)
    end = _prefix_end(tokens)
    prefix = tokens[:end]
    for token in prefix:
        if token.is_word("EXPLAIN"):
            return query
    for token in prefix:
        if token.is_word("PROFILE"):
            return f"{query[: token.start]}EXPLAIN{query[token.end :]}"
    at = tokens[end].start if end < len(tokens) else len(query)
    if end == 0:
        return f"EXPLAIN {query}"
    return f"{query[:at]}EXPLAIN {query[at:]}"


@lru_cache(maxsize=4096)
def nondeterminism(query: str) -> tuple[str, ...]:
    """Functions in ``query`` whose results differ between runs or servers."""
    tokens = tokenize(query)
    found: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        previous = tokens[index - 1] if index else None
        if token.kind in (Kind.NAME, Kind.KEYWORD) and not (previous and previous.text == "."):
            name, after = _dotted_name(tokens, index)
            lowered = name.lower()
            if after < len(tokens) and tokens[after].text == "(":
                no_argument = after + 1 < len(tokens) and tokens[after + 1].text == ")"
                if lowered in _NONDETERMINISTIC or (lowered in _CLOCKS and no_argument):
                    found.append(f"{lowered}()")
            index = max(after, index + 1)
            continue
        index += 1
    return tuple(dict.fromkeys(found))


@lru_cache(maxsize=4096)
def orders_results(query: str) -> bool:
    """Whether the final RETURN at the top level has an ORDER BY (not undone by UNION)."""
    tokens = tokenize(query)
    depth = 0
    last_return = -1
    ordered = False
    for index, token in enumerate(tokens):
        if token.kind is Kind.PUNCT and token.text in "([{":
            depth += 1
        elif token.kind is Kind.PUNCT and token.text in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and token.is_word("RETURN", "UNION", "WITH"):
            last_return = index if token.text == "RETURN" else -1
            ordered = False
        elif (
            depth == 0
            and last_return >= 0
            and token.is_word("ORDER")
            and index + 1 < len(tokens)
            and tokens[index + 1].is_word("BY")
        ):
            ordered = True
    return last_return >= 0 and ordered
