"""``boltproxy pipeline``: the whole migration test in one command."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from boltproxy.pipeline import report
from boltproxy.pipeline.model import STEP_NAMES, Mode, Options, StepResult
from boltproxy.pipeline.runner import BeforeStep, Pipeline

TITLE = "Migration test"


def run(
    options: Options, console: Console | None = None, before_step: BeforeStep | None = None
) -> tuple[int, list[StepResult]]:
    """Run the pipeline, print the summary, write the reports; returns the exit code."""
    console = console or Console()
    results = Pipeline(options, console, before_step).run()
    summary = Table(title=f"{TITLE}: {report.verdict(results)}")
    for column in ("step", "result", "seconds", "what it did"):
        summary.add_column(column, justify="right" if column == "seconds" else "left")
    colour = {"passed": "green", "failed": "red", "skipped": "yellow"}
    for r in results:
        summary.add_row(r.name, f"[{colour[r.status]}]{r.status}[/]", f"{r.seconds:.1f}", r.summary)
    console.print(summary)
    options.work_dir.mkdir(parents=True, exist_ok=True)
    md = options.work_dir / "report.md"
    md.write_text(report.markdown(results, options, TITLE))
    page = options.work_dir / "report.html"
    page.write_text(report.html_report(results, options, TITLE))
    console.print(f"report: {md} and {page}")
    return (0 if report.verdict(results) == "PASSED" else 1), results


@click.command("pipeline")
@click.option("--compose", "use_compose", is_flag=True,
              help="Start both versions with Docker Compose instead of the sandbox.")
@click.option("--compose-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Compose file (default compose/docker-compose.migration-test.yml).")
@click.option("--blue", "blue_uri", help="URI of a running current server (with --green).")
@click.option("--green", "green_uri", help="URI of a running next server (with --blue).")
@click.option("--user", envvar="NEO4J_USER", help="User on both servers (env NEO4J_USER).")
@click.option("--password", envvar="NEO4J_PASSWORD",
              help="Password on both (env NEO4J_PASSWORD); never printed.")
@click.option("--engine", type=click.Choice(["neo4j", "falkordb"]),
              help="Sandbox engine (default: Neo4j where Java and Maven are, else FalkorDB).")
@click.option("--size", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Entities to generate in blue (0: keep the data already there).")
@click.option("--dataset", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Populate blue with this Cypher file instead.")
@click.option("--seed", default=0, show_default=True, help="Seed of the generated dataset.")
@click.option("--sample", default=100, show_default=True, type=click.IntRange(min=0),
              help="Entities validate compares one by one.")
@click.option("--app-tests", help="Command run against green through the proxy "
              "(BOLTPROXY_URI, NEO4J_USER, NEO4J_PASSWORD set).")
@click.option("--replay", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Capture or Neo4j query log to replay on both with boltproxy replay.")
@click.option("--replay-mode", type=click.Choice(["reads", "all"]), default="reads",
              show_default=True, help="reads: writes are only compiled on green.")
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where exports, the snapshot and the reports go "
              "(default .boltproxy/pipeline/<time>).")
@click.option("--keep", is_flag=True, help="Leave servers and files in place at the end.")
@click.option("--pause-before", type=click.Choice(STEP_NAMES[1:]),
              help="Wait for Enter before this step (to inspect or tamper).")
def pipeline(
    use_compose: bool, compose_file: Path | None, blue_uri: str | None, green_uri: str | None,
    user: str | None, password: str | None, engine: str | None, size: int,
    dataset: Path | None, seed: int, sample: int, app_tests: str | None, replay: Path | None,
    replay_mode: str, work_dir: Path | None, keep: bool, pause_before: str | None,
) -> None:  # fmt: skip
    """Test a migration end to end: start both versions, populate the current one,
    snapshot the target, export, import, validate, check compatibility, clean up.

    Exits 0 only when every step passed; writes report.md and report.html.
    """
    if use_compose and (blue_uri or green_uri):
        raise click.UsageError("--compose and --blue/--green exclude each other")
    if bool(blue_uri) != bool(green_uri):
        raise click.UsageError("--blue and --green go together")
    if size and size < 3 and dataset is None:
        raise click.UsageError("--size must be 0 or at least 3")
    mode: Mode = "compose" if use_compose else "external" if blue_uri else "sandbox"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    options = Options(
        mode=mode, work_dir=work_dir or Path(".boltproxy/pipeline") / stamp, size=size,
        dataset=dataset, seed=seed, blue_uri=blue_uri, green_uri=green_uri, user=user,
        password=password, engine=engine, compose_file=compose_file, app_tests=app_tests,
        replay=replay, replay_mode=replay_mode, keep=keep, sample=sample, pause_before=pause_before,
    )  # fmt: skip
    code, _ = run(options)
    sys.exit(code)
