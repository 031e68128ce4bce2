from pathlib import Path

import pytest

from boltproxy.config import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "boltproxy.toml"
    path.write_text(text)
    return path


def test_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        '[backends.blue]\nuri = "bolt://db1:7687"\n[backends.green]\nuri = "bolt+s://db2:7999"\n',
    )
    monkeypatch.setenv("BOLTPROXY_ROUTING__PRIMARY", "green")
    settings = load_settings(path)
    assert settings.routing.primary == "green"
    assert settings.backends["green"].port == 7999
    assert settings.backends["green"].tls == "verified"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[backends.blue]\nuri = "bolt://db1:7687"\n')
    monkeypatch.setenv("BOLTPROXY_BACKENDS__BLUE__URI", "bolt://other:1234")
    assert load_settings(path).backends["blue"].address == "other:1234"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[backends.blue]\nuri = "http://x"\n', "backends.blue.uri"),
        (
            '[backends.blue]\nuri = "bolt://x"\nconnect_timeout = -1\n',
            "backends.blue.connect_timeout",
        ),
        ('[backends.blue]\nuri = "bolt://x"\n[routing]\nprimary = "green"\n', "routing.primary"),
        ('[backends.blue]\nuri = "bolt://x"\n[listen]\nprot = 1\n', "listen.prot"),
        ('[backends.red]\nuri = "bolt://x"\n', "backends.red"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert key in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[backends\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
