"""validate's 128-bit hash of an entity's content, from tagged or from plain driver values.

What is hashed is each value's *hash form*, written by ``marshal`` (version 2: type and
contents only, no references or interning marks, floats as their 8 bytes):

- a value of a type that marshal writes faithfully and distinctly stands for itself:
  ``None``, ``bool``, ``int``, ``float`` other than NaN (so -0.0 is not 0.0, and the
  infinities are one value each), ``str``, ``bytes``, and lists of such values;
- every other value (NaN, points, temporals, durations, vectors, maps) stands as the
  tuple ``(tag, payload)`` of its ``codec`` form. No value of the first kind is a tuple,
  so the two kinds never meet.

So the hash form is a function of ``codec.encode``'s meaning: ``digest(head,
encode_properties(props)) == digest_plain(head, props)`` for every property map, and
``digest_plain`` skips building the tagged form for the usual entity, whose values
are all of the first kind (checked per value, and every other value is encoded).
"""

from __future__ import annotations

import base64
import hashlib
import marshal
from typing import Any

from boltproxy.migrate.codec import Tagged, encode

_MARSHAL_VERSION = 2
# Types whose values are their own hash form (floats: unless NaN; lists: if every item is).
_SCALARS = frozenset({type(None), bool, int, str, bytes})
_INFINITIES = {"Infinity": float("inf"), "-Infinity": float("-inf")}


def digest(head: Any, props: dict[str, Tagged]) -> int:
    """The hash of labels or type ``head`` and ``codec``-tagged ``props``, keys in order."""
    return _h128((head, sorted([(key, hash_form(value)) for key, value in props.items()])))


def digest_plain(head: Any, props: dict[str, Any]) -> int:
    """``digest(head, encode_properties(props))``, without encoding plain values."""
    items = sorted(props.items())
    for index, (key, value) in enumerate(items):
        if not _is_own_form(value):
            items[index] = (key, hash_form(encode(value)))
    return _h128((head, items))


def hash_form(tagged: Tagged) -> Any:
    """A tagged value's hash form (see the module's docstring)."""
    tag = tagged[0]
    if tag == "n":
        return None
    payload = tagged[1]
    if tag == "s":
        return str(payload)
    if tag == "i":
        return int(payload)
    if tag == "b":
        return bool(payload)
    if tag == "f":
        if isinstance(payload, str):  # codec's text for a non-finite float
            return _INFINITIES.get(payload, ("f", "NaN"))
        return float(payload)
    if tag == "y":
        return base64.b64decode(payload)
    if tag == "l":
        return [hash_form(item) for item in payload]
    if tag == "m":
        return ("m", sorted([(str(key), hash_form(value)) for key, value in payload.items()]))
    return (tag, payload)


def _is_own_form(value: Any) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return bool(value == value)  # NaN is not equal to itself
    if kind is list:
        return all(_is_own_form(item) for item in value)
    return False


def _h128(form: Any) -> int:
    encoded = marshal.dumps(form, _MARSHAL_VERSION)
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=16).digest(), "little")
