"""``boltproxy sandbox up|down|status``: local blue/green backends without Docker."""

from __future__ import annotations

from pathlib import Path

import click

from boltproxy.sandbox import manager
from boltproxy.sandbox.falkordb import SandboxError

EXIT_NOT_RUNNING = 3

_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=manager.DEFAULT_DIR,
    show_default=True,
    help="Where the backends keep their data, logs and state.",
)


@click.group()
def sandbox() -> None:
    """Local blue/green Bolt backends (FalkorDB) for trying boltproxy without Docker."""


@sandbox.command()
@_dir_option
def up(directory: Path) -> None:
    """Start the blue and green backends and write a matching proxy configuration."""
    try:
        state, started = manager.up(directory)
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("sandbox started" if started else "sandbox already up")
    for backend in state.backends:
        click.echo(f"  {backend.name:<6} {backend.uri}  (pid {backend.pid})")
    click.echo(f"proxy configuration: {state.config_path}")
    click.echo(f"run the proxy:       boltproxy serve --config {state.config_path}")
    click.echo(f"then connect to:     bolt://127.0.0.1:{state.proxy_port}")


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
        click.echo(f"{backend.name:<6} {backend.uri}  pid {backend.pid}  {word}")
    if not healthy:
        raise SystemExit(EXIT_NOT_RUNNING)
