"""boltproxy: a Bolt-aware proxy and migrator for Neo4j upgrades."""

__version__ = "0.1.0"
