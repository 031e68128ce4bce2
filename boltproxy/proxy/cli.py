"""``boltproxy serve``."""

from __future__ import annotations

import click


@click.command()
def serve() -> None:
    """Run the proxy."""
    raise click.ClickException("not built yet")
