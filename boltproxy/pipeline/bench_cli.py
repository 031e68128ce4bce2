"""``boltproxy bench``: the same workload against both versions, side by side."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from boltproxy.pipeline import bench as runner
from boltproxy.pipeline import bench_report
from boltproxy.pipeline.connect import identify
from boltproxy.pipeline.model import Server, StepFailed
from boltproxy.pipeline.workload import DEFAULT, WorkloadError, load


@click.command("bench")
@click.option("--blue", "blue_uri", required=True, help="The current server's Bolt URI.")
@click.option("--green", "green_uri", required=True, help="The next server's Bolt URI.")
@click.option("--user", envvar="NEO4J_USER", help="User on both (env NEO4J_USER).")
@click.option("--password", envvar="NEO4J_PASSWORD", help="Password on both (env NEO4J_PASSWORD).")
@click.option("--workload", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Workload TOML file (default: lookups, traversals, aggregations, writes, "
              "index scans on data it creates and removes).")  # fmt: skip
@click.option("--duration", default=30.0, show_default=True, type=click.FloatRange(min=0.5),
              help="Seconds of measurement in all, shared by shapes and servers.")
@click.option("--seed", default=0, show_default=True, help="Seed of the query parameters.")
@click.option("--keep-data", is_flag=True, help="Leave the workload's data in place.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("bench-report.html"), show_default=True,
              help="HTML report (a .md file beside it too).")  # fmt: skip
def bench(
    blue_uri: str, green_uri: str, user: str | None, password: str | None,
    workload: Path | None, duration: float, seed: int, keep_data: bool, report_path: Path,
) -> None:  # fmt: skip
    """Run one read/write workload against both versions: p50/p95/p99 and throughput per
    query shape side by side, the ratio, each server's memory, and a chart in HTML.

    The servers should be test servers: the workload writes.
    """
    console = Console()
    try:
        chosen = load(workload) if workload else DEFAULT
        blue = Server("blue", blue_uri, user, password)
        green = Server("green", green_uri, user, password)
        for server in (blue, green):
            identify(server)
        console.print(f"blue {blue.version}, green {green.version}: "
                      f"{len(chosen.shapes)} query shapes, {duration:.0f} s")  # fmt: skip
        result = runner.run(
            blue, green, chosen, duration, seed=seed, keep_data=keep_data,
            on_shape=lambda name: console.print(f"  measuring {name}"),
        )  # fmt: skip
    except (WorkloadError, StepFailed) as exc:
        raise click.ClickException(str(exc)) from None
    table = Table(title="green vs blue (ratio above 1: green is faster)")
    for column in bench_report.HEADER:
        table.add_column(column, justify="left" if column in ("shape", "kind") else "right")
    for row in bench_report.rows(result):
        table.add_row(*row)
    console.print(table)
    for row in bench_report.memory_rows(result):
        console.print(f"memory {row[0]}: blue {row[1]}, green {row[2]}")
    for line in bench_report.errors(result):
        console.print(f"[yellow]{line}[/]")
    report_path.write_text(bench_report.html_report(result))
    report_path.with_suffix(".md").write_text(bench_report.markdown(result))
    console.print(f"report: {report_path} and {report_path.with_suffix('.md')}")
