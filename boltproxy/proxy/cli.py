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
from boltproxy.proxy import workers as worker_processes
from boltproxy.proxy.server import ProxyServer
from boltproxy.shadow.replicas import worker_path


def run_event_loop(main: Any) -> None:
    """Run ``main`` on uvloop when it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)


async def _serve(settings: Settings, worker: int | None = None) -> None:
    server = ProxyServer(settings, reuse_port=worker is not None)
    await server.start()
    if worker:  # worker 0 speaks for all of them
        return await _until_stopped(server)
    admin = f", admin http://{settings.admin.host}:{server.admin_port}" if server.admin_port else ""
    click.echo(f"boltproxy: bolt://{server.advertised_address} → {server.router.primary}{admin}")
    await _until_stopped(server)


async def _until_stopped(server: ProxyServer) -> None:
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
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Relay processes sharing the listening port (SO_REUSEPORT). Default: one per core "
    "when run-time changes (flips, shadow settings) can be shared (a Redis store, or no "
    "admin listener), else 1.",
)
@click.option("--worker-of", hidden=True, help="PARENT_PID:INDEX of a supervised worker.")
def serve(
    config_path: Path | None, port: int | None, workers: int | None, worker_of: str | None
) -> None:
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
    index: int | None = None
    if worker_of is not None:
        parent, _, position = worker_of.partition(":")
        index = int(position)
        worker_processes.die_with_parent(int(parent))
        # One admin listener for all workers: the operator's commands and /healthz
        # have one address (run-time changes reach the others through the store).
        settings.admin.enabled = settings.admin.enabled and index == 0
        # SQLite and JSON Lines want one writer each: every worker has its own.
        shadow = settings.shadow
        if shadow.store is not None:
            shadow.store = worker_path(shadow.store, index)
        if shadow.capture is not None:
            shadow.capture = worker_path(shadow.capture, index)
    elif workers is None:
        workers = worker_processes.default_workers()
        if worker_processes.workers_problem(settings, workers) is not None:
            workers = 1
    elif (problem := worker_processes.workers_problem(settings, workers)) is not None:
        raise click.ClickException(problem)
    if workers is not None and workers > 1:
        return _supervise(settings, config_path, workers)
    try:
        run_event_loop(_serve(settings, index))
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc}") from None


def _supervise(settings: Settings, config_path: Path | None, workers: int) -> None:
    listen = settings.listen
    try:
        reserved = worker_processes.reserve_port(listen.host, listen.port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc}") from None
    with reserved:
        port = reserved.getsockname()[1]
        supervisor = worker_processes.Supervisor(workers, config_path, port)
        click.echo(f"boltproxy: {workers} workers on port {port}")
        status = supervisor.run()
    if status:
        raise SystemExit(status)
