"""config/boltproxy.example.toml stays loadable and documents every setting."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from boltproxy.config import BackendSettings, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "boltproxy.example.toml"


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    found = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += keys(annotation, f"{prefix}{name}.")
        elif name != "backends":
            found.append(prefix + name)
    return found


def test_example_loads_with_two_backends() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.routing.primary == "blue"
    assert set(settings.backends) == {"blue", "green"}


def test_example_mentions_every_key() -> None:
    text = EXAMPLE.read_text()
    expected = keys(Settings) + [f"backends.blue.{k}" for k in BackendSettings.model_fields]
    missing = [
        key
        for key in expected
        # set or commented out, like "# ca_file = ..."
        if not re.search(rf"^#?\s*{re.escape(key.rsplit('.', 1)[-1])} = ", text, re.MULTILINE)
    ]
    assert missing == []
    assert "[backends.blue]" in text
