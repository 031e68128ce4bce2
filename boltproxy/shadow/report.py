"""Reports over one or more diff stores: Markdown, JSON, or one self-contained HTML page.

A shape "differs" when any of its outcomes is a finding (see
``Outcome.is_difference``) or when the candidate's p95 latency exceeds the
configured multiple of the primary's (and by more than the floor). The exit
status of ``boltproxy report`` and ``boltproxy replay`` follows: 0 none, 4 some.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from boltproxy.shadow.compare import OutcomeKind
from boltproxy.shadow.store import ROLES, ShapeSummary

NO_DIFFERENCES = 0
DIFFERENCES = 4
ERROR = 1
_COLUMNS = [kind.value for kind in OutcomeKind]


@dataclass(frozen=True, slots=True)
class ShapeVerdict:
    shape: ShapeSummary
    slower: bool  # by p95 over the whole run

    @property
    def differs(self) -> bool:
        return self.shape.counted > 0 or self.slower


# A p95 of fewer answers than this says nothing about a version's speed.
MIN_LATENCY_SAMPLES = 20


def verdicts(
    shapes: dict[str, ShapeSummary], multiple: float = 2.0, floor: float = 0.005
) -> list[ShapeVerdict]:
    """Shapes with their verdict, differing ones first, then by traffic."""
    out = []
    for shape in shapes.values():
        primary = shape.percentiles("primary")["p95"]
        candidate = shape.percentiles("candidate")["p95"]
        samples = min(sum(shape.latency.get(role, {}).values()) for role in ROLES)
        slower = (
            samples >= MIN_LATENCY_SAMPLES
            and primary is not None
            and candidate is not None
            and candidate > multiple * primary
            and candidate - primary > floor
        )
        out.append(ShapeVerdict(shape, slower))
    return sorted(out, key=lambda v: (not v.differs, -v.shape.total, v.shape.text))


def exit_status(items: list[ShapeVerdict]) -> int:
    return DIFFERENCES if any(v.differs for v in items) else NO_DIFFERENCES


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _counts(shape: ShapeSummary) -> dict[str, int]:
    return {kind: n for kind in _COLUMNS if (n := shape.kind_count(kind))}


# --- JSON --------------------------------------------------------------------------------


def render_json(items: list[ShapeVerdict]) -> str:
    shapes: list[dict[str, Any]] = []
    for verdict in items:
        shape = verdict.shape
        shapes.append(
            {
                "shape_id": shape.shape_id,
                "shape": shape.text,
                "differs": verdict.differs,
                "slower_p95": verdict.slower,
                "total": shape.total,
                "outcomes": [
                    {"kind": kind, "detail": detail, "count": n}
                    for (kind, detail), n in sorted(shape.counts.items())
                ],
                "nondeterministic": shape.nondeterministic.split(",")
                if shape.nondeterministic
                else [],
                "learned_noise": sorted(shape.noise),
                "latency_seconds": {role: shape.percentiles(role) for role in shape.latency},
                "new_statuses": [
                    {"status": status, "title": title, "deprecation": deprecation, "count": n}
                    for status, (title, deprecation, n) in sorted(shape.statuses.items())
                ],
                "examples": [
                    {
                        "kind": e.kind,
                        "detail": e.detail,
                        "session": e.session,
                        "database": e.database,
                        "query": e.query,
                        "parameters_hash": e.parameters_hash,
                        "parameters": e.parameters,
                        "differences": [
                            {"path": p, "primary": a, "candidate": b} for p, a, b in e.differences
                        ],
                    }
                    for e in shape.examples
                ],
            }
        )
    document = {
        "differences": sum(v.differs for v in items),
        "shapes": shapes,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- Markdown ----------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(items: list[ShapeVerdict]) -> str:
    differing = sum(v.differs for v in items)
    lines = [
        "# Shadow report",
        "",
        f"{len(items)} query shapes, {differing} with differences.",
        "",
        "| shape | queries | outcomes | p95 primary ms | p95 candidate ms | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for verdict in items:
        shape = verdict.shape
        outcomes = ", ".join(f"{kind} {n}" for kind, n in _counts(shape).items())
        verdict_text = "differs" if verdict.differs else "same"
        if verdict.slower:
            verdict_text += " (slower p95)"
        lines.append(
            f"| `{_md(shape.text)}` | {shape.total} | {outcomes} |"
            f" {_ms(shape.percentiles('primary')['p95'])} |"
            f" {_ms(shape.percentiles('candidate')['p95'])} | {verdict_text} |"
        )
    for verdict in items:
        shape = verdict.shape
        findings = [e for e in shape.examples if e.differences]
        if not verdict.differs or not findings:
            continue
        lines += ["", f"## `{_md(shape.text)}`", ""]
        if shape.nondeterministic:
            lines.append(f"Nondeterministic: {shape.nondeterministic}.")
        if shape.noise:
            lines.append(f"Learned noise (disregarded): {_md(', '.join(sorted(shape.noise)))}.")
        for status, (title, deprecation, n) in sorted(shape.statuses.items()):
            label = "deprecation (early warning)" if deprecation else "new status"
            lines.append(f"- {label} `{status}` {_md(title)} (x{n})")
        for example in findings:
            kind = example.kind + (f" ({example.detail})" if example.detail else "")
            lines += ["", f"**{kind}** — `{_md(example.query)}`", ""]
            lines += ["| path | primary | candidate |", "|---|---|---|"]
            for path, primary, candidate in example.differences:
                lines.append(f"| `{_md(path)}` | {_md(primary)} | {_md(candidate)} |")
    return "\n".join(lines) + "\n"


# --- HTML --------------------------------------------------------------------------------

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
code{font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
tr.differs td:first-child{border-left:4px solid #cf222e}
.primary{background:#ddf4ff}.candidate{background:#dafbe1}
.kind{font-weight:600}.warn{color:#9a6700}
section{border-top:1px solid #d0d7de;margin-top:1.5em}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def latency_svg(shape: ShapeSummary) -> str:
    """Bars of p50/p95/p99 for both roles, drawn inline."""
    rows: list[tuple[str, str, float]] = []
    for role in ("primary", "candidate"):
        for name, value in shape.percentiles(role).items():
            if value is not None:
                rows.append((role, name, value))
    if not rows:
        return ""
    top = max(value for _, _, value in rows)
    width, bar, label = 360, 14, 120
    height = len(rows) * (bar + 4) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="latency" width="{width + label + 70}"'
        f' height="{height}" role="img" aria-label="latency percentiles">'
    ]
    colours = {"primary": "#0969da", "candidate": "#1a7f37"}
    for index, (role, name, value) in enumerate(rows):
        y = 4 + index * (bar + 4)
        length = max(1.0, width * value / top)
        parts.append(
            f'<text x="0" y="{y + bar - 3}" font-size="11">{_e(role)} {_e(name)}</text>'
            f'<rect x="{label}" y="{y}" width="{length:.1f}" height="{bar}"'
            f' fill="{colours[role]}"/>'
            f'<text x="{label + length + 4:.1f}" y="{y + bar - 3}" font-size="11">'
            f"{_ms(value)} ms</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(items: list[ShapeVerdict]) -> str:
    differing = sum(v.differs for v in items)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>boltproxy shadow report</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Shadow report</h1>",
        f'<p id="summary">{len(items)} query shapes, {differing} with differences.</p>',
        '<table id="shapes"><thead><tr><th>shape</th><th>queries</th><th>outcomes</th>'
        "<th>p95 primary ms</th><th>p95 candidate ms</th><th>verdict</th></tr></thead><tbody>",
    ]
    for verdict in items:
        shape = verdict.shape
        outcomes = "<br>".join(f"{_e(k)} {n}" for k, n in _counts(shape).items())
        verdict_text = "differs" if verdict.differs else "same"
        if verdict.slower:
            verdict_text += " (slower p95)"
        row_class = ' class="differs"' if verdict.differs else ""
        out.append(
            f'<tr{row_class} data-shape="{_e(shape.shape_id)}">'
            f'<td><a href="#s-{_e(shape.shape_id)}"><code>{_e(shape.text)}</code></a></td>'
            f"<td>{shape.total}</td><td>{outcomes}</td>"
            f"<td>{_ms(shape.percentiles('primary')['p95'])}</td>"
            f"<td>{_ms(shape.percentiles('candidate')['p95'])}</td><td>{verdict_text}</td></tr>"
        )
    out.append("</tbody></table>")
    for verdict in items:
        out.append(_shape_section(verdict))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _shape_section(verdict: ShapeVerdict) -> str:
    shape = verdict.shape
    parts = [
        f'<section id="s-{_e(shape.shape_id)}"><h2><code>{_e(shape.text)}</code></h2>',
        f"<p>shape {_e(shape.shape_id)} · {shape.total} queries</p>",
    ]
    if shape.nondeterministic:
        parts.append(f"<p class=warn>Nondeterministic: {_e(shape.nondeterministic)}</p>")
    if shape.noise:
        noise = ", ".join(sorted(shape.noise))
        parts.append(f"<p>Learned noise (disregarded): <code>{_e(noise)}</code></p>")
    for status, (title, deprecation, n) in sorted(shape.statuses.items()):
        label = "Deprecation (early warning)" if deprecation else "New status"
        parts.append(f"<p class=warn>{label} <code>{_e(status)}</code> {_e(title)} (x{n})</p>")
    parts.append(latency_svg(shape))
    for example in shape.examples:
        if not example.differences:
            continue
        kind = example.kind + (f" ({example.detail})" if example.detail else "")
        params = example.parameters or f"hash {example.parameters_hash}"
        parts.append(
            f'<div class="diff-example"><p><span class=kind>{_e(kind)}</span> · session'
            f" {_e(example.session)} · database {_e(example.database or 'default')}</p>"
            f"<p><code>{_e(example.query)}</code><br>parameters: <code>{_e(params)}</code></p>"
            '<table><thead><tr><th>path</th><th class="primary">primary</th>'
            '<th class="candidate">candidate</th></tr></thead><tbody>'
        )
        for path, primary, candidate in example.differences:
            parts.append(
                f"<tr><td><code>{_e(path)}</code></td><td class=primary><code>{_e(primary)}"
                f"</code></td><td class=candidate><code>{_e(candidate)}</code></td></tr>"
            )
        parts.append("</tbody></table></div>")
    parts.append("</section>")
    return "".join(parts)


RENDERERS = {"md": render_markdown, "json": render_json, "html": render_html}
