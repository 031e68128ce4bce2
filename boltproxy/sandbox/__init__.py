"""Local blue/green Bolt backends (FalkorDB) for trying boltproxy without Docker."""
