"""Traffic control's settings: what a configuration may say, and what it is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from boltproxy.control.settings import AdminAuthSettings, ControlSettings


def test_defaults_keep_state_in_memory_with_guards_on() -> None:
    settings = ControlSettings()
    assert (settings.store, settings.state_file, settings.uses_redis) == ("file", None, False)
    assert settings.guards.enabled and settings.guards.max_error_rate == 0.05


@pytest.mark.parametrize("store", ["redis://cache:6379/0", "rediss://u:p@cache/1", "unix:///r.s"])
def test_redis_urls_select_the_shared_store(store: str) -> None:
    assert ControlSettings(store=store).uses_redis


@pytest.mark.parametrize("store", ["files", "http://cache:6379", "etcd://x"])
def test_other_stores_are_refused_with_the_choices(store: str) -> None:
    with pytest.raises(ValidationError, match='store must be "file" or a redis://'):
        ControlSettings(store=store)


def test_a_short_admin_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        AdminAuthSettings(token="short")
    assert AdminAuthSettings().token is None


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ControlSettings.model_validate({"stat_file": "x"})
