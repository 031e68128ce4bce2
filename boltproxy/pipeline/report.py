"""The pipeline's report: Markdown for the repository, HTML (one self-contained file) for people."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from boltproxy.pipeline.model import Options, StepResult

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:70em;
color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.6em 0 1.4em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.passed{color:#176b2c;font-weight:bold}.failed{color:#b00020;font-weight:bold}
.skipped{color:#8a6d00}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto}
"""


def verdict(results: list[StepResult]) -> str:
    return "PASSED" if all(r.status != "failed" for r in results) else "FAILED"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(results: list[StepResult], options: Options, title: str) -> str:
    total = sum(r.seconds for r in results)
    lines = [
        f"# {title}: {verdict(results)}",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, mode {options.mode}, "
        f"work directory `{options.work_dir}`, {total:.1f} s in all.",
        "",
        "| # | step | result | seconds | what it did |",
        "|---|---|---|---:|---|",
    ]
    for number, r in enumerate(results, 1):
        lines.append(f"| {number} | {r.name} | {r.status} | {r.seconds:.1f} | {_cell(r.summary)} |")
    for r in results:
        if not r.details and not r.tables:
            continue
        lines += ["", f"## {r.name}", ""]
        lines += [f"- {detail}" for detail in r.details]
        for name, rows in r.tables.items():
            lines += ["", f"### {name}", "", "| " + " | ".join(map(_cell, rows[0])) + " |",
                      "|" + "---|" * len(rows[0])]  # fmt: skip
            lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows[1:]]
    return "\n".join(lines) + "\n"


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str) -> str:
    """A complete HTML document with its style inline: it opens anywhere, offline."""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def html_report(results: list[StepResult], options: Options, title: str) -> str:
    result = verdict(results)
    total = sum(r.seconds for r in results)
    parts = [
        f"<h1>{html.escape(title)}: <span class=\"{result.lower()}\">{result}</span></h1>",
        f"<p>Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, mode {html.escape(options.mode)}, "
        f"work directory <code>{html.escape(str(options.work_dir))}</code>, "
        f"{total:.1f} s in all.</p>",
        "<table><thead><tr><th>#</th><th>step</th><th>result</th><th>seconds</th>"
        "<th>what it did</th></tr></thead><tbody>",
    ]
    for number, r in enumerate(results, 1):
        parts.append(
            f"<tr><td>{number}</td><td>{html.escape(r.name)}</td>"
            f"<td class=\"{r.status}\">{r.status}</td><td>{r.seconds:.1f}</td>"
            f"<td>{html.escape(r.summary)}</td></tr>"
        )
    parts.append("</tbody></table>")
    for r in results:
        if not r.details and not r.tables:
            continue
        parts.append(f"<h2>{html.escape(r.name)}</h2>")
        if r.details:
            items = "".join(f"<li>{html.escape(d)}</li>" for d in r.details)
            parts.append(f"<ul>{items}</ul>")
        for name, rows in r.tables.items():
            parts.append(f"<h3>{html.escape(name)}</h3>{_table(rows)}")
    return page(title, "\n".join(parts))
