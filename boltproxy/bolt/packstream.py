"""PackStream: the value encoding of Bolt (v1, and v2's UUID from Bolt 6.1).

Decoding keeps structures generic (:class:`Structure` with its tag and fields)
so that what is unpacked packs back to the same value; typed hydration lives in
:mod:`boltproxy.bolt.values`. :func:`skip` checks one value's well-formedness
without building Python objects, for validating client messages cheaply.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable
from typing import Any

# Re-exported: callers catch them as packstream.PackStreamError / PackingError.
from boltproxy.bolt.errors import PackingError as PackingError
from boltproxy.bolt.errors import PackStreamError as PackStreamError

MAX_DEPTH = 256
# PackStream v2 (Bolt 6.1): a UUID is this marker and its 16 bytes. Accepted on
# every version: a server that predates it refuses it with its own FAILURE.
UUID_MARKER = 0xE0
_FIXED_SIZES = {0xC1: 8, 0xC8: 1, 0xC9: 2, 0xCA: 4, 0xCB: 8, UUID_MARKER: 16}
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Buffer = bytes | bytearray | memoryview

_unpack_h = struct.Struct(">h").unpack_from
_unpack_i = struct.Struct(">i").unpack_from
_unpack_q = struct.Struct(">q").unpack_from
_unpack_d = struct.Struct(">d").unpack_from
_unpack_H = struct.Struct(">H").unpack_from
_unpack_I = struct.Struct(">I").unpack_from


class Structure:
    """A PackStream structure: a one-byte tag and up to 15 fields."""

    __slots__ = ("fields", "tag")

    def __init__(self, tag: int, fields: Iterable[Any] = ()) -> None:
        self.tag = tag
        self.fields = list(fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Structure):
            return NotImplemented
        return self.tag == other.tag and self.fields == other.fields

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Structure(0x{self.tag:02X}, {self.fields!r})"


# --- packing ------------------------------------------------------------------


def pack(value: Any) -> bytes:
    buffer = bytearray()
    pack_into(buffer, value)
    return bytes(buffer)


def pack_into(buffer: bytearray, value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise PackingError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None:
        buffer.append(0xC0)
    elif value is True:
        buffer.append(0xC3)
    elif value is False:
        buffer.append(0xC2)
    elif isinstance(value, int):
        _pack_int(buffer, value)
    elif isinstance(value, float):
        buffer.append(0xC1)
        buffer += struct.pack(">d", value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        _pack_header(buffer, len(data), 0x80, 0xD0)
        buffer += data
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        size = len(data)
        if size < 0x100:
            buffer += bytes((0xCC, size))
        elif size < 0x10000:
            buffer.append(0xCD)
            buffer += struct.pack(">H", size)
        elif size < 0x80000000:
            buffer.append(0xCE)
            buffer += struct.pack(">I", size)
        else:
            raise PackingError("byte array too long")
        buffer += data
    elif isinstance(value, list | tuple):
        _pack_header(buffer, len(value), 0x90, 0xD4)
        for item in value:
            pack_into(buffer, item, depth + 1)
    elif isinstance(value, dict):
        _pack_header(buffer, len(value), 0xA0, 0xD8)
        for key, item in value.items():
            if not isinstance(key, str):
                raise PackingError(f"map keys must be strings, not {type(key).__name__}")
            pack_into(buffer, key, depth + 1)
            pack_into(buffer, item, depth + 1)
    elif isinstance(value, uuid.UUID):
        buffer.append(UUID_MARKER)
        buffer += value.bytes
    elif isinstance(value, Structure):
        if len(value.fields) > 15:
            raise PackingError("a structure has at most 15 fields")
        if not 0 <= value.tag <= 0xFF:
            raise PackingError("a structure tag is one byte")
        buffer += bytes((0xB0 + len(value.fields), value.tag))
        for item in value.fields:
            pack_into(buffer, item, depth + 1)
    else:
        raise PackingError(f"PackStream cannot carry a {type(value).__name__}")


def _pack_int(buffer: bytearray, value: int) -> None:
    if -0x10 <= value < 0x80:
        buffer += struct.pack(">b", value)
    elif -0x80 <= value < 0x80:
        buffer += struct.pack(">Bb", 0xC8, value)
    elif -0x8000 <= value < 0x8000:
        buffer += struct.pack(">Bh", 0xC9, value)
    elif -0x80000000 <= value < 0x80000000:
        buffer += struct.pack(">Bi", 0xCA, value)
    elif INT64_MIN <= value <= INT64_MAX:
        buffer += struct.pack(">Bq", 0xCB, value)
    else:
        raise PackingError("integer outside the signed 64-bit range")


def _pack_header(buffer: bytearray, size: int, tiny: int, sized: int) -> None:
    if size < 0x10:
        buffer.append(tiny + size)
    elif size < 0x100:
        buffer += bytes((sized, size))
    elif size < 0x10000:
        buffer.append(sized + 1)
        buffer += struct.pack(">H", size)
    elif size < 0x80000000:
        buffer.append(sized + 2)
        buffer += struct.pack(">I", size)
    else:
        raise PackingError("container too large")


# --- unpacking ----------------------------------------------------------------


def unpack(data: Buffer, offset: int = 0) -> tuple[Any, int]:
    """Decode one value at ``offset``; return it and the offset after it."""
    view = data if isinstance(data, memoryview) else memoryview(data)
    try:
        return _unpack(view, offset, 0)
    except (IndexError, struct.error):
        raise PackStreamError(f"truncated value (input ends at {len(view)})") from None


def unpack_all(data: Buffer) -> Any:
    """Decode exactly one value that fills ``data``."""
    value, end = unpack(data)
    if end != len(data):
        raise PackStreamError(f"{len(data) - end} unexpected bytes after the value at {end}")
    return value


def _size(view: memoryview, marker: int, offset: int, sized: int) -> tuple[int, int]:
    """For the 8/16/32-bit size forms at ``sized``..``sized+2``."""
    if marker == sized:
        return view[offset], offset + 1
    if marker == sized + 1:
        return _unpack_H(view, offset)[0], offset + 2
    size = _unpack_I(view, offset)[0]
    if size >= 0x80000000:
        raise PackStreamError(f"size too large at {offset}")
    return size, offset + 4


def _unpack(view: memoryview, offset: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise PackStreamError(f"value nested deeper than {MAX_DEPTH} levels")
    marker = view[offset]
    offset += 1
    high = marker & 0xF0
    if marker < 0x80:
        return marker, offset
    if marker >= 0xF0:
        return marker - 0x100, offset
    if high == 0x80:
        return _string(view, offset, marker & 0x0F)
    if high == 0x90:
        return _list(view, offset, marker & 0x0F, depth)
    if high == 0xA0:
        return _map(view, offset, marker & 0x0F, depth)
    if high == 0xB0:
        return _structure(view, offset, marker & 0x0F, depth)
    if marker == 0xC0:
        return None, offset
    if marker == 0xC1:
        return _unpack_d(view, offset)[0], offset + 8
    if marker == 0xC2:
        return False, offset
    if marker == 0xC3:
        return True, offset
    if marker == 0xC8:
        return _signed_byte(view[offset]), offset + 1
    if marker == 0xC9:
        return _unpack_h(view, offset)[0], offset + 2
    if marker == 0xCA:
        return _unpack_i(view, offset)[0], offset + 4
    if marker == 0xCB:
        return _unpack_q(view, offset)[0], offset + 8
    if 0xCC <= marker <= 0xCE:
        size, offset = _size(view, marker, offset, 0xCC)
        end = offset + size
        if end > len(view):
            raise PackStreamError(f"truncated byte array at {offset}")
        return bytes(view[offset:end]), end
    if 0xD0 <= marker <= 0xD2:
        size, offset = _size(view, marker, offset, 0xD0)
        return _string(view, offset, size)
    if 0xD4 <= marker <= 0xD6:
        size, offset = _size(view, marker, offset, 0xD4)
        return _list(view, offset, size, depth)
    if 0xD8 <= marker <= 0xDA:
        size, offset = _size(view, marker, offset, 0xD8)
        return _map(view, offset, size, depth)
    if marker == UUID_MARKER:
        end = offset + 16
        if end > len(view):
            raise PackStreamError(f"truncated UUID at {offset}")
        return uuid.UUID(bytes=bytes(view[offset:end])), end
    raise PackStreamError(f"unknown marker 0x{marker:02X} at {offset - 1}")


def _signed_byte(value: int) -> int:
    return value - 0x100 if value >= 0x80 else value


def _string(view: memoryview, offset: int, size: int) -> tuple[str, int]:
    end = offset + size
    if end > len(view):
        raise PackStreamError(f"truncated string at {offset}")
    try:
        return str(view[offset:end], "utf-8"), end
    except UnicodeDecodeError:
        raise PackStreamError(f"invalid UTF-8 in the string at {offset}") from None


def _list(view: memoryview, offset: int, size: int, depth: int) -> tuple[list[Any], int]:
    items = []
    for _ in range(size):
        item, offset = _unpack(view, offset, depth + 1)
        items.append(item)
    return items, offset


def _map(view: memoryview, offset: int, size: int, depth: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    for _ in range(size):
        key_at = offset
        key, offset = _unpack(view, offset, depth + 1)
        if not isinstance(key, str):
            raise PackStreamError(f"map key at {key_at} is not a string")
        result[key], offset = _unpack(view, offset, depth + 1)
    return result, offset


def _structure(view: memoryview, offset: int, size: int, depth: int) -> tuple[Structure, int]:
    tag = view[offset]
    offset += 1
    fields = []
    for _ in range(size):
        item, offset = _unpack(view, offset, depth + 1)
        fields.append(item)
    return Structure(tag, fields), offset


# --- validation without objects ------------------------------------------------


def skip(data: Buffer, offset: int = 0, *, check_text: bool = True) -> int:
    """Check one value at ``offset`` and return the offset after it.

    Builds no lists, maps or structures; strings are decoded only to check
    their UTF-8, and not at all with ``check_text`` false (a server's summary,
    forwarded as received, is only walked). Raises :class:`PackStreamError` on
    any other malformation.
    """
    if offset < len(data):
        marker = data[offset]
        # Common small cases first: tiny ints, null/booleans, an empty map.
        if marker < 0x80 or marker >= 0xF0 or marker in (0xA0, 0xC0, 0xC2, 0xC3):
            return offset + 1
    # Walked as bytes: compiled, indexing bytes is a C array read (messages are bytes).
    raw = data if isinstance(data, bytes) else bytes(data)
    try:
        return _skip(raw, offset, 0, check_text)
    except (IndexError, struct.error):
        raise PackStreamError(f"truncated value (input ends at {len(raw)})") from None


def _skip(data: bytes, offset: int, depth: int, check_text: bool) -> int:
    if depth > MAX_DEPTH:
        raise PackStreamError(f"value nested deeper than {MAX_DEPTH} levels")
    marker = data[offset]
    offset += 1
    if marker < 0x80 or marker >= 0xF0 or marker in (0xC0, 0xC2, 0xC3):
        return offset
    high = marker & 0xF0
    if high == 0x80:
        return _skip_string(data, offset, marker & 0x0F, check_text)
    if high == 0x90:
        return _skip_items(data, offset, marker & 0x0F, depth, check_text)
    if high == 0xA0:
        return _skip_map(data, offset, marker & 0x0F, depth, check_text)
    if high == 0xB0:
        data[offset]
        return _skip_items(data, offset + 1, marker & 0x0F, depth, check_text)
    fixed = _FIXED_SIZES.get(marker)
    if fixed is not None:
        if offset + fixed > len(data):
            raise PackStreamError(f"truncated number at {offset}")
        return offset + fixed
    if 0xCC <= marker <= 0xCE:
        size, offset = _skip_size(data, marker, offset, 0xCC)
        if offset + size > len(data):
            raise PackStreamError(f"truncated byte array at {offset}")
        return offset + size
    if 0xD0 <= marker <= 0xD2:
        size, offset = _skip_size(data, marker, offset, 0xD0)
        return _skip_string(data, offset, size, check_text)
    if 0xD4 <= marker <= 0xD6:
        size, offset = _skip_size(data, marker, offset, 0xD4)
        return _skip_items(data, offset, size, depth, check_text)
    if 0xD8 <= marker <= 0xDA:
        size, offset = _skip_size(data, marker, offset, 0xD8)
        return _skip_map(data, offset, size, depth, check_text)
    raise PackStreamError(f"unknown marker 0x{marker:02X} at {offset - 1}")


def _skip_size(data: bytes, marker: int, offset: int, sized: int) -> tuple[int, int]:
    """:func:`_size` over bytes."""
    if marker == sized:
        return data[offset], offset + 1
    if marker == sized + 1:
        return (data[offset] << 8) | data[offset + 1], offset + 2
    size = _unpack_I(data, offset)[0]
    if size >= 0x80000000:
        raise PackStreamError(f"size too large at {offset}")
    return size, offset + 4


# Up to this size a string is checked from a copy; a longer one through a view.
_SMALL_TEXT = 4096


def _skip_string(data: bytes, offset: int, size: int, check_text: bool) -> int:
    end = offset + size
    if end > len(data):
        raise PackStreamError(f"truncated string at {offset}")
    if check_text:
        try:
            if size <= _SMALL_TEXT:
                data[offset:end].decode("utf-8")
            else:
                str(memoryview(data)[offset:end], "utf-8")
        except UnicodeDecodeError:
            raise PackStreamError(f"invalid UTF-8 in the string at {offset}") from None
    return end


def _skip_items(data: bytes, offset: int, size: int, depth: int, check_text: bool) -> int:
    for _ in range(size):
        offset = _skip(data, offset, depth + 1, check_text)
    return offset


def _skip_map(data: bytes, offset: int, size: int, depth: int, check_text: bool) -> int:
    for _ in range(size):
        marker = data[offset]
        if not (0x80 <= marker <= 0x8F or 0xD0 <= marker <= 0xD2):
            raise PackStreamError(f"map key at {offset} is not a string")
        offset = _skip(data, offset, depth + 1, check_text)
        offset = _skip(data, offset, depth + 1, check_text)
    return offset
