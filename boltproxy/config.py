"""Configuration: a TOML file and ``BOLTPROXY_…`` environment variables.

Environment variables override the file; nested keys use ``__``, for example
``BOLTPROXY_BACKENDS__BLUE__URI=bolt://db1:7687`` or ``BOLTPROXY_ROUTING__PRIMARY=green``.
A bad configuration raises :class:`ConfigError` with one readable line naming the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from boltproxy.control.settings import ControlSettings
from boltproxy.shadow.settings import ShadowSettings

BackendName = Literal["blue", "green"]
BACKEND_NAMES: tuple[BackendName, ...] = ("blue", "green")
TlsMode = Literal["none", "verified", "self-signed"]

_SCHEMES: dict[str, TlsMode] = {
    "bolt": "none",
    "bolt+s": "verified",
    "bolt+ssc": "self-signed",
    # neo4j:// URIs name a cluster entry point; towards one server they mean the same.
    "neo4j": "none",
    "neo4j+s": "verified",
    "neo4j+ssc": "self-signed",
}


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendSettings(_Section):
    """One Neo4j (or Bolt-speaking) server behind the proxy."""

    uri: str
    connect_timeout: float = Field(5.0, gt=0)
    # A client's link waits this long for the backend's handshake: as long as a
    # driver would wait directly (its connection acquisition timeout), so that
    # the driver's own deadline, not the proxy's, ends the wait.
    handshake_timeout: float = Field(60.0, gt=0)
    # The proxy's own checks of a backend give up sooner.
    probe_timeout: float = Field(5.0, gt=0)
    connect_attempts: int = Field(3, ge=1, le=100)
    ca_file: Path | None = None

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in _SCHEMES:
            raise ValueError(f"scheme {parts.scheme!r} is not one of {', '.join(sorted(_SCHEMES))}")
        if not parts.hostname:
            raise ValueError("the URI names no host")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.uri).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.uri).port or 7687

    @property
    def tls(self) -> TlsMode:
        return _SCHEMES[urlsplit(self.uri).scheme]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ListenSettings(_Section):
    """Where clients connect."""

    host: str = "127.0.0.1"
    port: int = Field(7687, ge=0, le=65535)
    advertised_address: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_connections: int = Field(10_000, ge=1)

    @model_validator(mode="after")
    def _tls_pair(self) -> ListenSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"file not found: {path}")
        return self

    def advertised(self, bound_port: int) -> str:
        """The host:port that routing tables give to drivers."""
        if self.advertised_address:
            return self.advertised_address
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"{host}:{bound_port}"


class AdminSettings(_Section):
    """The admin HTTP listener: the traffic-control API, /metrics and /healthz."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(7688, ge=0, le=65535)
    # Bearer token for every call that changes something; without one those are
    # refused and the listener may only bind to loopback.
    token: str | None = Field(None, min_length=16)


class RoutingSettings(_Section):
    primary: BackendName = "blue"


class RelaySettings(_Section):
    """Flow control and fault handling on the relay path."""

    # Above this many bytes queued towards one side, the other side stops being read.
    high_water_bytes: int = Field(1 << 20, ge=4096)
    # How long the proxy waits for a client's handshake, and then for its first message.
    client_handshake_timeout: float = Field(10.0, gt=0)
    # Until it has logged in, a client silent for this long is disconnected.
    client_idle_before_auth_timeout: float = Field(30.0, gt=0)
    # A message larger than this is refused (bad input, not a database error).
    max_message_bytes: int = Field(64 << 20, ge=1 << 16)
    # Before authentication only HELLO and LOGON are expected: small messages.
    max_message_bytes_before_auth: int = Field(1 << 20, ge=1 << 12)
    # What all client connections together may hold in partly received messages.
    max_buffered_bytes: int = Field(512 << 20, ge=1 << 20)
    # Requests a client may send ahead of their answers (drivers pipeline a few).
    max_pipelined_requests: int = Field(1000, ge=8)
    # How often each backend's health and versions are checked in the background.
    health_check_interval: float = Field(5.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BOLTPROXY_",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    listen: ListenSettings = ListenSettings()
    admin: AdminSettings = AdminSettings()
    backends: dict[BackendName, BackendSettings] = Field(default_factory=dict)
    routing: RoutingSettings = RoutingSettings()
    relay: RelaySettings = RelaySettings()
    shadow: ShadowSettings = ShadowSettings()
    control: ControlSettings = ControlSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _primary_exists(self) -> Settings:
        if self.routing.primary not in self.backends:
            raise ValueError(
                f"routing.primary is {self.routing.primary!r} but backends.{self.routing.primary}"
                " is not configured"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file") is not None:
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the configuration from ``path`` (TOML), the environment and ``overrides``."""
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"configuration file not found: {path}")
        try:
            with path.open("rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    # The file is chosen at run time, so it goes into a subclass's model_config.
    config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})
    source = type("_FileSettings", (Settings,), {"model_config": config})
    try:
        settings: Settings = source(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"configuration error at {where}: {message}{more}") from None
    return settings
