"""``boltproxy migrate``."""

from __future__ import annotations

import click


@click.group()
def migrate() -> None:
    """Copy and validate graph data and schema between two servers."""
