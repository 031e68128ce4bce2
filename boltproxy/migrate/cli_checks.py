"""``boltproxy migrate schema-diff`` and ``boltproxy migrate validate``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import neo4j
from neo4j.exceptions import DriverError, Neo4jError
from rich.console import Console
from rich.table import Table

from boltproxy.migrate.cli import READ_TIMEOUT_HELP, endpoint_or_exit, fail, scrubbed
from boltproxy.migrate.codec import UnsupportedValue
from boltproxy.migrate.connect import Endpoint, OnSide, classify, open_driver
from boltproxy.migrate.dialect import detect_dialect
from boltproxy.migrate.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, MigrateError
from boltproxy.migrate.schemadiff import Difference, diff_catalogue, diff_schema
from boltproxy.migrate.validate import Report, on_side, validate_graphs
from boltproxy.migrate.writer import is_temporary_name

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _sides(func: F) -> F:
    for side in ("green", "blue"):
        func = click.option(f"--{side}-database", default=None, help=f"Database on {side}.")(func)
        func = click.option(
            f"--{side}-password", envvar=f"NEO4J_{side.upper()}_PASSWORD", default=None,
            help=f"Password on {side} (default --password).",
        )(func)  # fmt: skip
        func = click.option(
            f"--{side}-user", envvar=f"NEO4J_{side.upper()}_USER", default=None,
            help=f"User on {side} (default --user).",
        )(func)  # fmt: skip
        func = click.option(
            f"--{side}", f"{side}_uri", required=True, help=f"The {side} server's URI."
        )(func)
    func = click.option(
        "--password", envvar="NEO4J_PASSWORD", default=None, help="Password for both."
    )(func)
    func = click.option("--user", envvar="NEO4J_USER", default=None, help="User for both.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(func)
    func = click.option(
        "--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
        help="Also write the result to FILE (.json, else Markdown).",
    )(func)  # fmt: skip
    return func


def _endpoints(options: dict[str, Any], command: str) -> tuple[Endpoint, Endpoint]:
    def side(name: str) -> Endpoint:
        return endpoint_or_exit(
            command, options["as_json"], options[f"{name}_uri"],
            options[f"{name}_user"] or options["user"],
            options[f"{name}_password"] or options["password"],
            options[f"{name}_database"], name,
        )  # fmt: skip

    return side("blue"), side("green")


def _with_drivers(
    command: str,
    as_json: bool,
    blue: Endpoint,
    green: Endpoint,
    work: Callable[[neo4j.AsyncDriver, neo4j.AsyncDriver], Awaitable[T]],
) -> T:
    """Open both servers, run ``work``; a failure exits with its code and one message."""

    async def main() -> T:
        drivers: list[neo4j.AsyncDriver] = []
        try:
            for endpoint in (blue, green):
                drivers.append(await open_driver(endpoint))
            try:
                return await work(drivers[0], drivers[1])
            except MigrateError:
                raise
            except (Neo4jError, DriverError, OnSide, ConnectionError, TimeoutError) as exc:
                side = exc.side if isinstance(exc, OnSide) else ""
                raise classify(exc, green if side == "green" else blue) from exc
        finally:
            for driver in drivers:
                await driver.close()

    endpoints = [blue, green]
    try:
        return asyncio.run(main())
    except MigrateError as exc:
        fail(command, as_json, exc.exit_code, scrubbed(str(exc), endpoints))
    except UnsupportedValue as exc:
        fail(command, as_json, EXIT_FAILED, scrubbed(f"cannot read a value: {exc}", endpoints))
    except Exception as exc:  # a bug: exit 7, never 1 ("differences found")
        fail(command, as_json, EXIT_INTERNAL,
             scrubbed(f"internal error: {type(exc).__name__}: {exc}", endpoints))  # fmt: skip


def _write_report(path: Path | None, data: dict[str, Any], markdown: str) -> None:
    if path is None:
        return
    text = json.dumps(data, indent=2, default=str) + "\n" if path.suffix == ".json" else markdown
    path.write_text(text)


def _differences_markdown(title: str, differences: list[Difference]) -> str:
    lines = [f"# {title}", "", "| area | item | where | detail |", "|---|---|---|---|"]
    lines += [f"| {d.area} | {d.item} | {d.where} | {d.detail} |" for d in differences]
    return "\n".join(lines) + "\n"


@click.command("schema-diff")
@_sides
def schema_diff(**options: Any) -> None:
    """Compare indexes and constraints; list label, type, key, procedure and function notes.

    Exit 0 when indexes and constraints match, 1 when they differ, 3 unreachable,
    4 credentials refused. Names a server knows and procedures or functions are
    listed as notes and never fail the command: servers keep names after their last
    use, and 5.26 and 2025.x+ offer different procedures (`validate` compares the
    names in use).
    """
    blue, green = _endpoints(options, "schema-diff")

    async def work(
        b: neo4j.AsyncDriver, g: neo4j.AsyncDriver
    ) -> tuple[list[Difference], list[Difference]]:
        bd, gd = await asyncio.gather(
            on_side("blue", detect_dialect(b, blue.database)),
            on_side("green", detect_dialect(g, green.database)),
        )
        bs, gs, bc, gc = await asyncio.gather(
            on_side("blue", bd.fetch_schema(b, blue.database)),
            on_side("green", gd.fetch_schema(g, green.database)),
            on_side("blue", bd.fetch_catalogue(b, blue.database)),
            on_side("green", gd.fetch_catalogue(g, green.database)),
        )
        # The importer's own temporary names are not even a note.
        notes = [d for d in diff_catalogue(bc, gc) if not is_temporary_name(d.item)]
        return diff_schema(bs, gs), notes

    differences, notes = _with_drivers("schema-diff", options["as_json"], blue, green, work)
    data = {
        "identical": not differences,
        "differences": [d.to_dict() for d in differences],
        "notes": [d.to_dict() for d in notes],
    }
    markdown = _differences_markdown("Schema diff", differences)
    if notes:
        markdown += "\n" + _differences_markdown("Notes (not differences)", notes)
    _write_report(options["report_path"], data, markdown)
    if options["as_json"]:
        click.echo(json.dumps(data, indent=2))
    else:
        for title, rows in (("notes (not differences)", notes),
                            (f"schema-diff: {len(differences)} difference(s)", differences)):
            if not rows:
                continue
            table = Table(title=title)
            for column in ("area", "item", "where", "detail"):
                table.add_column(column)
            for d in rows:
                table.add_row(d.area, d.item, d.where, d.detail)
            Console().print(table)
        if not differences:
            click.echo(f"identical indexes and constraints: {blue.display} and {green.display}")
    sys.exit(EXIT_OK if not differences else EXIT_FAILED)


@click.command("validate")
@_sides
@click.option("--sample", default=100, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Random entities of each kind compared one by one.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, help="Seed of the random sample.")
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--read-timeout", default=300.0, show_default=True,
              type=click.FloatRange(min=0.001), help=READ_TIMEOUT_HELP)  # fmt: skip
def validate(sample: int, seed: int, batch_size: int, read_timeout: float, **options: Any) -> None:
    """Prove that blue and green hold the same graph; exit 0 only when every check passes.

    Exit 1 when a check fails, 2 bad usage, 3 unreachable, 4 credentials refused,
    7 internal error. Only counts,
    checksums, labels and property keys are shown: never property values.
    """
    blue, green = _endpoints(options, "validate")

    async def work(b: neo4j.AsyncDriver, g: neo4j.AsyncDriver) -> Report:
        return await validate_graphs(
            b, g, blue_database=blue.database, green_database=green.database,
            sample=sample, seed=seed, page=batch_size, read_timeout=read_timeout,
            blue_endpoint=blue, green_endpoint=green,
        )  # fmt: skip

    report = _with_drivers("validate", options["as_json"], blue, green, work)
    _write_report(options["report_path"], report.to_dict(), report.to_markdown())
    if options["as_json"]:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        table = Table(title=f"validate {blue.display} → {green.display}")
        for column in ("check", "result", "blue", "green", "detail"):
            table.add_column(column)
        for check in report.checks:
            result = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
            detail = "\n".join([check.detail, *check.examples])
            table.add_row(check.name, result, str(check.blue or ""), str(check.green or ""), detail)
        Console().print(table)
        click.echo(f"{report.entities} entities in {report.seconds:.1f} s ({report.rate:,.0f}/s)")
    sys.exit(EXIT_OK if report.passed else EXIT_FAILED)
