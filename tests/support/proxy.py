"""Run a real ProxyServer in a background thread, for sync clients and subprocesses;
stop a served one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from boltproxy.config import Settings, load_settings
from boltproxy.proxy.server import ProxyServer


def proxy_settings(primary_uri: str, *, green_uri: str | None = None, **sections: Any) -> Settings:
    timeouts = {"connect_timeout": 2, "handshake_timeout": 2, "probe_timeout": 2}
    backends = {"blue": {"uri": primary_uri, **timeouts}}
    if green_uri:
        backends["green"] = {"uri": green_uri, **timeouts}
    listen = {"host": "127.0.0.1", "port": 0, **sections.pop("listen", {})}
    admin = {"host": "127.0.0.1", "port": 0, **sections.pop("admin", {})}
    return load_settings(None, backends=backends, listen=listen, admin=admin, **sections)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop production runs (uvloop), unless BOLTPROXY_TEST_LOOP=asyncio asks for stdlib's."""
    if os.environ.get("BOLTPROXY_TEST_LOOP", "uvloop") == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class ThreadedProxy:
    """A proxy on its own event loop thread; ``uri`` is what clients use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = new_event_loop()
        self.server = ProxyServer(settings)
        self._thread = threading.Thread(target=self.loop.run_forever, name="proxy", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.call(self.server.start())

    def call(self, coro: Any, timeout: float = 60) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    def routing_uri(self) -> str:
        return f"neo4j://127.0.0.1:{self.port}"

    def stop(self) -> None:
        try:
            self.call(self.server.close(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@contextmanager
def running_proxy(settings: Settings) -> Iterator[ThreadedProxy]:
    proxy = ThreadedProxy(settings)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """Stop a ``boltproxy serve`` process: SIGTERM, then a kill if it outlives ``grace``."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
