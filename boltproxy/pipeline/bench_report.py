"""The benchmark's table (terminal, Markdown) and its HTML report with charts."""

from __future__ import annotations

import html

from boltproxy.pipeline.bench import BenchResult
from boltproxy.pipeline.report import page
from boltproxy.pipeline.svg import grouped_bars

HEADER = ["shape", "kind", "p50 blue", "p50 green", "p95 blue", "p95 green", "p99 blue",
          "p99 green", "ops/s blue", "ops/s green", "green/blue ops/s"]  # fmt: skip


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def _ratio(green: float, blue: float) -> str:
    return f"{green / blue:.2f}" if blue else "n/a"


def rows(result: BenchResult) -> list[list[str]]:
    out = []
    for name, b in result.blue.shapes.items():
        g = result.green.shapes[name]
        out.append([
            name, b.kind,
            _ms(b.percentile(50)), _ms(g.percentile(50)),
            _ms(b.percentile(95)), _ms(g.percentile(95)),
            _ms(b.percentile(99)), _ms(g.percentile(99)),
            f"{b.throughput:,.0f}", f"{g.throughput:,.0f}", _ratio(g.throughput, b.throughput),
        ])  # fmt: skip
    return out


def errors(result: BenchResult) -> list[str]:
    return [
        f"{side.server.name} {name}: {stats.errors} errors, last {stats.last_error}"
        for side in (result.blue, result.green)
        for name, stats in side.shapes.items()
        if stats.errors
    ]


def memory_rows(result: BenchResult) -> list[list[str]]:
    keys = list(dict.fromkeys([*result.blue.memory, *result.green.memory]))
    return [[k, result.blue.memory.get(k, "n/a"), result.green.memory.get(k, "n/a")] for k in keys]


def _servers(result: BenchResult) -> str:
    b, g = result.blue.server, result.green.server
    return f"blue {b.version} ({b.uri}) and green {g.version} ({g.uri})"


def markdown(result: BenchResult) -> str:
    lines = [
        "# Benchmark", "",
        f"{_servers(result)}; {result.duration:.0f} s of measurement, "
        f"{result.seconds:.0f} s in all. Ratio above 1: green is faster.", "",
        "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER),
    ]  # fmt: skip
    lines += ["| " + " | ".join(row) + " |" for row in rows(result)]
    lines += ["", "| memory | blue | green |", "|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in memory_rows(result)]
    lines += [f"- {line}" for line in errors(result)]
    return "\n".join(lines) + "\n"


def _table(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"


def html_report(result: BenchResult) -> str:
    shapes = list(result.blue.shapes)

    def series(metric: str) -> list[tuple[str, dict[str, float | None]]]:
        out: list[tuple[str, dict[str, float | None]]] = []
        for name in shapes:
            pair: dict[str, float | None] = {}
            for side in (result.blue, result.green):
                stats = side.shapes[name]
                pair[side.server.name] = (
                    stats.throughput if metric == "ops" else stats.percentile(float(metric))
                )
            out.append((name, pair))
        return out

    body = [
        "<h1>Benchmark</h1>",
        f"<p>{html.escape(_servers(result))}; {result.duration:.0f} s of measurement. "
        "Ratio above 1: green is faster.</p>",
        _table(HEADER, rows(result)),
        grouped_bars("p95 latency per query shape", "ms", series("95")),
        grouped_bars("p50 latency per query shape", "ms", series("50")),
        grouped_bars("throughput per query shape (one client)", "ops/s", series("ops")),
        "<h2>Server memory</h2>",
        _table(["", "blue", "green"], memory_rows(result)),
    ]
    if errors(result):
        body.append("<h2>Errors</h2><ul>" + "".join(
            f"<li>{html.escape(e)}</li>" for e in errors(result)) + "</ul>")  # fmt: skip
    return page("Benchmark", "\n".join(body))
