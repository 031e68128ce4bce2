"""Traffic control's admin routes: status, flip, rollback, weight, drain, shadow, audit.

Reading is open to whoever reaches the admin listener; every change needs
``Authorization: Bearer <[admin] token>``. Without a configured token changes
are refused outright (and the listener stays on loopback, see ``admin``).

Answers are JSON. A change that was made is 200 with ``{"result": "ok", ...}``;
a refusal carries ``{"result": "refused" | "unauthorized" | "failed", "error": ...}``
with 400 (malformed request), 401 (missing or wrong token), 403 (no token
configured), 409 (the change is not possible now) or 503 (the store failed).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from boltproxy.control.audit import token_id
from boltproxy.control.page import render_page
from boltproxy.control.plane import ControlPlane, Outcome
from boltproxy.control.state import Refused
from boltproxy.control.store import ControlStoreError

# The shadow settings in force here (secrets masked).
ShadowGet = Callable[[], Awaitable[dict[str, Any]]]
# (overrides in the freshest control state, a POST /shadow body) -> the overrides
# to store, checked against this proxy's configuration; ValueError refuses. Every
# proxy applies stored overrides when its router adopts the state.
ShadowSet = Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class ShapeMatch:
    """How often the candidate's results matched the primary's, for one query shape."""

    shape: str
    matched: int
    compared: int


ShadowRates = Callable[[], Sequence[ShapeMatch]]


class MemoryShadowSettings:
    """Shadow settings kept as given, until the shadow area supplies its own hooks."""

    def __init__(self, control: ControlPlane) -> None:
        self._control = control

    async def get(self) -> dict[str, Any]:
        return dict(self._control.router.state.shadow)

    def revise(self, overrides: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
        return {**overrides, **changes}


def no_shapes() -> Sequence[ShapeMatch]:
    return ()


@dataclass(frozen=True, slots=True)
class AdminHooks:
    """What other areas plug into the admin API."""

    get_shadow: ShadowGet
    set_shadow: ShadowSet
    shadow_rates: ShadowRates = no_shapes

    @classmethod
    def defaults(cls, control: ControlPlane) -> AdminHooks:
        memory = MemoryShadowSettings(control)
        return cls(memory.get, memory.revise)


# Audit entries hold what was asked; an absurd request is refused before it is logged.
_MAX_FIELDS = 32
_MAX_AUDIT_LIMIT = 1000


def _refusal(status: int, result: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"result": result, "error": message}, status=status, headers=headers)


class TrafficApi:
    def __init__(self, control: ControlPlane, token: str | None, hooks: AdminHooks) -> None:
        self.control = control
        self._token = token
        self._token_id = token_id(token) if token else None
        self.hooks = hooks

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.page)
        app.router.add_get("/status", self.status)
        app.router.add_get("/audit", self.audit)
        app.router.add_get("/shadow", self.get_shadow)
        app.router.add_post("/shadow", self.set_shadow)
        app.router.add_post("/flip", self.flip)
        app.router.add_post("/rollback", self.rollback)
        app.router.add_post("/weight", self.weight)
        app.router.add_post("/drain", self.drain)

    # --- authorisation --------------------------------------------------------------

    async def _authorize(self, request: web.Request, action: str) -> str | web.Response:
        """The caller's audit name, or the refusal to send back (already audited)."""
        remote = request.remote or "unknown"
        if self._token is None:
            message = (
                "changes are disabled: no admin token is configured ([admin] token or"
                " BOLTPROXY_ADMIN__TOKEN)"
            )
            await self.control.record(remote, action, "unauthorized", message, {})
            return _refusal(403, "unauthorized", message)
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        # Constant-time comparison: the answer's timing must not reveal the token.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), self._token.encode()
        ):
            message = "missing or wrong admin token (send Authorization: Bearer <token>)"
            await self.control.record(remote, action, "unauthorized", message, {})
            return _refusal(401, "unauthorized", message, **{"WWW-Authenticate": "Bearer"})
        return f"{self._token_id}@{remote}"

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(
                text='{"result": "refused", "error": "the request body is not JSON"}',
                content_type="application/json",
            ) from None
        if not isinstance(body, dict) or len(body) > _MAX_FIELDS:
            raise web.HTTPBadRequest(
                text='{"result": "refused", "error": "the request body must be a small JSON'
                ' object"}',
                content_type="application/json",
            )
        return body

    async def _run(self, change: Awaitable[Outcome]) -> web.Response:
        try:
            outcome = await change
        except Refused as exc:
            return _refusal(409, "refused", str(exc))
        except ControlStoreError as exc:
            return _refusal(503, "failed", str(exc))
        return web.json_response({**outcome.to_json(), "status": self.control.status()})

    # --- reading --------------------------------------------------------------------

    async def _status(self) -> dict[str, Any]:
        report = self.control.status()
        report["shadow"].update(
            settings=await self.hooks.get_shadow(),
            shapes=[asdict(s) for s in self.hooks.shadow_rates()],
        )
        return report

    async def status(self, _request: web.Request) -> web.Response:
        return web.json_response(await self._status())

    async def audit(self, request: web.Request) -> web.Response:
        raw = request.query.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= _MAX_AUDIT_LIMIT:
            return _refusal(400, "refused", f"limit must be from 1 to {_MAX_AUDIT_LIMIT}")
        try:
            entries = await self.control.recent(int(raw))
        except ControlStoreError as exc:
            return _refusal(503, "failed", str(exc))
        return web.json_response({"entries": [entry.to_json() for entry in entries]})

    async def page(self, _request: web.Request) -> web.Response:
        try:
            entries = [entry.to_json() for entry in await self.control.recent(20)]
        except ControlStoreError:
            entries = []  # the page still shows the routing state; its script retries
        return render_page(await self._status(), entries)

    async def get_shadow(self, _request: web.Request) -> web.Response:
        return web.json_response(await self.hooks.get_shadow())

    # --- changes --------------------------------------------------------------------

    async def flip(self, request: web.Request) -> web.Response:
        who = await self._authorize(request, "flip")
        if isinstance(who, web.Response):
            return who
        body = await self._body(request)
        max_wait = body.get("max_wait")
        if max_wait is not None and (
            isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or max_wait < 0
        ):
            return _refusal(400, "refused", "max_wait must be a number of seconds, 0 or more")
        to = body.get("to")
        if to is not None and to not in self.control.router.state.backends:
            return _refusal(400, "refused", f"to must name a configured backend, not {to!r}")
        return await self._run(self.control.flip(who, max_wait, to))

    async def rollback(self, request: web.Request) -> web.Response:
        who = await self._authorize(request, "rollback")
        if isinstance(who, web.Response):
            return who
        return await self._run(self.control.rollback(who))

    async def weight(self, request: web.Request) -> web.Response:
        who = await self._authorize(request, "weight")
        if isinstance(who, web.Response):
            return who
        body = await self._body(request)
        if not all(isinstance(k, str) and len(k) <= 32 for k in body):
            return _refusal(400, "refused", "name backends and their weights, like {'green': 10}")
        return await self._run(self.control.weight(who, body))

    async def drain(self, request: web.Request) -> web.Response:
        who = await self._authorize(request, "drain")
        if isinstance(who, web.Response):
            return who
        body = await self._body(request)
        backend, drained = body.get("backend"), body.get("drained", True)
        if not isinstance(backend, str) or len(backend) > 32 or not isinstance(drained, bool):
            return _refusal(
                400, "refused", 'give {"backend": "<name>"} and optionally "drained": false'
            )
        return await self._run(self.control.drain(who, backend, drained))

    async def set_shadow(self, request: web.Request) -> web.Response:
        who = await self._authorize(request, "shadow")
        if isinstance(who, web.Response):
            return who
        changes = await self._body(request)

        def revise(overrides: Mapping[str, Any]) -> Mapping[str, Any]:
            return self.hooks.set_shadow(overrides, changes)

        # Through the control state, like a flip: every worker and replica applies it.
        try:
            outcome = await self.control.set_shadow(who, revise, changes)
        except Refused as exc:
            return _refusal(409, "refused", str(exc))
        except ControlStoreError as exc:
            return _refusal(503, "failed", str(exc))
        return web.json_response({**outcome.to_json(), "shadow": await self.hooks.get_shadow()})
