"""``boltproxy sandbox``."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Local blue/green backends without Docker."""
