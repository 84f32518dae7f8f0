"""A KPI's chart drawn as a small inline SVG, for pages rendered without a script (the PDF briefing).

It draws the data of ``plans.charts.kpi_chart`` (the dashboards' Chart.js chart): the straight trajectory
from baseline to target, the planned values, the measurements, the forecast and the target, on a shared
time axis. Plain values in, SVG markup out; every text it shows comes from that data or is translated here.
"""

from __future__ import annotations

import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .explain import fmt_number

WIDTH, HEIGHT = 240, 84
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 4, 4, 6, 16
COLOURS = {
    "trajectory": "#8a94a6",
    "planned": "#8a94a6",
    "measurements": "#1f5fbf",
    "forecast": "#c0641a",
    "target": "#1c7a3e",
}


def _points(series) -> list[tuple[datetime.date, float]]:
    return [(datetime.date.fromisoformat(p["x"]), float(p["y"])) for p in series if p.get("y") is not None]


def kpi_chart_svg(data: dict, *, title: str = "") -> SafeString:
    """The chart of ``data`` (``plans.charts.kpi_chart``) as an ``<svg>`` element, ``WIDTH`` by ``HEIGHT``."""
    series = {name: _points(data.get(name) or []) for name in ("trajectory", "planned", "measurements", "forecast")}
    target = _points([data["target"]])
    everything = [p for points in series.values() for p in points] + target
    if not everything:
        return mark_safe("")
    first = min(day for day, _value in everything)
    last = max(day for day, _value in everything)
    low = min(value for _day, value in everything)
    high = max(value for _day, value in everything)
    if high == low:
        high, low = high + 1, low - 1
    margin = (high - low) * 0.08
    low, high = low - margin, high + margin
    span = max((last - first).days, 1)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def xy(point) -> str:
        day, value = point
        x = PAD_LEFT + (day - first).days / span * inner_w
        y = PAD_TOP + (high - value) / (high - low) * inner_h
        return f"{x:.1f},{y:.1f}"

    def line(name: str, dash: str = "") -> str:
        points = series[name]
        if len(points) < 2:
            return ""
        return format_html(
            '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.4"{}/>',
            " ".join(xy(p) for p in points),
            COLOURS[name],
            format_html(' stroke-dasharray="{}"', dash) if dash else "",
        )

    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="2" fill="{}"/>',
        ((*xy(p).split(","), COLOURS["measurements"]) for p in series["measurements"]),
    )
    tx, ty = xy(target[0]).split(",")
    target_mark = format_html(
        '<rect x="{}" y="{}" width="6" height="6" fill="none" stroke="{}" stroke-width="1.4" '
        'transform="rotate(45 {} {})"/>',
        f"{float(tx) - 3:.1f}",
        f"{float(ty) - 3:.1f}",
        COLOURS["target"],
        tx,
        ty,
    )
    axis_y = HEIGHT - PAD_BOTTOM
    unit = data.get("unit") or ""
    description = _("Baseline %(baseline)s, target %(target)s %(unit)s") % {
        "baseline": fmt_number(data["baseline"]["y"]),
        "target": fmt_number(data["target"]["y"]),
        "unit": unit,
    }
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="kpi-svg" viewBox="0 0 {w} {h}" '
        'role="img"><title>{title}</title><desc>{desc}</desc>'
        '<line x1="{l}" y1="{ay}" x2="{r}" y2="{ay}" stroke="#c9ced6" stroke-width="0.8"/>'
        '<text x="{l}" y="{ty}" font-size="9" fill="#5b6577">{start}</text>'
        '<text x="{r}" y="{ty}" font-size="9" fill="#5b6577" text-anchor="end">{end}</text>'
        "{trajectory}{planned}{forecast}{measured}{dots}{target}</svg>",
        w=WIDTH,
        h=HEIGHT,
        title=title,
        desc=description.strip(),
        l=PAD_LEFT,
        r=WIDTH - PAD_RIGHT,
        ay=axis_y,
        ty=HEIGHT - 3,
        start=first.strftime("%Y-%m"),
        end=last.strftime("%Y-%m"),
        trajectory=line("trajectory", "3 2"),
        planned=line("planned", "1 2"),
        forecast=line("forecast", "4 2"),
        measured=line("measurements"),
        dots=dots,
        target=target_mark,
    )
