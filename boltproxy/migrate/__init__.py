"""Companion migrator: export, import, copy, schema diff and validation."""
