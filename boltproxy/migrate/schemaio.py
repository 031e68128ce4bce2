"""Reading and applying schema through the dialect layer, when it is installed.

The dialect layer (``dialect.py``/``schema.py``) is developed separately; the data
path works without it (exporting no schema, applying none) so that data can move
even where a server's schema cannot be introspected.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import neo4j

log = logging.getLogger(__name__)


def _modules() -> tuple[Any, Any] | None:
    try:
        dialect = importlib.import_module("boltproxy.migrate.dialect")
        schema = importlib.import_module("boltproxy.migrate.schema")
    except ImportError:
        return None
    return dialect, schema


async def fetch_schema(driver: neo4j.AsyncDriver, database: str | None) -> dict[str, Any] | None:
    """The source's schema as a dict (``Schema.to_dict``), or None without a dialect layer."""
    modules = _modules()
    if modules is None:
        log.warning("no dialect layer: the export carries no schema")
        return None
    dialect_module, _ = modules
    dialect = await dialect_module.detect_dialect(driver, database)
    schema = await dialect.fetch_schema(driver, database)
    result: dict[str, Any] = schema.to_dict()
    return result


async def apply_schema(
    driver: neo4j.AsyncDriver, database: str | None, schema: dict[str, Any] | None
) -> bool:
    """Create the schema's missing indexes and constraints and wait until they are online."""
    if not schema:
        return False
    modules = _modules()
    if modules is None:
        log.warning("no dialect layer: the schema in the export is not applied")
        return False
    dialect_module, schema_module = modules
    dialect = await dialect_module.detect_dialect(driver, database)
    await dialect.apply_schema(driver, database, schema_module.Schema.from_dict(schema))
    return True
