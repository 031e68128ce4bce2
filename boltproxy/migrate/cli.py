"""``boltproxy migrate``: export, import, copy, snapshot, restore (and the checks)."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from boltproxy.migrate.codec import UnsupportedValue
from boltproxy.migrate.connect import Endpoint, OnSide, classify, open_driver
from boltproxy.migrate.errors import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    MigrateError,
)
from boltproxy.migrate.progress import NullProgress, Progress, for_terminal

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = (
    "\b\nExit codes:\n"
    "  0  success\n"
    "  1  differences found (a check failed, data not moved: skipped relationships, ...)\n"
    "  2  bad usage (options, URI)\n"
    "  3  a server is unreachable (or a read stalled)\n"
    "  4  a server refused the credentials\n"
    "  5  the export directory is foreign, corrupt, unfinished, finished or unwritable\n"
    "  6  the target already holds data (refused)\n"
    "  7  internal error (a server rejected a request, or a bug)"
)


@click.group(epilog=EXIT_CODES)
def migrate() -> None:
    """Copy and validate graph data and schema between two servers.

    Credentials come from --user/--password or NEO4J_USER/NEO4J_PASSWORD and are
    never printed. Progress goes to stderr; --json prints a summary on stdout.
    """


# --- shared options ---------------------------------------------------------------


def _auth_options(func: F) -> F:
    func = click.option(
        "--password", envvar="NEO4J_PASSWORD", default=None, help="Password (env NEO4J_PASSWORD)."
    )(func)
    func = click.option(
        "--user",
        envvar="NEO4J_USER",
        default=None,
        help="User name (env NEO4J_USER); omit for no authentication.",
    )(func)
    return func


def _output_options(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")(
        func
    )


def _batch_option(func: F) -> F:
    return click.option(
        "--batch-size",
        default=10_000,
        show_default=True,
        type=click.IntRange(1, 1_000_000),
        help="Entities per batch (and per export file).",
    )(func)


READ_TIMEOUT_HELP = (
    "Seconds one page read may take before it counts as stalled (exit 3, naming the batch)."
)


def _read_timeout_option(func: F) -> F:
    return click.option(
        "--read-timeout",
        default=300.0,
        show_default=True,
        type=click.FloatRange(min=0.001),
        help=READ_TIMEOUT_HELP,
    )(func)


def _progress(as_json: bool) -> Progress:
    return NullProgress() if as_json else for_terminal()


def fail(command: str, as_json: bool, code: int, message: str) -> NoReturn:
    """Report an error (as a JSON document too with --json) and exit with ``code``."""
    if as_json:
        click.echo(json.dumps({"command": command, "ok": False, "exit_code": code,
                               "error": message}))  # fmt: skip
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def scrubbed(message: str, endpoints: list[Endpoint]) -> str:
    for endpoint in endpoints:
        message = endpoint.scrub(message)
    return message


def endpoint_or_exit(
    command: str, as_json: bool, uri: str, user: str | None, password: str | None,
    database: str | None, side: str,
) -> Endpoint:  # fmt: skip
    try:
        return Endpoint.parse(uri, user, password, database, side)
    except MigrateError as exc:
        fail(command, as_json, exc.exit_code, scrubbed(str(exc), [Endpoint(uri, user, password)]))


def _side_of(exc: BaseException, endpoints: list[Endpoint]) -> Endpoint:
    if isinstance(exc, OnSide):
        for endpoint in endpoints:
            if endpoint.side == exc.side:
                return endpoint
    return endpoints[-1]


def _run(
    command: str,
    as_json: bool,
    endpoints: list[Endpoint],
    work: Callable[[list[neo4j.AsyncDriver], Progress], Awaitable[dict[str, Any]]],
    resume_hint: str | None = None,
) -> None:
    """Open the drivers, run ``work``, print the outcome and exit with its code.

    ``work`` may put a ``problem`` (text) in its summary: the work ran but data
    did not all arrive, which exits 1 ("differences found").
    """
    progress = _progress(as_json)

    async def main() -> dict[str, Any]:
        drivers: list[neo4j.AsyncDriver] = []
        try:
            for endpoint in endpoints:
                drivers.append(await open_driver(endpoint))
            try:
                return await work(drivers, progress)
            except (MigrateError, UnsupportedValue):
                raise
            except (Neo4jError, DriverError, OnSide, ConnectionError, TimeoutError) as exc:
                raise classify(exc, _side_of(exc, endpoints)) from exc
        finally:
            progress.close()
            for driver in drivers:
                await driver.close()

    try:
        summary = asyncio.run(main())
    except MigrateError as exc:
        message = str(exc)
        if resume_hint and exc.exit_code == EXIT_INTERNAL:
            message = f"{message}\n{resume_hint}"
        fail(command, as_json, exc.exit_code, scrubbed(message, endpoints))
    except UnsupportedValue as exc:
        fail(command, as_json, EXIT_FAILED, scrubbed(f"cannot move a value: {exc}", endpoints))
    except Exception as exc:  # a bug: still one message, exit 7, and never a password
        fail(command, as_json, EXIT_INTERNAL,
             scrubbed(f"internal error: {type(exc).__name__}: {exc}", endpoints))  # fmt: skip
    problem = summary.pop("problem", None)
    if as_json:
        click.echo(json.dumps({"command": command, "ok": problem is None, **summary,
                               **({"error": problem} if problem else {})}))  # fmt: skip
    else:
        click.echo(_describe(command, summary))
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_FAILED)


def _check_before_connecting(check: Callable[[], object], as_json: bool, command: str) -> None:
    """Reject bad input (a foreign or corrupt directory) before touching any server."""
    try:
        check()
    except MigrateError as exc:
        fail(command, as_json, exc.exit_code, str(exc))


def _describe(command: str, summary: dict[str, Any]) -> str:
    counts = ", ".join(
        f"{key} {value}"
        for key, value in summary.items()
        if isinstance(value, int) and not isinstance(value, bool)
    )
    return f"{command}: done ({counts})" if counts else f"{command}: done"


# --- commands ---------------------------------------------------------------------


@migrate.command("export")
@click.option("--source", required=True, help="Bolt URI of the server to read.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Export directory (created; an unfinished export there is resumed).",
)
@click.option("--database", default=None, help="Database to read (server default if omitted).")
@_auth_options
@_batch_option
@_read_timeout_option
@_output_options
def export_command(
    source: str,
    out: Path,
    database: str | None,
    user: str | None,
    password: str | None,
    batch_size: int,
    read_timeout: float,
    as_json: bool,
) -> None:
    """Export all nodes, relationships and the schema into a directory.

    Interrupted exports continue where they stopped when run again with the same
    arguments.
    """
    from boltproxy.migrate.export import export_graph

    endpoint = endpoint_or_exit("export", as_json, source, user, password, database, "source")

    async def work(drivers: list[neo4j.AsyncDriver], progress: Progress) -> dict[str, Any]:
        result = await export_graph(
            drivers[0],
            out,
            source=endpoint.display,
            database=database,
            batch_size=batch_size,
            progress=progress,
            read_timeout=read_timeout,
        )
        return {**result.to_dict(), "problem": result.problem()}

    _run(
        "export",
        as_json,
        [endpoint],
        work,
        resume_hint=f"run the same command again to resume the export in {out}",
    )


@migrate.command("import")
@click.option("--target", required=True, help="Bolt URI of the server to write.")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--database", default=None, help="Database to write.")
@click.option("--into-non-empty", is_flag=True, help="Allow importing into a target with data.")
@_auth_options
@_output_options
def import_command(
    target: str,
    directory: Path,
    database: str | None,
    into_non_empty: bool,
    user: str | None,
    password: str | None,
    as_json: bool,
) -> None:
    """Import an export directory: schema, then nodes, then relationships.

    Running it again after an interruption resumes; running it again after it
    finished changes nothing.
    """
    from boltproxy.migrate.format import ExportDir
    from boltproxy.migrate.importer import import_graph

    endpoint = endpoint_or_exit("import", as_json, target, user, password, database, "target")
    _check_before_connecting(lambda: ExportDir.open_complete(directory).verify(), as_json, "import")

    async def work(drivers: list[neo4j.AsyncDriver], progress: Progress) -> dict[str, Any]:
        result = await import_graph(
            drivers[0], directory, target=endpoint, into_non_empty=into_non_empty, progress=progress
        )
        return {**result.to_dict(), "problem": result.problem()}

    _run(
        "import",
        as_json,
        [endpoint],
        work,
        resume_hint="the target is partly written: run the same command again to resume",
    )


@migrate.command("copy")
@click.option("--source", required=True, help="Bolt URI to read.")
@click.option("--target", required=True, help="Bolt URI to write.")
@click.option("--source-database", default=None)
@click.option("--target-database", default=None)
@click.option(
    "--target-user",
    envvar="NEO4J_TARGET_USER",
    default=None,
    help="Target user if it differs (env NEO4J_TARGET_USER).",
)
@click.option(
    "--target-password",
    envvar="NEO4J_TARGET_PASSWORD",
    default=None,
    help="Target password if it differs (env NEO4J_TARGET_PASSWORD).",
)
@click.option(
    "--concurrency",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Parallel writers.",
)
@click.option("--into-non-empty", is_flag=True, help="Allow copying into a target with data.")
@_auth_options
@_batch_option
@_read_timeout_option
@_output_options
def copy_command(
    source: str,
    target: str,
    source_database: str | None,
    target_database: str | None,
    target_user: str | None,
    target_password: str | None,
    concurrency: int,
    into_non_empty: bool,
    user: str | None,
    password: str | None,
    batch_size: int,
    read_timeout: float,
    as_json: bool,
) -> None:
    """Copy data and schema from one server to another without files."""
    from boltproxy.migrate.copy import copy_graph

    source_endpoint = endpoint_or_exit(
        "copy", as_json, source, user, password, source_database, "source"
    )
    target_endpoint = endpoint_or_exit(
        "copy", as_json, target,
        target_user if target_user is not None else user,
        target_password if target_password is not None else password,
        target_database, "target",
    )  # fmt: skip

    async def work(drivers: list[neo4j.AsyncDriver], progress: Progress) -> dict[str, Any]:
        result = await copy_graph(
            drivers[0],
            drivers[1],
            source=source_endpoint,
            target=target_endpoint,
            batch_size=batch_size,
            concurrency=concurrency,
            into_non_empty=into_non_empty,
            progress=progress,
            read_timeout=read_timeout,
        )
        return {**result.to_dict(), "problem": result.problem()}

    _run(
        "copy",
        as_json,
        [source_endpoint, target_endpoint],
        work,
        resume_hint="the target is partly written: run the same command again to resume",
    )


@migrate.command("snapshot")
@click.option("--source", required=True, help="Bolt URI of the server to snapshot.")
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="Snapshot directory."
)
@click.option("--database", default=None)
@_auth_options
@_batch_option
@_read_timeout_option
@_output_options
def snapshot_command(
    source: str,
    out: Path,
    database: str | None,
    user: str | None,
    password: str | None,
    batch_size: int,
    read_timeout: float,
    as_json: bool,
) -> None:
    """Take a snapshot (an export marked as such) before a migration."""
    from boltproxy.migrate.snapshot import take_snapshot

    endpoint = endpoint_or_exit("snapshot", as_json, source, user, password, database, "source")

    async def work(drivers: list[neo4j.AsyncDriver], progress: Progress) -> dict[str, Any]:
        result = await take_snapshot(
            drivers[0], out, source=endpoint, batch_size=batch_size, progress=progress,
            read_timeout=read_timeout,
        )  # fmt: skip
        return {**result.to_dict(), "problem": result.problem()}

    _run(
        "snapshot",
        as_json,
        [endpoint],
        work,
        resume_hint=f"run the same command again to resume the snapshot in {out}",
    )


@migrate.command("restore")
@click.option("--target", required=True, help="Bolt URI of the server to put back.")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--database", default=None)
@click.option("--wipe", is_flag=True, help="Delete the target's data before restoring.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_auth_options
@_output_options
def restore_command(
    target: str,
    directory: Path,
    database: str | None,
    wipe: bool,
    yes: bool,
    user: str | None,
    password: str | None,
    as_json: bool,
) -> None:
    """Put a server back to a snapshot (deleting its current data with --wipe)."""
    from boltproxy.migrate.snapshot import check_snapshot, restore_snapshot

    endpoint = endpoint_or_exit("restore", as_json, target, user, password, database, "target")
    _check_before_connecting(lambda: check_snapshot(directory), as_json, "restore")
    if wipe and not yes:
        click.confirm(
            f"Delete ALL data in {endpoint.display} and restore {directory}?", abort=True, err=True
        )

    async def work(drivers: list[neo4j.AsyncDriver], progress: Progress) -> dict[str, Any]:
        result = await restore_snapshot(
            drivers[0], directory, target=endpoint, wipe=wipe, progress=progress
        )
        return result.to_dict()

    _run(
        "restore",
        as_json,
        [endpoint],
        work,
        resume_hint="the target is partly restored: run the same command again",
    )


def _register_checks() -> None:
    # schema-diff and validate live in cli_checks.py (developed separately).
    try:
        checks = importlib.import_module("boltproxy.migrate.cli_checks")
    except ModuleNotFoundError as exc:
        if exc.name != "boltproxy.migrate.cli_checks":
            raise
        return
    for name in ("schema_diff", "validate"):
        command = getattr(checks, name, None)
        if isinstance(command, click.Command):
            migrate.add_command(command)


_register_checks()
