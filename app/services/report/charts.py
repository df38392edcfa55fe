"""The report's trend charts, drawn as PDF vector paths: the page's chart (app/static/js/charts.js) on
paper. The noise band is noise on each side of the robust fit's start; the fitted line leaves the band
exactly when the trends call the change beyond noise; the y-axis never zooms in below 5 × noise, so
visit-to-visit noise cannot be blown up to look like a trend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from fpdf import FPDF

from app.services.report.data import MeasureSeries
from app.services.report.labels import MEASURES, MINUS, format_day_month, format_month_year, format_noise
from app.services.report.periods import Period, shade_periods

MIN_SPAN_IN_NOISE = 5
TICK_EVERY_MM = 9.0  # the page's 38 px between y ticks, at print size
MAX_DOTS = 120  # beyond this many points a dot per point is a smear in print: the line alone is drawn
DAY_S = 86_400.0

INK = (15, 23, 42)
MUTED = (71, 85, 105)
GRID = (226, 232, 240)
ZERO = (148, 163, 184)
BAND_FILL = (235, 238, 242)  # the page's rgba(100, 116, 139, 0.13) on white
BAND_EDGE = (148, 163, 184)
SERIES = (147, 169, 232)
FIT = (51, 65, 85)
PRIMARY = (29, 78, 216)
SPREAD = (96, 125, 210)


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def _decimals_of(step: float) -> int:
    """Decimals that write every multiple of `step` exactly (2.5 needs one; the page's rule, which
    counts only the step's magnitude, would print −2.5 as −3)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    return decimals


@dataclass(frozen=True)
class Domain:
    lo: float
    hi: float
    ticks: list[float]
    decimals: int


def y_domain(
    values: list[float],
    noise: float | None,
    centre: float | None,
    fit_end: float | None,
    bounds: tuple[float, float] | None,
    plot_h_mm: float,
) -> Domain:
    """The page's y-domain: values, band and fit, at least MIN_SPAN_IN_NOISE × noise tall, nice ticks."""
    ys = list(values)
    if centre is not None and noise:
        ys += [centre - noise, centre + noise]
    if fit_end is not None:
        ys.append(fit_end)
    lo, hi = min(ys), max(ys)
    min_span = MIN_SPAN_IN_NOISE * noise if noise else max(1.0, abs(hi) * 0.2)
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    if bounds:
        b_lo, b_hi = bounds
        if lo < b_lo:
            lo, hi = b_lo, min(b_hi, hi + (b_lo - lo))
        if hi > b_hi:
            lo, hi = max(b_lo, lo - (hi - b_hi)), b_hi
    step = _nice_step(hi - lo, max(2, math.floor(plot_h_mm / TICK_EVERY_MM)))
    lo = math.floor(lo / step + 1e-9) * step
    hi = math.ceil(hi / step - 1e-9) * step
    if bounds:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    ticks = []
    v = math.ceil(lo / step - 1e-9) * step
    while v <= hi + step * 1e-6:
        ticks.append(v)
        v += step
    return Domain(lo, hi, ticks, _decimals_of(step))


def _time_ticks(times: list[float], plot_w_mm: float, x: callable) -> list[float]:  # type: ignore[valid-type]
    """The page's x labels: the points' own dates when they fit (few points), else evenly spaced dates."""
    first, last = times[0], times[-1]
    span = last - first
    if span < DAY_S / 2:
        return [first]
    min_gap = 17.0
    if len(times) <= 8:
        picked: list[float] = []
        for t in times:
            if not picked or x(t) - x(picked[-1]) >= min_gap:
                picked.append(t)
        if picked[-1] != last:
            if len(picked) > 1 and x(last) - x(picked[-1]) < min_gap:
                picked.pop()
            picked.append(last)
        if len(picked) == len(times) or len(picked) >= 3:
            return picked
    count = max(2, min(5, math.floor(plot_w_mm / 18)))
    return [first + span * i / (count - 1) for i in range(count)]


def _tick_text(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def _label_place(
    plot: Box, band_top: float, band_bottom: float, width: float, points: np.ndarray
) -> tuple[float, float]:
    """(left, baseline) of the band's label: outside the band where there is room, at the right or the
    left end, wherever no point lies under it (the page puts it at the right, outside when it can)."""
    right, left = plot.x + plot.w - width - 0.3, plot.x + 0.3
    rows = []
    if band_top - plot.y >= 3.6:
        rows.append(band_top - 1.0)
    if plot.y + plot.h - band_bottom >= 3.6:
        rows.append(band_bottom + 2.9)
    rows.append(band_top + 2.9)
    candidates = [(lx, baseline) for baseline in rows for lx in (right, left)]
    for lx, baseline in candidates:
        inside = (
            (points[:, 0] > lx - 1.2)
            & (points[:, 0] < lx + width + 1.2)
            & (points[:, 1] > baseline - 3.4)
            & (points[:, 1] < baseline + 1.4)
        )
        if not inside.any():
            return lx, baseline
    return candidates[0]


def draw_trend(
    pdf: FPDF,
    box: Box,
    series: MeasureSeries,
    times: list[datetime],
    font: str,
    periods: Sequence[Period] = (),
) -> None:
    """The chart of one measure inside `box` (tick labels included); `periods`: programme periods shaded
    behind the data (`app.services.report.periods`)."""
    meta = MEASURES.get(series.name)
    left, bottom, top, right = 9.5, 4.8, 1.5, 1.5
    plot = Box(box.x + left, box.y + top, box.w - left - right, box.h - top - bottom)
    seconds = [t.timestamp() for t in times]
    present = [i for i, v in enumerate(series.values) if v is not None]
    points = [(seconds[i], series.values[i]) for i in present]
    spreads = [series.spread[i] for i in present] if series.spread is not None else []
    has_fit = series.fit_start is not None and series.fit_end is not None
    centre = series.fit_start if has_fit else points[0][1] if points else None

    t0, t1 = seconds[0], seconds[-1]
    span = t1 - t0
    if span < DAY_S:
        t0, t1 = t0 - 3 * DAY_S, t1 + 3 * DAY_S
    else:
        t0, t1 = t0 - span * 0.06, t1 + span * 0.06

    def x(t: float) -> float:
        return plot.x + (t - t0) / (t1 - t0) * plot.w

    bounds = (
        (0.0, 100.0) if series.name == "overall_score" else (0.0, 1.0) if series.name == "heel_lift" else None
    )
    domain = y_domain([v for _, v in points], series.noise, centre, series.fit_end, bounds, plot.h)

    def y(v: float) -> float:
        return plot.y + (1 - (v - domain.lo) / (domain.hi - domain.lo)) * plot.h

    def clamp_y(v: float) -> float:
        return min(plot.y + plot.h, max(plot.y, y(v)))

    with pdf.local_context():
        if periods:
            shade_periods(pdf, (plot.x, plot.y, plot.w, plot.h), x, t0, t1, periods, font)
        # grid and y labels
        pdf.set_line_width(0.2)
        pdf.set_draw_color(*GRID)
        pdf.set_font(font, "", 6.5)
        pdf.set_text_color(*MUTED)
        for tick in domain.ticks:
            ty = y(tick)
            pdf.line(plot.x, ty, plot.x + plot.w, ty)
            label = _tick_text(tick, domain.decimals)
            pdf.text(plot.x - 1.2 - pdf.get_string_width(label), ty + 0.8, label)
        if meta is not None and meta.signed and domain.lo < 0 < domain.hi:
            pdf.set_draw_color(*ZERO)
            pdf.line(plot.x, y(0), plot.x + plot.w, y(0))

        # x labels at the points' dates
        ticks = _time_ticks(seconds, plot.w, x)
        for i, t in enumerate(ticks):
            moment = datetime.fromtimestamp(t, times[0].tzinfo)
            label = format_month_year(moment) if span > 300 * DAY_S else format_day_month(moment)
            width = pdf.get_string_width(label)
            lx = x(t) - width / 2
            if len(ticks) > 1 and i == 0 and x(t) - plot.x < 8:
                lx = x(t)
            if len(ticks) > 1 and i == len(ticks) - 1 and plot.x + plot.w - x(t) < 8:
                lx = x(t) - width
            pdf.text(lx, box.y + box.h - 0.6, label)

        # the noise band around the fit's start (or the only point)
        if centre is not None and series.noise:
            band_top, band_bottom = clamp_y(centre + series.noise), clamp_y(centre - series.noise)
            pdf.set_fill_color(*BAND_FILL)
            pdf.rect(plot.x, band_top, plot.w, max(0.0, band_bottom - band_top), style="F")
            pdf.set_draw_color(*BAND_EDGE)
            pdf.set_dash_pattern(dash=1.0, gap=0.8)
            pdf.line(plot.x, band_top, plot.x + plot.w, band_top)
            pdf.line(plot.x, band_bottom, plot.x + plot.w, band_bottom)
            pdf.set_dash_pattern()
            label = f"noise {format_noise(series.name, series.noise)}"
            pdf.set_font(font, "B", 6.5)
            width = pdf.get_string_width(label) + 1.0
            xy = np.array([(x(t), y(v)) for t, v in points]) if points else np.zeros((0, 2))
            if has_fit and len(points) > 1:
                # the trend line, as closely spaced points the label must not sit on either
                assert series.fit_start is not None and series.fit_end is not None
                start = series.fit_start_at.timestamp() if series.fit_start_at else seconds[0]
                end = series.fit_end_at.timestamp() if series.fit_end_at else seconds[-1]
                along = np.linspace(0.0, 1.0, 80)
                line = np.column_stack(
                    [
                        x(start) + along * (x(end) - x(start)),
                        [clamp_y(series.fit_start + a * (series.fit_end - series.fit_start)) for a in along],
                    ]
                )
                xy = np.vstack([xy, line])
            lx, baseline = _label_place(plot, band_top, band_bottom, width, xy)
            pdf.set_fill_color(255, 255, 255)
            pdf.rect(lx, baseline - 2.3, width, 2.9, style="F")
            pdf.set_text_color(*MUTED)
            pdf.text(lx + 0.5, baseline, label)

        # point-to-point line, fitted trend, points
        if len(points) > 1:
            pdf.set_draw_color(*SERIES)
            pdf.set_line_width(0.35)
            pdf.polyline([(x(t), y(v)) for t, v in points])
        if has_fit and len(points) > 1:
            assert series.fit_start is not None and series.fit_end is not None
            if series.beyond_noise:
                pdf.set_draw_color(*PRIMARY)
                pdf.set_line_width(0.7)
            else:
                pdf.set_draw_color(*FIT)
                pdf.set_line_width(0.55)
                pdf.set_dash_pattern(dash=1.6, gap=1.0)
            # the line may leave a bounded axis (a score's fit past 100): kept inside the plot
            # between the trend's own ends (the first and last day with a value), as the page draws it
            start = series.fit_start_at.timestamp() if series.fit_start_at else seconds[0]
            end = series.fit_end_at.timestamp() if series.fit_end_at else seconds[-1]
            with pdf.rect_clip(plot.x, plot.y, plot.w, plot.h):
                pdf.line(x(start), y(series.fit_start), x(end), y(series.fit_end))
            pdf.set_dash_pattern()
        if series.spread is not None and len(points) <= MAX_DOTS:
            # each visit's spread: a bar as long as its shots' max − min, centred on its median
            pdf.set_draw_color(*SPREAD)
            pdf.set_line_width(0.45)
            for (t, v), width in zip(points, spreads, strict=True):
                if width:
                    pdf.line(x(t), clamp_y(v - width / 2), x(t), clamp_y(v + width / 2))
        pdf.set_fill_color(*PRIMARY)
        if len(points) <= MAX_DOTS:
            radius = 0.55 if len(points) > 60 else 0.7 if len(points) > 25 else 0.85
            for t, v in points[:-1]:
                pdf.circle(x(t), y(v), radius, style="F")
        if points:
            t, v = points[-1]
            pdf.set_draw_color(255, 255, 255)
            pdf.set_line_width(0.3)
            pdf.circle(x(t), y(v), 1.05, style="FD")
