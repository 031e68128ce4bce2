"""Shadow traffic and result diffing (see ROADMAP item 3)."""
