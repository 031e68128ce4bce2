"""``boltproxy serve``: run the proxy until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

import click

from boltproxy.config import ConfigError, Settings, load_settings
from boltproxy.proxy.server import ProxyServer


def run_event_loop(main: Any) -> None:
    """Run ``main`` on uvloop when it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)


async def _serve(settings: Settings) -> None:
    server = ProxyServer(settings)
    await server.start()
    admin = f", admin http://{settings.admin.host}:{server.admin_port}" if server.admin_port else ""
    click.echo(f"boltproxy: bolt://{server.advertised_address} → {server.router.primary}{admin}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        logging.getLogger("boltproxy").info("shutting down")
        await server.close()


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="BOLTPROXY_CONFIG",
    help="TOML configuration file (BOLTPROXY_… environment variables override it).",
)
@click.option("--port", type=int, help="Listen on this port instead of listen.port.")
def serve(config_path: Path | None, port: int | None) -> None:
    """Relay Bolt clients to the primary backend."""
    try:
        settings = load_settings(config_path)
        if port is not None:
            settings.listen.port = port
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        run_event_loop(_serve(settings))
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc}") from None
