"""Grouped bar charts as inline SVG: the HTML report stays one file with no scripts."""

from __future__ import annotations

import html

COLOURS = {"blue": "#2f6db5", "green": "#2e9d57"}
WIDTH = 760
BAR = 22
GAP = 26
LABEL = 190


def grouped_bars(title: str, unit: str, rows: list[tuple[str, dict[str, float | None]]]) -> str:
    """One horizontal bar per series for each row; a missing value draws no bar."""
    values = [v for _, series in rows for v in series.values() if v is not None]
    top = max(values, default=0.0) or 1.0
    series_names = list(rows[0][1]) if rows else []
    group = BAR * len(series_names) + GAP
    height = 40 + group * len(rows) + 24
    scale = (WIDTH - LABEL - 90) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}" font-family="sans-serif" font-size="12">',
        f'<text x="0" y="16" font-size="14" font-weight="bold">{html.escape(title)}</text>',
    ]
    for index, name in enumerate(series_names):
        x = LABEL + index * 110
        colour = COLOURS.get(name, "#888")
        parts.append(f'<rect x="{x}" y="24" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="34">{html.escape(name)}</text>')  # fmt: skip
    for row, (label, series) in enumerate(rows):
        y0 = 44 + row * group
        parts.append(
            f'<text x="{LABEL - 8}" y="{y0 + BAR * len(series) / 2 + 4}" '
            f'text-anchor="end">{html.escape(label)}</text>'
        )
        for index, (name, value) in enumerate(series.items()):
            y = y0 + index * BAR
            if value is None:
                parts.append(f'<text x="{LABEL + 4}" y="{y + 15}">n/a</text>')
                continue
            width = max(1.0, value * scale)
            parts.append(
                f'<rect x="{LABEL}" y="{y + 2}" width="{width:.1f}" height="{BAR - 4}" '
                f'fill="{COLOURS.get(name, "#888")}"><title>{html.escape(name)}: '
                f"{value:,.2f} {html.escape(unit)}</title></rect>"
                f'<text x="{LABEL + width + 4:.1f}" y="{y + 15}">{value:,.2f} {html.escape(unit)}'
                "</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
