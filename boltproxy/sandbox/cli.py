"""``boltproxy sandbox up|down|status``: local blue/green backends without Docker."""

from __future__ import annotations

import time
from pathlib import Path

import click

from boltproxy.sandbox import manager
from boltproxy.sandbox.errors import SandboxError
from boltproxy.sandbox.neo4j import DEFAULT_USER, START_TIMEOUT

EXIT_NOT_RUNNING = 3

_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=manager.DEFAULT_DIR,
    show_default=True,
    help="Where the backends keep their data, logs and state.",
)
_java_home = click.Path(path_type=Path, file_okay=False)


@click.group()
def sandbox() -> None:
    """Local blue/green backends: real Neo4j 5.26 and 2026.x (or FalkorDB without Java)."""


@sandbox.command()
@_dir_option
@click.option(
    "--engine",
    type=click.Choice(manager.ENGINES),
    default=None,
    help="neo4j (default; FalkorDB is used when no JDK or Maven is there) or falkordb.",
)
@click.option("--blue-version", default=manager.DEFAULT_VERSIONS["blue"], show_default=True)
@click.option("--green-version", default=manager.DEFAULT_VERSIONS["green"], show_default=True)
@click.option("--blue-java-home", type=_java_home, help="JDK for blue (default: newest fitting).")
@click.option("--green-java-home", type=_java_home, help="JDK for green (default: newest fitting).")
@click.option("--with-apoc", is_flag=True, help="Add APOC core at the server's version.")
@click.option("--user", help=f"Neo4j user (default {DEFAULT_USER}).")
@click.option("--password", help="Neo4j password, 8 characters or more (default: generated).")
@click.option("--blue-port", type=click.IntRange(1, 65535), help="Bolt port of blue.")
@click.option("--green-port", type=click.IntRange(1, 65535), help="Bolt port of green.")
@click.option("--proxy-port", type=click.IntRange(1, 65535), help="The proxy's port (7687).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=START_TIMEOUT,
    show_default=True,
    help="Seconds each server has to answer.",
)
def up(
    directory: Path,
    engine: str | None,
    blue_version: str,
    green_version: str,
    blue_java_home: Path | None,
    green_java_home: Path | None,
    with_apoc: bool,
    user: str | None,
    password: str | None,
    blue_port: int | None,
    green_port: int | None,
    proxy_port: int | None,
    timeout: float,
) -> None:
    """Start the blue and green backends and write a matching proxy configuration."""
    options = manager.UpOptions(
        engine=engine,
        versions={"blue": blue_version, "green": green_version},
        java_homes={"blue": blue_java_home, "green": green_java_home},
        with_apoc=with_apoc,
        user=user,
        password=password,
        bolt_ports={"blue": blue_port, "green": green_port},
        proxy_port=proxy_port,
        timeout=timeout,
    )
    began = time.monotonic()
    try:
        result = manager.up(directory, options)
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from None
    for note in result.notes:
        click.echo(f"note: {note}")
    state = result.state
    click.echo(f"sandbox started in {time.monotonic() - began:.1f} s")
    for backend in state.backends:
        extra = f"  http://127.0.0.1:{backend.http_port}" if backend.http_port else ""
        click.echo(
            f"  {backend.name:<6} {backend.uri}  {backend.describe()}  (pid {backend.pid}){extra}"
        )
    if result.credentials is not None:
        # Printed on purpose: the operator asked for this sandbox and needs them to log in.
        click.echo(f"credentials:         {result.credentials[0]} / {result.credentials[1]}")
    click.echo(f"proxy configuration: {state.config_path} (green is the candidate)")
    click.echo(f"run the proxy:       boltproxy serve --config {state.config_path}")
    click.echo(f"then connect to:     bolt://127.0.0.1:{state.proxy_port}")


@sandbox.command()
@click.option(
    "--version",
    "versions",
    multiple=True,
    help="A Neo4j version (repeatable; default: the blue and green defaults).",
)
@click.option("--with-apoc", is_flag=True, help="Also fetch APOC core where it exists.")
def fetch(versions: tuple[str, ...], with_apoc: bool) -> None:
    """Fetch and cache Neo4j's jars from Maven Central now, so later starts run offline."""
    from boltproxy.sandbox import jars

    for version in versions or tuple(manager.DEFAULT_VERSIONS.values()):
        try:
            cached = jars.resolve(version)
            apoc = jars.resolve_apoc(cached) if with_apoc else None
        except SandboxError as exc:
            raise click.ClickException(str(exc)) from None
        extra = f", APOC {apoc}" if apoc else (", no APOC on Maven Central" if with_apoc else "")
        click.echo(f"Neo4j {version}: {cached.lib}{extra}")


@sandbox.command()
@_dir_option
@click.option("--wipe", is_flag=True, help="Also delete the backends' data.")
def down(directory: Path, wipe: bool) -> None:
    """Stop both backends (data is kept unless --wipe)."""
    try:
        state = manager.down(directory, wipe=wipe)
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("sandbox stopped" if state else "sandbox was not running")


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f} MiB"


@sandbox.command()
@_dir_option
def status(directory: Path) -> None:
    """Show each backend; exit 0 when both answer Bolt, 3 otherwise."""
    try:
        state = manager.load_state(directory.resolve())
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from None
    if state is None:
        click.echo("sandbox is not running")
        raise SystemExit(EXIT_NOT_RUNNING)
    healthy = True
    for backend in state.backends:
        answers = backend.answers()
        healthy &= answers
        word = "up" if answers else ("not answering" if backend.running() else "stopped")
        http = f"  http {backend.http_port}" if backend.http_port else ""
        click.echo(
            f"{backend.name:<6} {backend.uri}  {backend.describe()}  pid {backend.pid}{http}"
            f"  rss {_mib(backend.rss())}  {word}"
        )
    click.echo(f"proxy  bolt://127.0.0.1:{state.proxy_port}  (config {state.config_path})")
    if not healthy:
        raise SystemExit(EXIT_NOT_RUNNING)
