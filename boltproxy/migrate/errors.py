"""Migrator failures, each with the exit code the CLI reports for it.

Exit codes (also listed in ``boltproxy migrate --help``):
0 success · 1 differences found (a check failed, relationships skipped) · 2 bad usage ·
3 server unreachable · 4 credentials refused · 5 bad export directory (foreign,
corrupt, unfinished, unknown version, unwritable) · 6 target not empty (refused) ·
7 internal error (a server rejected a request, or a bug).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # differences found: the operation ran, the result is not what was asked
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_BAD_EXPORT = 5
EXIT_TARGET_NOT_EMPTY = 6
EXIT_INTERNAL = 7


class MigrateError(Exception):
    """A failure with one clear message for the operator."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n{self.hint}"


class Differences(MigrateError):
    """The work was done but the result differs from what was asked (data not moved)."""

    exit_code = EXIT_FAILED


class UsageError(MigrateError):
    exit_code = EXIT_USAGE


class ServerUnreachable(MigrateError):
    exit_code = EXIT_UNREACHABLE


class ReadStalled(ServerUnreachable):
    """A read that got no complete answer in time (the server is there but stuck)."""


class AuthenticationFailed(MigrateError):
    exit_code = EXIT_AUTH


class BadExport(MigrateError):
    exit_code = EXIT_BAD_EXPORT


class TargetNotEmpty(MigrateError):
    exit_code = EXIT_TARGET_NOT_EMPTY
