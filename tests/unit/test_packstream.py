"""PackStream: every marker, round trips, and malformed input."""

from __future__ import annotations

import contextlib
import math
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boltproxy.bolt.errors import LocalProtocolError, RemoteProtocolError
from boltproxy.bolt.packstream import (
    MAX_DEPTH,
    UUID_MARKER,
    PackingError,
    PackStreamError,
    Structure,
    pack,
    skip,
    unpack,
    unpack_all,
)

# Examples from the PackStream specification.
KNOWN = [
    (None, "C0"),
    (True, "C3"),
    (False, "C2"),
    (1, "01"),
    (-16, "F0"),
    (-17, "C8 EF"),
    (127, "7F"),
    (128, "C9 00 80"),
    (-129, "C9 FF 7F"),
    (32768, "CA 00 00 80 00"),
    (2**31, "CB 00 00 00 00 80 00 00 00"),
    (1.1, "C1 3F F1 99 99 99 99 99 9A"),
    ("", "80"),
    ("A", "81 41"),
    (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "D0 1A " + " ".join(f"{ord(c):02X}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ),
    ("Größenmaßstäbe", "D0 12 47 72 C3 B6 C3 9F 65 6E 6D 61 C3 9F 73 74 C3 A4 62 65"),
    (b"\x01\x02", "CC 02 01 02"),
    ([], "90"),
    ([1, 2, 3], "93 01 02 03"),
    ({}, "A0"),
    ({"one": "eins"}, "A1 83 6F 6E 65 84 65 69 6E 73"),
    (Structure(0x4E, [1]), "B1 4E 01"),
]


@pytest.mark.parametrize(("value", "encoded"), KNOWN)
def test_known_encodings(value: Any, encoded: str) -> None:
    data = bytes.fromhex(encoded)
    assert pack(value) == data
    assert unpack_all(data) == value
    assert skip(data) == len(data)


@pytest.mark.parametrize(
    ("size", "header"),
    [(0, "80"), (15, "8F"), (16, "D0 10"), (255, "D0 FF"), (256, "D1 01 00"),
     (65535, "D1 FF FF"), (65536, "D2 00 01 00 00")],
)  # fmt: skip
def test_string_size_classes(size: int, header: str) -> None:
    data = pack("x" * size)
    assert data.startswith(bytes.fromhex(header))
    assert unpack_all(data) == "x" * size


@pytest.mark.parametrize(
    ("value", "header"),
    [([0] * 16, "D4 10"), ([0] * 256, "D5 01 00"), ({f"k{i}": i for i in range(16)}, "D8 10"),
     (b"x" * 256, "CD 01 00"), (b"x" * 65536, "CE 00 01 00 00")],
)  # fmt: skip
def test_container_size_classes(value: Any, header: str) -> None:
    data = pack(value)
    assert data.startswith(bytes.fromhex(header))
    assert unpack_all(data) == value


@pytest.mark.parametrize("value", [-(2**63), 2**63 - 1, -(2**31) - 1, 2**31 - 1, -(2**15) - 1])
def test_integer_limits(value: int) -> None:
    assert unpack_all(pack(value)) == value


@pytest.mark.parametrize(
    "value", [2**63, -(2**63) - 1, {1: "x"}, object(), Structure(1, range(16))]
)
def test_unpackable_values_are_refused_as_our_own_error(value: Any) -> None:
    with pytest.raises(PackingError) as refused:
        pack(value)
    assert isinstance(refused.value, LocalProtocolError)


def test_malformed_input_is_the_peers_error_with_an_invalid_format_status() -> None:
    with pytest.raises(PackStreamError) as refused:
        unpack_all(b"\xc7")
    assert isinstance(refused.value, RemoteProtocolError)
    assert refused.value.code == "Neo.ClientError.Request.InvalidFormat"
    assert refused.value.gql_status == "22N01"


def test_special_floats() -> None:
    assert math.isnan(unpack_all(pack(float("nan"))))
    assert unpack_all(pack(float("-inf"))) == float("-inf")
    assert math.copysign(1, unpack_all(pack(-0.0))) == -1


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5)
        | st.builds(Structure, st.integers(0, 255), st.lists(inner, max_size=4))
    ),
    max_leaves=30,
)


@given(values)
def test_any_value_round_trips(value: Any) -> None:
    data = pack(value)
    assert unpack_all(data) == value
    assert skip(data) == len(data)
    assert unpack(data + b"\x01") == (value, len(data))


@given(values, st.data())
def test_truncation_is_always_a_packstream_error(value: Any, data: st.DataObject) -> None:
    encoded = pack(value)
    if len(encoded) < 2:
        return
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(PackStreamError):
        unpack_all(encoded[:cut])
    with pytest.raises(PackStreamError):
        skip(encoded[:cut]) if cut else skip(b"")


@given(st.binary(max_size=64))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    for check in (unpack_all, skip):
        with contextlib.suppress(PackStreamError):
            check(data)


@pytest.mark.parametrize(
    "marker", ["C4", "C5", "C6", "C7", "CF", "D3", "D7", "DB", "DC", "DF", "E1", "EF"]
)
def test_reserved_markers(marker: str) -> None:
    with pytest.raises(PackStreamError, match="unknown marker"):
        unpack_all(bytes.fromhex(marker))
    with pytest.raises(PackStreamError):
        skip(bytes.fromhex(marker))


def test_invalid_utf8_and_non_string_keys() -> None:
    for data in (bytes.fromhex("82 C3 28"), bytes.fromhex("A1 01 02")):
        with pytest.raises(PackStreamError):
            unpack_all(data)
        with pytest.raises(PackStreamError):
            skip(data)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    data = b"\x91" * (MAX_DEPTH + 10) + b"\x01"
    with pytest.raises(PackStreamError, match="nested"):
        unpack_all(data)
    with pytest.raises(PackStreamError, match="nested"):
        skip(data)


def test_uuid_of_packstream_v2_round_trips_and_is_skipped() -> None:
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    data = pack({"id": value, "n": 1})
    assert data[4] == UUID_MARKER
    assert unpack_all(data) == {"id": value, "n": 1}
    assert skip(data) == len(data)
    with pytest.raises(PackStreamError):
        skip(data[:10])
    with pytest.raises(PackStreamError):
        unpack_all(data[:10])


@given(values, st.data())
def test_walking_without_text_checks_agrees_on_every_boundary(
    value: Any, data: st.DataObject
) -> None:
    # check_text=False only steps over strings: same ends, same refusals of the structure.
    encoded = pack(value)
    assert skip(encoded, check_text=False) == len(encoded)
    assert skip(bytearray(encoded)) == skip(memoryview(encoded)) == len(encoded)
    if len(encoded) >= 2:
        cut = data.draw(st.integers(1, len(encoded) - 1))
        with pytest.raises(PackStreamError):
            skip(encoded[:cut], check_text=False)


def test_walking_without_text_checks_steps_over_invalid_utf8_only() -> None:
    invalid = bytes.fromhex("82 C3 28")
    assert skip(invalid, check_text=False) == 3
    with pytest.raises(PackStreamError, match="invalid UTF-8"):
        skip(invalid)
    with pytest.raises(PackStreamError, match="not a string"):
        skip(bytes.fromhex("A1 01 02"), check_text=False)
    long_text = pack("é" * 5000)  # past the copy threshold: checked through a view
    assert skip(long_text) == len(long_text)
    with pytest.raises(PackStreamError, match="invalid UTF-8"):
        skip(long_text[:-1] + b"\xff")
