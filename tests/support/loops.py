"""Choose the event loop the integration suite runs on: asyncio's own, or uvloop.

Production runs the proxy on uvloop (``boltproxy.proxy.cli``), whose transports
differ from asyncio's in ways the relay has tripped on (error texts, socket
options). This plugin makes every loop the tests create come from the chosen
policy: the proxy's thread (``asyncio.new_event_loop()`` in tests/support/proxy.py),
fake servers run in threads, and pytest-asyncio's loops::

    .venv/bin/python -m pytest -p tests.support.loops --event-loop=uvloop tests/integration
"""

from __future__ import annotations

import asyncio

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--event-loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop for proxies, fake servers and async tests",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--event-loop") == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def pytest_report_header(config: pytest.Config) -> str:
    return f"event loop: {config.getoption('--event-loop')}"
