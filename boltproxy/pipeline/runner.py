"""The pipeline: seven steps and the clean-up, stopping at the first failure.

Every step prints one line saying what it did (and a progress bar while it runs
long); the results feed the summary table and the Markdown/HTML report.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import neo4j
from rich.console import Console
from rich.markup import escape

from boltproxy.pipeline import compat, dataset, migrator, servers
from boltproxy.pipeline.connect import counts, open_driver
from boltproxy.pipeline.model import (
    STEP_NAMES,
    Clock,
    Options,
    Servers,
    StepFailed,
    StepResult,
)
from boltproxy.pipeline.progress import bar

# Called before each step with its name; tests use it to tamper between steps.
BeforeStep = Callable[[str, Servers | None], None]
# schema-diff areas that must match; procedures and functions differ by design
# between 5.26 and 2025.x/2026.x, and tokens are checked by validate.
SCHEMA_AREAS = ("index", "constraint")
TABLE_ROWS = 50


class Outcome:
    def __init__(self, summary: str) -> None:
        self.summary = summary
        self.details: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.status: str = "passed"


class Pipeline:
    def __init__(
        self, options: Options, console: Console, before_step: BeforeStep | None = None
    ) -> None:
        self.options = options
        self.console = console
        self.before_step = before_step
        self.servers: Servers | None = None
        self.results: list[StepResult] = []
        self.entities = 0  # in blue after populate: the export's expected total

    # --- running ------------------------------------------------------------------

    def run(self) -> list[StepResult]:
        self.options.work_dir.mkdir(parents=True, exist_ok=True)
        steps: dict[str, Callable[[], Outcome]] = {
            "start": self.start,
            "populate": self.populate,
            "snapshot": self.snapshot,
            "export": self.export,
            "import": self.import_,
            "validate": self.validate,
            "compatibility": self.compatibility,
        }
        failed: str | None = None
        for number, name in enumerate(STEP_NAMES[:-1], 1):
            if failed is not None:
                self.results.append(
                    StepResult(name, "skipped", f"not run: {failed} failed", 0.0)
                )
                continue
            if not self._step(number, name, steps[name]):
                failed = name
        self._step(len(STEP_NAMES), "cleanup", self.cleanup)
        return self.results

    def _step(self, number: int, name: str, work: Callable[[], Outcome]) -> bool:
        self._pause(name)
        self.console.print(f"[bold]{number}/{len(STEP_NAMES)} {name}[/]")
        clock = Clock()
        try:
            outcome = work()
        except StepFailed as exc:
            result = StepResult(name, "failed", str(exc), clock.seconds)
        except neo4j.exceptions.Neo4jError as exc:
            # A server refused something the step asked: its code and message say what.
            message = f"the server answered {exc.code}: {exc.message}"
            result = StepResult(name, "failed", message, clock.seconds)
        except (neo4j.exceptions.DriverError, OSError) as exc:
            result = StepResult(
                name, "failed", f"connection problem: {type(exc).__name__}: {exc}", clock.seconds
            )
        except KeyboardInterrupt:
            self.results.append(StepResult(name, "failed", "interrupted", clock.seconds))
            raise
        else:
            result = StepResult(
                name, outcome.status, outcome.summary, clock.seconds,  # type: ignore[arg-type]
                outcome.details, outcome.tables,
            )  # fmt: skip
        self.results.append(result)
        mark = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]-[/]"}
        self.console.print(
            f"  {mark[result.status]} {escape(result.summary)} [dim]({result.seconds:.1f} s)[/]"
        )
        for line in result.details:
            self.console.print(f"    {escape(line)}")
        if result.status == "failed":
            self.console.print(f"[red]  {name} failed: the pipeline stops here.[/]")
        return result.status != "failed"

    def _pause(self, name: str) -> None:
        if self.before_step is not None:
            self.before_step(name, self.servers)
        if self.options.pause_before == name:
            self.console.print(f"[yellow]paused before {name}: press Enter to go on[/]")
            input()

    def _need_servers(self) -> Servers:
        if self.servers is None:
            raise StepFailed("the servers are not running")
        return self.servers

    # --- steps --------------------------------------------------------------------

    def start(self) -> Outcome:
        notes: list[str] = []
        self.servers = servers.start(self.options, notes)
        blue, green = self.servers.blue, self.servers.green
        how = {"sandbox": "sandbox", "compose": "Docker Compose", "external": "given servers"}
        outcome = Outcome(
            f"current {blue.version} at {blue.uri}, next {green.version} at {green.uri} "
            f"({how[self.options.mode]})"
        )
        outcome.details = notes
        return outcome

    def populate(self) -> Outcome:
        blue = self._need_servers().blue
        with open_driver(blue) as driver:
            nodes, rels = counts(driver)
            if self.options.dataset is None and self.options.size == 0:
                self.entities = nodes + rels
                return Outcome(f"kept blue's data: {nodes} nodes, {rels} relationships")
            if nodes or rels:
                raise StepFailed(
                    f"blue already holds {nodes} nodes and {rels} relationships: use --size 0 "
                    "to migrate what is there, or start from an empty server"
                )
            if self.options.dataset is not None:
                summary = self._load_file(driver, self.options.dataset)
            else:
                summary = self._generate(driver, blue.engine)
            nodes, rels = counts(driver)
        self.entities = nodes + rels
        return Outcome(f"{summary}: blue holds {nodes} nodes, {rels} relationships")

    def _load_file(self, driver: neo4j.Driver, path: Path) -> str:
        try:
            statements = dataset.split_cypher(path.read_text())
        except OSError as exc:
            raise StepFailed(f"cannot read {path}: {exc.strerror}") from None
        done = 0
        with bar(self.console, f"running {path.name}", len(statements)) as set_done:

            def advance(n: int) -> None:
                nonlocal done
                done += n
                set_done(done)

            try:
                dataset.run_statements(driver, statements, advance)
            except neo4j.exceptions.Neo4jError as exc:
                raise StepFailed(
                    f"{path.name}: statement {done + 1} failed: {exc.code}: {exc.message}"
                ) from None
        return f"{len(statements)} statements of {path.name} run"

    def _generate(self, driver: neo4j.Driver, engine: str) -> str:
        plan = dataset.Plan.for_size(self.options.size)
        falkordb = engine == "falkordb"
        schema = dataset.schema(engine)
        dataset.run_statements(driver, list(schema), lambda n: None)
        written = 0
        with bar(self.console, "writing the dataset", plan.total) as set_done:
            for batch in dataset.batches(
                plan, seed=self.options.seed, temporals=not falkordb,
                # FalkorDB prints parameters into the query text and fails past about
                # 3 KB of it: a few rows per batch there.
                batch_size=8 if falkordb else 2000,
            ):  # fmt: skip
                dataset.write_batch(driver, batch)
                written += len(batch.rows)
                set_done(written)
        kinds = (f"{plan.people} people, {plan.companies} companies, {plan.works_at} WORKS_AT, "
                 f"{plan.knows} KNOWS")  # fmt: skip
        return f"generated {plan.total} entities ({kinds}) and {len(schema)} indexes/constraints"

    def _migrate_with_dir_progress(
        self, label: str, args: list[str], directory: Path, **sides: object
    ) -> dict[str, object]:
        with bar(self.console, label, self.entities or None) as set_done:
            outcome = migrator.run(
                args, while_running=lambda: set_done(migrator.exported_entities(directory)),
                **sides,  # type: ignore[arg-type]
            )  # fmt: skip
        return migrator.require(outcome, f"migrate {args[0]}")

    def snapshot(self) -> Outcome:
        green = self._need_servers().green
        out = self.options.work_dir / "snapshot-green"
        data = self._migrate_with_dir_progress(
            "snapshot of green", ["snapshot", "--source", green.uri, "--out", str(out)], out,
            server=green,
        )  # fmt: skip
        return Outcome(
            f"green's state before the import saved to {out} "
            f"({data.get('nodes', 0)} nodes, {data.get('relationships', 0)} relationships)"
        )

    def export(self) -> Outcome:
        blue = self._need_servers().blue
        out = self.options.work_dir / "export"
        data = self._migrate_with_dir_progress(
            "exporting blue", ["export", "--source", blue.uri, "--out", str(out)], out, server=blue
        )
        return Outcome(
            f"{data.get('nodes', 0)} nodes and {data.get('relationships', 0)} relationships "
            f"exported to {out}"
        )

    def import_(self) -> Outcome:
        green = self._need_servers().green
        directory = self.options.work_dir / "export"
        args = ["import", "--target", green.uri, str(directory)]
        # Neo4j counts from its count store; FalkorDB gets no extra connections.
        poll = open_driver(green) if green.engine == "neo4j" else None
        try:
            with bar(self.console, "importing into green", self.entities or None) as set_done:

                def tick() -> None:
                    if poll is not None:
                        set_done(sum(counts(poll)))

                outcome = migrator.run(args, server=green, while_running=tick)
        finally:
            if poll is not None:
                poll.close()
        data = migrator.require(outcome, "migrate import")
        return Outcome(
            f"{data.get('nodes', 0)} nodes and {data.get('relationships', 0)} relationships "
            f"imported into green"
        )

    def validate(self) -> Outcome:
        found = self._need_servers()
        sides = ["--blue", found.blue.uri, "--green", found.green.uri]
        report = self.options.work_dir / "validate.md"
        with bar(self.console, "validating", None):
            checked = migrator.run(
                ["validate", *sides, "--sample", str(self.options.sample), "--report", str(report)],
                blue=found.blue, green=found.green,
            )  # fmt: skip
            diffed = migrator.run(
                ["schema-diff", *sides, "--report", str(self.options.work_dir / "schema-diff.md")],
                blue=found.blue, green=found.green,
            )  # fmt: skip
        # Exit 1 with a JSON answer means "differences found": reported below.
        # Anything else (unreachable, refused) is the migrator's own error.
        if checked.code != 0 and "checks" not in checked.data:
            migrator.require(checked, "migrate validate")
        if diffed.code != 0 and "differences" not in diffed.data:
            migrator.require(diffed, "migrate schema-diff")
        checks = [c for c in checked.data.get("checks", []) if isinstance(c, dict)]
        failing = [c for c in checks if not c.get("passed")]
        # "notes" (names, procedures, functions) never fail schema-diff; older migrators
        # put everything under "differences", so the area decides here too.
        listed = [*diffed.data.get("differences", []), *diffed.data.get("notes", [])]
        differences = [d for d in listed if isinstance(d, dict)]
        schema = [d for d in differences if d.get("area") in SCHEMA_AREAS]
        outcome_ = Outcome(
            f"{len(checks) - len(failing)}/{len(checks)} validation checks passed "
            f"({checked.data.get('entities_read', 0)} entities read); "
            f"{len(schema)} index/constraint differences, "
            f"{len(differences) - len(schema)} expected catalogue differences"
        )
        outcome_.tables["validation checks"] = [["check", "result", "blue", "green", "detail"]] + [
            [str(c.get("check")), "pass" if c.get("passed") else "FAIL", str(c.get("blue") or ""),
             str(c.get("green") or ""), "; ".join([str(c.get("detail") or ""),
                                                   *map(str, c.get("examples") or [])]).strip("; ")]
            for c in checks
        ]  # fmt: skip
        if differences:
            outcome_.tables["schema-diff"] = [["area", "item", "where", "detail"]] + [
                [str(d.get(k, "")) for k in ("area", "item", "where", "detail")]
                for d in differences[:TABLE_ROWS]
            ]
            if len(differences) > TABLE_ROWS:
                outcome_.details.append(f"schema-diff: {len(differences)} differences in all")
        if failing or schema:
            names = ", ".join(str(c.get("check")) for c in failing)
            problems = [f"failing checks: {names}"] if failing else []
            problems += [f"{len(schema)} index/constraint differences"] if schema else []
            outcome_.status = "failed"
            outcome_.summary = (
                f"green does not hold the same graph as blue: {'; '.join(problems)} "
                f"(see {report})"
            )
        return outcome_

    def compatibility(self) -> Outcome:
        found = self._need_servers()
        details: list[str] = []
        with compat.proxy(found, self.options.work_dir) as uri:
            details.append(compat.smoke(uri, found.green))
            if self.options.replay is not None:
                with bar(self.console, f"replaying {self.options.replay.name}", None):
                    code, report, tail = compat.replay(
                        self.options.replay, found, self.options.replay_mode, self.options.work_dir
                    )
                if code == compat.REPLAY_DIFFERENT:
                    raise StepFailed(
                        f"replaying {self.options.replay} found compatibility differences "
                        f"between blue and green ({compat.replay_summary(report)}): see {report}"
                    )
                if code != compat.REPLAY_SAME:
                    raise StepFailed(f"boltproxy replay failed (exit {code}): {tail}")
                details.append(
                    f"replay of {self.options.replay}: {compat.replay_summary(report)} ({report})"
                )
            else:
                details.append("no --replay capture or query log given")
            if self.options.app_tests:
                with bar(self.console, "running the app tests", None):
                    code, tail, log = compat.run_app_tests(
                        self.options.app_tests, uri, found.green, self.options.work_dir
                    )
                if code != 0:
                    last = tail.strip().splitlines()[-1:] or ["(no output)"]
                    raise StepFailed(
                        f"the app tests failed against green through the proxy (exit {code}): "
                        f"{last[0]} — full output in {log}"
                    )
                details.append(f"app tests passed against green through {uri} (output in {log})")
            else:
                details.append("no --app-tests command given")
        outcome = Outcome(f"green answers through the proxy at {uri}")
        outcome.details = details
        return outcome

    def cleanup(self) -> Outcome:
        export = self.options.work_dir / "export"
        if self.options.keep:
            outcome = Outcome("kept everything (--keep)")
            if self.servers is not None:
                outcome.details = [
                    f"blue {self.servers.blue.uri}, green {self.servers.green.uri} still running",
                    *self._stop_hint(),
                ]
            return outcome
        done: list[str] = []
        if export.exists():
            shutil.rmtree(export, ignore_errors=True)
            done.append("export directory removed")
        if self.servers is not None and self.servers.stop is not None:
            done.append(self.servers.stop())
        elif self.servers is not None:
            done.append("the given servers keep running with their data (not ours to stop)")
        outcome = Outcome("; ".join(done) or "nothing to clean up")
        outcome.details = [f"kept: green's snapshot and the reports in {self.options.work_dir}"]
        return outcome

    def _stop_hint(self) -> list[str]:
        if self.options.mode == "sandbox":
            return [f"stop them: boltproxy sandbox down --dir {self.options.work_dir / 'sandbox'} "
                    "--wipe"]  # fmt: skip
        if self.options.mode == "compose":
            from boltproxy.pipeline.compose import DEFAULT_FILE, PROJECT

            file = self.options.compose_file or DEFAULT_FILE
            return [f"stop them: docker compose -f {file} -p {PROJECT} down --volumes"]
        return []
