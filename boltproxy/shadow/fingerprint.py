"""Query shapes: Cypher with its literals and parameters taken out.

Queries that differ only in literal values, parameter names, whitespace,
comments or keyword case share one shape; outcomes are grouped by it. The
shape text is also a valid key for ignore and include rules, and normalising a
shape text again gives the same text (the hypothesis tests hold it to that).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from boltproxy.shadow.lexer import KEYWORDS, Kind, Token, tokenize

PLACEHOLDER = "?"
_LITERALS = (Kind.STRING, Kind.NUMBER, Kind.PARAMETER)
_LITERAL_WORDS = ("TRUE", "FALSE", "NULL")
# Tokens after which a "-" is a sign rather than a subtraction.
_OPERAND_ENDS = (")", "]", "}", PLACEHOLDER)
_NO_SPACE_BEFORE = frozenset({")", "]", "}", ".", ",", ":"})
_NO_SPACE_AFTER = frozenset({"(", "[", "{", "."})
_ARROWS = frozenset({"-", "->", "<-", "<", ">"})
_BRACKETS = frozenset({"(", ")", "[", "]"})


@dataclass(frozen=True, slots=True)
class Shape:
    id: str  # 16 hex digits
    text: str


def _is_literal(token: Token) -> bool:
    if token.kind in _LITERALS:
        return True
    if token.kind is Kind.PUNCT and token.text == PLACEHOLDER:
        return True
    # true/false/null are values, not structure: `n.x = true` and `n.x = $p` are one shape.
    return token.kind is Kind.KEYWORD and token.text in _LITERAL_WORDS


def _words(tokens: list[Token]) -> list[str]:
    """Token texts with literals replaced, signs folded and literal lists collapsed."""
    out: list[str] = []
    for index, token in enumerate(tokens):
        # `CYPHER 25` picks the language: the version is structure, not a literal.
        if token.kind is Kind.NUMBER and index > 0 and tokens[index - 1].is_word("CYPHER"):
            out.append(token.text)
        elif _is_literal(token):
            # A sign belongs to its literal: `-1` and `1` are one shape.
            if out and out[-1] == "-" and not (len(out) >= 2 and _ends_operand(out[-2])):
                out.pop()
            out.append(PLACEHOLDER)
            _collapse_list(out)
        else:
            out.append(token.text)
            if token.text == "]":
                _collapse_list(out)
    return out


def _is_operand_word(word: str) -> bool:
    """A variable, property key or function name (keywords come upper-cased)."""
    if word[0] in "`_":
        return True
    return word[0].isalpha() and word not in KEYWORDS


def _ends_operand(word: str) -> bool:
    """After this, ``-`` subtracts (``n.x - 1``); otherwise it is a sign (``LIMIT -1``)."""
    return word in _OPERAND_ENDS or _is_operand_word(word)


def _collapse_list(out: list[str]) -> None:
    """``[?, ?, ?]`` → ``?``: lists of literals of any length are one shape."""
    if len(out) < 3 or out[-1] != "]":
        return
    index = len(out) - 2
    expect_literal = True
    while index >= 0:
        word = out[index]
        if expect_literal and word == PLACEHOLDER:
            expect_literal = False
        elif not expect_literal and word == ",":
            expect_literal = True
        elif not expect_literal and word == "[":
            break
        else:
            return
        index -= 1
    if index < 0:
        return
    # `x[?]` indexes a list or map; only a list literal (not after an operand) collapses.
    if index > 0 and _ends_operand(out[index - 1]):
        return
    del out[index:]
    out.append(PLACEHOLDER)


def _join(words: list[str]) -> str:
    parts: list[str] = []
    previous = ""
    for word in words:
        if parts and not _tight(previous, word):
            parts.append(" ")
        parts.append(word)
        previous = word
    return "".join(parts)


def _tight(previous: str, word: str) -> bool:
    if word in _NO_SPACE_BEFORE or previous in _NO_SPACE_AFTER:
        return True
    if previous == ":":
        return word != PLACEHOLDER  # `n:Label`, but `{key: ?}`
    if word == "[" and _ends_operand(previous):
        return True  # indexing
    if word == "(" and (_is_operand_word(previous) or previous == "COUNT"):
        return True  # a function call
    if word in _ARROWS and previous in _BRACKETS:
        return True
    return previous in _ARROWS and word in _BRACKETS


def shape_text(query: str) -> str:
    return _join(_words(tokenize(query)))


@lru_cache(maxsize=4096)
def fingerprint(query: str) -> Shape:
    """The shape of ``query`` (cached: the same texts come again and again)."""
    text = shape_text(query)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
    return Shape(digest, text)
