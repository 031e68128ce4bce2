"""``boltproxy report`` and ``boltproxy replay``: exit 0 no difference, 4 differences, 1 error."""

from __future__ import annotations

import asyncio
import ssl
import sys
import tempfile
import tomllib
from dataclasses import replace
from pathlib import Path

import click
from pydantic import ValidationError

from boltproxy.shadow import report as reports
from boltproxy.shadow.capture import CaptureError, read_capture
from boltproxy.shadow.client import ClientError, basic_auth, tls_context
from boltproxy.shadow.replay import Endpoint, replay
from boltproxy.shadow.replicas import replica_paths
from boltproxy.shadow.settings import ShadowSettings
from boltproxy.shadow.store import StoreError, load
from boltproxy.shadow.worker import Processor

FORMATS = click.Choice(sorted(reports.RENDERERS))


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(reports.ERROR)


def shadow_settings(config: Path) -> ShadowSettings:
    """The ``[shadow]`` section of a configuration file."""
    try:
        with config.open("rb") as handle:
            section = tomllib.load(handle).get("shadow", {})
        return ShadowSettings.model_validate(section)
    except OSError as exc:
        raise click.ClickException(f"cannot read {config}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise click.ClickException(f"{config} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise click.ClickException(f"{config}: shadow.{where}: {first['msg']}") from None


def _emit(stores: list[Path], settings: ShadowSettings, fmt: str, out: Path | None) -> int:
    shapes = load(stores, settings.examples_per_kind)
    items = reports.verdicts(shapes, settings.latency_flag_multiple, settings.latency_flag_floor)
    text = reports.RENDERERS[fmt](items)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
    return reports.exit_status(items)


@click.command("report")
@click.option("--config", type=click.Path(path_type=Path), help="Read [shadow] store from here.")
@click.option("--store", "stores", multiple=True, type=click.Path(path_type=Path),
              help="A diff store; repeat to merge several (one per proxy replica).")  # fmt: skip
@click.option("--format", "fmt", type=FORMATS, default="md", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
def report_command(
    config: Path | None, stores: tuple[Path, ...], fmt: str, out: Path | None
) -> None:
    """Render shadow diff stores: exit 0 no difference, 4 differences, 1 error."""
    try:
        settings = shadow_settings(config) if config is not None else ShadowSettings()
        paths = list(stores)
        if not paths and settings.store is not None:
            paths = replica_paths(settings.store)  # with every worker's store
        if not paths:
            _fail("give --store PATH or --config FILE with [shadow] store")
        sys.exit(_emit(paths, settings, fmt, out))
    except (StoreError, click.ClickException, OSError) as exc:
        _fail(exc.message if isinstance(exc, click.ClickException) else str(exc))


@click.command("replay")
@click.argument("captures", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--blue", required=True, help="Primary (current) server URI.")
@click.option("--green", required=True, help="Candidate (next) server URI.")
@click.option("--user", envvar="BOLTPROXY_REPLAY_USER", help="For both servers.")
@click.option("--password", envvar="BOLTPROXY_REPLAY_PASSWORD",
              help="For both servers (or BOLTPROXY_REPLAY_PASSWORD).")  # fmt: skip
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trust this CA (PEM) for bolt+s:// URIs, besides the system's.")  # fmt: skip
@click.option("--config", type=click.Path(path_type=Path), help="Take [shadow] settings here.")
@click.option("--store", type=click.Path(path_type=Path), help="Keep the diff store here.")
@click.option("--mode", type=click.Choice(["all", "reads"]), default="all", show_default=True,
              help="reads: compile writes on green with EXPLAIN, not run them.")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="md", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write the report here.")
def replay_command(
    captures: tuple[Path, ...],
    blue: str,
    green: str,
    user: str | None,
    password: str | None,
    ca_file: Path | None,
    config: Path | None,
    store: Path | None,
    mode: str,
    concurrency: int,
    fmt: str,
    out: Path | None,
) -> None:
    """Play captures or Neo4j query logs on blue and green; report as `report` does.

    Several files (one per proxy worker or replica) are played together; a
    capture named as configured brings its workers' files with it.
    """
    try:
        settings = shadow_settings(config) if config is not None else ShadowSettings()
        files = [found for given in captures for found in replica_paths(given)]
        queries = [
            # Session ids are per process: two files' sessions are never one.
            replace(query, session=f"{number}:{query.session}") if len(files) > 1 else query
            for number, path in enumerate(files)
            for query in read_capture(path)
        ]
    except (CaptureError, click.ClickException, OSError) as exc:
        _fail(exc.message if isinstance(exc, click.ClickException) else str(exc))
    auth = basic_auth(user, password)
    try:
        blue_end = Endpoint(blue, auth, tls_context(blue, ca_file))
        green_end = Endpoint(green, auth, tls_context(green, ca_file))
    except (ssl.SSLError, OSError) as exc:
        _fail(f"cannot use --ca-file {ca_file}: {exc}")
    with tempfile.TemporaryDirectory(prefix="boltproxy-replay-") as scratch:
        path = store or settings.store or Path(scratch) / "shadow.db"
        processor = Processor(settings.model_copy(update={"store": path, "capture": None}))
        try:
            run = replay(
                queries,
                blue_end,
                green_end,
                processor,
                mode="reads" if mode == "reads" else "all",
                concurrency=concurrency,
                query_timeout=settings.query_timeout,
            )
            asyncio.run(run)
        except* (ClientError, OSError, TimeoutError) as group:
            processor.close()
            error = group.exceptions[0]
            _fail(f"blue could not be queried: {error or type(error).__name__}")
        processor.close()
        try:
            status = _emit([path], settings, fmt, out)
        except (StoreError, OSError) as exc:
            _fail(str(exc))
    sys.exit(status)
