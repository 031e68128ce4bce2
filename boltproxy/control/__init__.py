"""Routing control: the one place that decides which backend a session uses."""
