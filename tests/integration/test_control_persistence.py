"""The routing state survives a restart; a damaged state file is survived too."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from boltproxy.control.plane import ControlPlane
from boltproxy.control.routing import Router
from boltproxy.control.settings import ControlSettings


def settings(tmp_path: Path) -> ControlSettings:
    return ControlSettings(state_file=tmp_path / "state.json", audit_log=tmp_path / "audit.jsonl")


async def start(tmp_path: Path, backends: tuple[str, ...] = ("green",)) -> ControlPlane:
    return await ControlPlane.open(settings(tmp_path), Router("blue", backends))  # type: ignore[arg-type]


async def test_state_and_audit_survive_a_restart(tmp_path: Path) -> None:
    first = await start(tmp_path)
    await first.flip("operator")
    await first.weight("operator", {"blue": 20})
    await first.close()

    second = await start(tmp_path)
    state = second.router.state
    assert (state.primary, state.previous, state.weight("blue"), state.weight("green")) == (
        "green",
        "blue",
        20,
        80,
    )
    assert [entry.action for entry in await second.recent(10)] == ["weight", "flip"]
    # The next change continues the version count rather than starting over.
    await second.rollback("operator")
    assert second.router.state.version == state.version + 1
    await second.close()
    assert files_and_actions(tmp_path) == (
        ["audit.jsonl", "state.json"],  # no temporary files left behind
        ["flip", "weight", "rollback"],
    )


def files_and_actions(directory: Path) -> tuple[list[str], list[str]]:
    lines = (directory / "audit.jsonl").read_text().splitlines()
    return sorted(p.name for p in directory.iterdir()), [json.loads(x)["action"] for x in lines]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b'{"primary": "gre', "not JSON"),
        (b"\xff\xfe garbage", "not JSON"),
        (b'{"format": 1, "primary": "green"}', "missing key"),
        (b'{"format": 7}', "format 7 is not 1"),
    ],
)
async def test_a_corrupt_state_file_gives_one_clear_message_and_the_configured_primary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, why: str
) -> None:
    (tmp_path / "state.json").write_bytes(content)
    with caplog.at_level(logging.INFO, logger="boltproxy.control"):
        control = await start(tmp_path)
    assert control.router.primary == "blue"
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(messages) == 1
    assert messages[0].startswith(f"routing state file {tmp_path / 'state.json'} is unreadable")
    assert why in messages[0]
    assert "starting with the configured primary blue" in messages[0]
    # The next change replaces the damaged file with a good one.
    await control.flip("operator")
    await control.close()
    restarted = await start(tmp_path)
    assert restarted.router.primary == "green"
    await restarted.close()


async def test_a_missing_state_file_starts_with_the_configured_primary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="boltproxy.control"):
        control = await start(tmp_path)
    assert control.router.primary == "blue"
    assert "no routing state file at" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    await control.close()


async def test_a_state_for_other_backends_is_not_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    control = await start(tmp_path)
    await control.flip("operator")
    await control.close()
    alone = await start(tmp_path, backends=())
    assert alone.router.primary == "blue"
    assert "names backends blue, green but this proxy has blue" in caplog.text
    await alone.close()
