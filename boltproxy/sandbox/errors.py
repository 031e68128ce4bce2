"""The one error type of the sandbox: its message is the line the operator sees."""

from __future__ import annotations


class SandboxError(Exception):
    """A sandbox backend could not be started, found or stopped."""
