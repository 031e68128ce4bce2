"""A forgiving Cypher tokenizer: enough to fingerprint and classify queries.

It never fails: whatever it does not recognise becomes a one-character
punctuation token, so a query the server will reject still gets a stable shape
(a breaking syntax change is exactly what shadowing must group and report).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    KEYWORD = "keyword"  # a word in KEYWORDS, not used as a property key or label
    NAME = "name"  # identifiers, labels, property keys, function names
    STRING = "string"
    NUMBER = "number"
    PARAMETER = "parameter"
    PUNCT = "punct"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # as written (keywords upper-cased)
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind is Kind.KEYWORD and self.text in words


_KEYWORD_TEXT = """
    ALL ALTER AND AS ASC ASCENDING BY CALL CASE COLLECT CONSTRAINT COUNT CREATE CSV CYPHER
    DATABASE DATABASES DEFAULT DELETE DENY DESC DESCENDING DETACH DISTINCT DROP ELSE END
    ENDS EXISTS EXPLAIN FALSE FIELDTERMINATOR FINISH FOR FOREACH FROM GRANT HEADERS IF IN
    INDEX IS KEY LIMIT LOAD MATCH MERGE NODE NOT NULL ON OPTIONAL OR ORDER PROFILE REMOVE
    RENAME REPLACE RETURN REVOKE ROLE ROLES ROWS SET SHOW SKIP START STARTS STOP TERMINATE
    THEN TO TRANSACTIONS TRUE UNION UNIQUE UNWIND USE USER USERS WHEN WHERE WITH XOR YIELD
    CONTAINS OFFSET ENABLE SERVER SERVERS DEALLOCATE REALLOCATE ALIAS COMPOSITE
"""
KEYWORDS = frozenset(_KEYWORD_TEXT.split())

# Values, even after a map key's colon (`{flag: true}`).
_VALUES = frozenset({"TRUE", "FALSE", "NULL"})
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(
    r"0x[0-9a-fA-F_]+|0o[0-7_]+|(?:\d[\d_]*)?\.\d[\d_]*(?:[eE][+-]?\d+)?[fFdD]?"
    r"|\d[\d_]*(?:\.(?!\.)\d*)?(?:[eE][+-]?\d+)?[fFdD]?"
)
_NAME = re.compile(r"[^\W\d]\w*")
_PARAM = re.compile(r"\$(?:`[^`]*`|\w+)")
_OPERATORS = ("<>", "<=", ">=", "=~", "+=", "..", "->", "<-", "::", "||")


def tokenize(query: str) -> list[Token]:
    """Tokens of ``query`` without whitespace and comments."""
    tokens: list[Token] = []
    pos = 0
    size = len(query)
    while pos < size:
        char = query[pos]
        if char.isspace():
            match = _SPACE.match(query, pos)
            pos = match.end() if match else pos + 1
            continue
        if query.startswith("//", pos):
            newline = query.find("\n", pos)
            pos = size if newline < 0 else newline + 1
            continue
        if query.startswith("/*", pos):
            close = query.find("*/", pos + 2)
            pos = size if close < 0 else close + 2
            continue
        start = pos
        if char in "'\"":
            pos = _string_end(query, pos)
            tokens.append(Token(Kind.STRING, query[start:pos], start, pos))
        elif char == "`":
            close = query.find("`", pos + 1)
            # A doubled backtick escapes one inside a quoted name.
            while close >= 0 and query.startswith("``", close):
                close = query.find("`", close + 2)
            pos = size if close < 0 else close + 1
            tokens.append(Token(Kind.NAME, query[start:pos], start, pos))
        elif char == "$" and (match := _PARAM.match(query, pos)):
            pos = match.end()
            tokens.append(Token(Kind.PARAMETER, query[start:pos], start, pos))
        elif char.isdigit() or (char == "." and pos + 1 < size and query[pos + 1].isdigit()):
            match = _NUMBER.match(query, pos)
            pos = match.end() if match and match.end() > pos else pos + 1
            tokens.append(Token(Kind.NUMBER, query[start:pos], start, pos))
        elif match := _NAME.match(query, pos):
            pos = match.end()
            word = match.group()
            upper = word.upper()
            keyword = upper in _VALUES or (upper in KEYWORDS and not _is_key(tokens))
            kind = Kind.KEYWORD if keyword else Kind.NAME
            tokens.append(Token(kind, upper if kind is Kind.KEYWORD else word, start, pos))
        else:
            text = next((op for op in _OPERATORS if query.startswith(op, pos)), char)
            pos += len(text)
            tokens.append(Token(Kind.PUNCT, text, start, pos))
    return _demote_map_keys(query, tokens)


def _string_end(query: str, pos: int) -> int:
    quote = query[pos]
    pos += 1
    while pos < len(query):
        char = query[pos]
        if char == "\\":
            pos += 2
            continue
        if char == quote:
            return pos + 1
        pos += 1
    return len(query)


def _is_key(tokens: list[Token]) -> bool:
    """A word after ``.`` or ``:`` is a property key, label or type, never a keyword."""
    return bool(tokens) and tokens[-1].kind is Kind.PUNCT and tokens[-1].text in (".", ":")


def _demote_map_keys(query: str, tokens: list[Token]) -> list[Token]:
    """``{set: 1}``: a keyword followed by ``:`` after ``{`` or ``,`` is a map key."""
    out = tokens
    for index in range(1, len(tokens) - 1):
        token = tokens[index]
        if (
            token.kind is Kind.KEYWORD
            and tokens[index + 1].text == ":"
            and tokens[index - 1].text in ("{", ",")
        ):
            if out is tokens:
                out = list(tokens)
            out[index] = Token(Kind.NAME, query[token.start : token.end], token.start, token.end)
    return out
