"""``boltproxy status|flip|rollback|weight|drain``: the admin API from a shell.

Exit codes, for scripts: 0 done, 1 refused (or failed) by the proxy, 2 bad
usage, 3 admin API unreachable.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import aiohttp
import click

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

DEFAULT_URL = "http://127.0.0.1:7688"
# A request other than a flip gets an answer at once or not at all.
_TIMEOUT = 10.0

F = TypeVar("F", bound=Callable[..., Any])


def _api_options(command: F) -> F:
    command = click.option(
        "--json", "as_json", is_flag=True, help="Print the API's JSON answer instead of a summary."
    )(command)
    command = click.option(
        "--token",
        envvar="BOLTPROXY_ADMIN_TOKEN",
        show_envvar=True,
        help="Bearer token of the admin API (needed for changes).",
    )(command)
    command = click.option(
        "--admin-url",
        envvar="BOLTPROXY_ADMIN_URL",
        show_envvar=True,
        default=DEFAULT_URL,
        show_default=True,
        help="Base URL of the proxy's admin listener.",
    )(command)
    return command


class Unreachable(Exception):
    pass


async def _call(
    method: str, url: str, token: str | None, body: dict[str, Any] | None, seconds: float
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session,
            session.request(method, url, json=body, headers=headers) as response,
        ):
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise Unreachable(reason) from None
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"error": text.strip()[:200] or f"HTTP {status}"}


def _request(
    admin_url: str,
    path: str,
    token: str | None,
    body: dict[str, Any] | None = None,
    timeout: float = _TIMEOUT,
) -> tuple[int, Any]:
    parts = urlsplit(admin_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.UsageError(f"--admin-url must be an http(s) URL, not {admin_url!r}")
    url = admin_url.rstrip("/") + path
    method = "GET" if body is None else "POST"
    try:
        return asyncio.run(_call(method, url, token, body, timeout))
    except Unreachable as exc:
        click.echo(f"boltproxy: cannot reach the admin API at {admin_url}: {exc}", err=True)
        sys.exit(EXIT_UNREACHABLE)


def _finish(status: int, answer: Any, as_json: bool, summary: Callable[[Any], str]) -> NoReturn:
    if as_json:
        click.echo(json.dumps(answer, indent=2, sort_keys=True))
    if 200 <= status < 300:
        if not as_json:
            click.echo(summary(answer))
        sys.exit(0)
    if not as_json:
        error = answer.get("error") if isinstance(answer, dict) else None
        click.echo(f"boltproxy: refused (HTTP {status}): {error or answer}", err=True)
    sys.exit(EXIT_REFUSED)


def describe_status(status: dict[str, Any]) -> str:
    weights = ", ".join(f"{name} {status['weights'][name]}%" for name in status["backends"])
    guards = status["guards"]
    if not guards["enabled"]:
        watching = "disabled"
    elif guards["armed"]:
        watching = f"watching {', '.join(guards['guarded'])} against {guards['reference']}"
    else:
        watching = "not armed (nothing to roll back to)"
    lines = [
        f"primary:  {status['primary']}"
        + (f" (previous {status['previous']})" if status.get("previous") else ""),
        f"weights:  {weights}",
        f"drained:  {', '.join(status['drained']) or 'none'}",
        f"guards:   {watching}",
    ]
    if status["latched"]:
        lines.append(f"AUTO-ROLLBACK LATCHED: {status['latch_reason']}")
    lines.append(f"shadow:   {_describe_shadow(status.get('shadow') or {})}")
    lines.append(f"store:    {status['store']} (state version {status['version']})")
    return "\n".join(lines)


def _describe_shadow(shadow: dict[str, Any]) -> str:
    settings = shadow.get("settings") or {}
    changed = ", ".join(sorted(shadow.get("changed") or {}))
    parts = []
    if "mode" in settings and "sample_rate" in settings:
        parts.append(f"mode {settings['mode']}, sample rate {settings['sample_rate']:g}")
    parts.append(f"changed at run time: {changed}" if changed else "as configured")
    return "; ".join(parts)


def _changed(answer: Any) -> str:
    return str(answer.get("message", "done"))


@click.command()
@_api_options
def status(admin_url: str, token: str | None, as_json: bool) -> None:
    """Show the primary, weights, drains and guards."""
    _finish(*_request(admin_url, "/status", token), as_json, describe_status)


@click.command()
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0),
    help="Seconds to wait for the candidate to apply every mirrored write (proxy's default).",
)
@_api_options
def flip(admin_url: str, token: str | None, as_json: bool, max_wait: float | None) -> None:
    """Make the other backend primary for every new transaction."""
    body: dict[str, Any] = {} if max_wait is None else {"max_wait": max_wait}
    # The proxy may wait up to max_wait (its default is a few seconds) before answering.
    timeout = _TIMEOUT + (max_wait if max_wait is not None else 60.0)
    _finish(*_request(admin_url, "/flip", token, body, timeout), as_json, _changed)


@click.command()
@_api_options
def rollback(admin_url: str, token: str | None, as_json: bool) -> None:
    """Undo the last rollout or flip (and acknowledge an automatic rollback)."""
    _finish(*_request(admin_url, "/rollback", token, {}), as_json, _changed)


def _parse_weights(assignments: tuple[str, ...]) -> dict[str, int]:
    weights: dict[str, int] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise click.UsageError(f"expected BACKEND=PERCENT like green=10, not {item!r}")
        weights[name.strip()] = int(value)
    return weights


@click.command()
@click.argument("assignments", nargs=-1, required=True, metavar="BACKEND=PERCENT...")
@_api_options
def weight(admin_url: str, token: str | None, as_json: bool, assignments: tuple[str, ...]) -> None:
    """Send PERCENT of client connections to BACKEND (green=10; the other takes the rest)."""
    body = _parse_weights(assignments)
    _finish(*_request(admin_url, "/weight", token, dict(body)), as_json, _changed)


@click.command()
@click.argument("backend")
@click.option("--undo", is_flag=True, help="Give the backend traffic again.")
@_api_options
def drain(admin_url: str, token: str | None, as_json: bool, backend: str, undo: bool) -> None:
    """Stop giving BACKEND new transactions (open ones finish where they are)."""
    body = {"backend": backend, "drained": not undo}
    _finish(*_request(admin_url, "/drain", token, body), as_json, _changed)


COMMANDS = (status, flip, rollback, weight, drain)
