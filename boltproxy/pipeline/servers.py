"""Step 1: both versions running — the sandbox, Docker Compose, or servers given by URI."""

from __future__ import annotations

import secrets
from pathlib import Path

from boltproxy.pipeline import compose
from boltproxy.pipeline.connect import identify
from boltproxy.pipeline.model import Options, Server, Servers, StepFailed
from boltproxy.sandbox import manager
from boltproxy.sandbox.errors import SandboxError
from boltproxy.sandbox.ports import free_port


def start(options: Options, notes: list[str]) -> Servers:
    if options.mode == "external":
        servers = _external(options)
    elif options.mode == "compose":
        servers = _compose(options, notes)
    else:
        servers = _sandbox(options, notes)
    try:
        for server in (servers.blue, servers.green):
            identify(server)
    except StepFailed:
        # Started but unusable: stop what we started, or it outlives the run.
        if servers.stop is not None:
            notes.append(servers.stop())
        raise
    return servers


def _external(options: Options) -> Servers:
    if not options.blue_uri or not options.green_uri:
        raise StepFailed("--blue and --green go together: give both URIs")
    return Servers(
        Server("blue", options.blue_uri, options.user, options.password),
        Server("green", options.green_uri, options.user, options.password),
    )


def _sandbox(options: Options, notes: list[str]) -> Servers:
    directory = (options.work_dir / "sandbox").resolve()
    up = manager.UpOptions(
        engine=options.engine,
        user=options.user,
        password=options.password,
        proxy_port=free_port(),
    )
    try:
        result = manager.up(directory, up)
    except SandboxError as exc:
        raise StepFailed(f"the sandbox did not start: {exc}") from None
    notes.extend(result.notes)
    user, password = result.credentials or (None, None)
    by_name = {b.name: b for b in result.state.backends}

    def stop() -> str:
        manager.down(directory, wipe=True)
        return f"sandbox in {_show(directory)} stopped and its data deleted"

    return Servers(
        Server("blue", by_name["blue"].uri, user, password),
        Server("green", by_name["green"].uri, user, password),
        stop=stop,
    )


def _compose(options: Options, notes: list[str]) -> Servers:
    user = options.user or "neo4j"
    # The images take NEO4J_AUTH at first start; Neo4j wants 8 characters or more.
    password = options.password or secrets.token_urlsafe(12)
    project = compose.Compose(options.compose_file or compose.DEFAULT_FILE, password)
    notes.append(f"docker compose {project.check()}")
    try:
        project.up()
    except StepFailed:
        # Half-started containers and their volumes would block the next run.
        project.down()
        raise
    return Servers(
        Server("blue", f"bolt://127.0.0.1:{compose.port('CURRENT_BOLT_PORT')}", user, password),
        Server("green", f"bolt://127.0.0.1:{compose.port('NEXT_BOLT_PORT')}", user, password),
        stop=project.down,
        proxy_uri=f"bolt://127.0.0.1:{compose.port('BOLTPROXY_BOLT_PORT')}",
    )


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
