"""Charts as server-rendered SVG, each with the table of its data (for screen readers and
for reading the exact numbers): no script, no library, nothing fetched by the browser.

An SVG is an image (`role="img"`) named by its title and described by a sentence of its
totals; the bars and lines carry no information the table below lacks. Colours are the
DSFR illustrative palette, each paired with the series' name in the legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#000091", "#c9191e", "#68a532", "#a558a0", "#b34000", "#417dc4", "#7f7f7f", "#fcc63a")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 760, 260, 48, 36, 12, 12
_ids = count(1)


@dataclass
class Series:
    label: str
    values: Sequence[float | None]


@dataclass
class Chart:
    title: str
    description: str
    svg: SafeString
    columns: list[str]  # the table's header: the x label's name, then one per series
    rows: list[list[str]]  # the table: x label, then the values
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, label)

    def table(self) -> SafeString:
        """The data table (built here rather than in the template: a year is ~400 cells a chart,
        escaped cell by cell with `escape` rather than `format_html`, a third of the page's time)."""
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in self.columns)
        body = "".join(_table_row(row) for row in self.rows)
        return mark_safe(  # noqa: S308  (every cell escaped above)
            f"<table><caption>{escape(self.title)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _table_row(row: list[str]) -> str:
    cells = "".join(f"<td>{escape(v)}</td>" for v in row[1:])
    return f'<tr><th scope="row">{escape(row[0])}</th>{cells}</tr>'


def _number(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:.{decimals}f}" if decimals else str(round(value))


def _f(value: float) -> str:
    return f"{value:.1f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step:
            return step
    return value


def _frame(chart_id: str, title: str, description: str, body: list[str], top: float, unit: str) -> SafeString:
    plot_h = HEIGHT - TOP - BOTTOM
    parts: list[str] = [
        format_html('<svg class="gv-chart" role="img" viewBox="0 0 {} {}" aria-labelledby="{}-t {}-d" '
                    'xmlns="http://www.w3.org/2000/svg">', WIDTH, HEIGHT, chart_id, chart_id),
        format_html('<title id="{}-t">{}</title><desc id="{}-d">{}</desc>', chart_id, title, chart_id, description),
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(format_html('<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>', LEFT, WIDTH - RIGHT, _f(y),
                                 _f(y)))
        parts.append(format_html('<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#3a3a3a">{}{}</text>',
                                 LEFT - 4, _f(y + 4), _number(top * fraction), unit))
    parts += body
    parts.append("</svg>")
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308  (every value above went through format_html)


def _x_labels(labels: Sequence[str], x_of, step: int) -> list[str]:
    return [str(format_html('<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#3a3a3a">{}</text>',
                            _f(x_of(i)), HEIGHT - BOTTOM + 16, label))
            for i, label in enumerate(labels) if i % step == 0]


def stacked_bars(title: str, x_name: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> Chart:
    """One bar per x label, the series stacked (they add up)."""
    chart_id = f"gv-chart-{next(_ids)}"
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    bar = max(1.0, slot * 0.7)
    body: list[str] = []
    for i in range(len(labels)):
        y: float = TOP + plot_h
        for colour, s in zip(PALETTE, series, strict=False):
            h = plot_h * (s.values[i] or 0) / top
            if h > 0:
                y -= h
                # numbers and a palette constant only: nothing to escape (format_html costs 10x more)
                body.append(f'<rect x="{_f(LEFT + i * slot + (slot - bar) / 2)}" y="{_f(y)}" width="{_f(bar)}" '
                            f'height="{_f(h)}" fill="{colour}"/>')
    body += _x_labels(labels, lambda i: LEFT + i * slot + slot / 2, max(1, len(labels) // 8))
    description = ", ".join(f"{s.label}: {_number(sum(v or 0 for v in s.values))}" for s in series)
    return Chart(title, description, _frame(chart_id, title, description, body, top, unit),
                 [x_name, *(s.label for s in series)],
                 [[label, *(_number(s.values[i]) for s in series)] for i, label in enumerate(labels)],
                 list(zip(PALETTE, (s.label for s in series), strict=False)))


def lines(title: str, x_name: str, labels: Sequence[str], series: Sequence[Series], unit: str = "",
          decimals: int = 0) -> Chart:
    """One line per series (gaps where a value is missing), a dot on each point."""
    chart_id = f"gv-chart-{next(_ids)}"
    top = _nice_max(max((v for s in series for v in s.values if v is not None), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))

    def x_of(i: int) -> float:
        return LEFT + i * slot + slot / 2

    body: list[str] = []
    for colour, s in zip(PALETTE, series, strict=False):
        points = [(x_of(i), TOP + plot_h * (1 - v / top)) for i, v in enumerate(s.values) if v is not None]
        if points:
            body.append(str(format_html('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>', colour,
                                        " ".join(f"{x:.1f},{y:.1f}" for x, y in points))))
            body += [f'<circle cx="{_f(x)}" cy="{_f(y)}" r="2.5" fill="{colour}"/>' for x, y in points]
    body += _x_labels(labels, x_of, max(1, len(labels) // 8))
    description = "; ".join(
        f"{s.label}: {_number(min(vals), decimals)}–{_number(max(vals), decimals)}{unit}" if vals else f"{s.label}: —"
        for s in series for vals in [[v for v in s.values if v is not None]])
    return Chart(title, description, _frame(chart_id, title, description, body, top, unit),
                 [x_name, *(s.label for s in series)],
                 [[label, *(_number(s.values[i], decimals) for s in series)] for i, label in enumerate(labels)],
                 list(zip(PALETTE, (s.label for s in series), strict=False)))


def horizontal_bars(title: str, name: str, items: Sequence[tuple[str, float]], value_name: str) -> Chart:
    """One bar per item (totals by reason or outcome), its value written at its end."""
    chart_id = f"gv-chart-{next(_ids)}"
    row_h = 26
    height = TOP + BOTTOM // 2 + row_h * max(1, len(items))
    label_w = 220
    top = _nice_max(max((v for _, v in items), default=0))
    plot_w = WIDTH - label_w - RIGHT - 60
    body = []
    for i, (label, value) in enumerate(items):
        y = TOP + i * row_h
        body.append(str(format_html('<text x="{}" y="{}" text-anchor="end" font-size="12" fill="#161616">{}</text>',
                                    label_w - 6, y + 16, label)))
        body.append(str(format_html('<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>', label_w, y + 4,
                                    _f(plot_w * value / top), row_h - 8, PALETTE[0])))
        body.append(str(format_html('<text x="{}" y="{}" font-size="12" fill="#161616">{}</text>',
                                    _f(label_w + plot_w * value / top + 4), y + 16, _number(value))))
    description = ", ".join(f"{label}: {_number(value)}" for label, value in items) or "—"
    svg = mark_safe(  # noqa: S308  (every value went through format_html)
        str(format_html('<svg class="gv-chart" role="img" viewBox="0 0 {} {}" aria-labelledby="{}-t {}-d" '
                        'xmlns="http://www.w3.org/2000/svg"><title id="{}-t">{}</title><desc id="{}-d">{}</desc>',
                        WIDTH, height, chart_id, chart_id, chart_id, title, chart_id, description))
        + "".join(body) + "</svg>")
    return Chart(title, description, svg, [name, value_name], [[label, _number(value)] for label, value in items])
