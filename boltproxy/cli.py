"""The ``boltproxy`` command line."""

from __future__ import annotations

import click

from boltproxy import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="boltproxy")
def main() -> None:
    """Bolt-aware proxy and migrator for testable, reversible Neo4j upgrades."""


def _register() -> None:
    # Each area owns its own click group; importing them here keeps this file
    # free of their logic.
    from boltproxy.control.cli import COMMANDS as control_commands
    from boltproxy.migrate.cli import migrate
    from boltproxy.pipeline.bench_cli import bench
    from boltproxy.pipeline.cli import pipeline
    from boltproxy.proxy.cli import serve
    from boltproxy.sandbox.cli import sandbox
    from boltproxy.shadow.cli import replay_command, report_command

    main.add_command(serve)
    main.add_command(sandbox)
    main.add_command(migrate)
    main.add_command(report_command)
    main.add_command(replay_command)
    for command in control_commands:
        main.add_command(command)
    main.add_command(pipeline)
    main.add_command(bench)


_register()
