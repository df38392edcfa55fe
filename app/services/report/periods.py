"""Programme periods on the report's trend charts: each programme's days shaded behind a chart's data,
as the page does (app/static/js/periods.js). Kept apart from the chart drawing (`charts.draw_trend`
takes the periods as one optional argument)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fpdf import FPDF

PERIOD_FILL = (230, 237, 253)  # the page's rgba(29, 78, 216, 0.07) on white, a touch stronger for print
PERIOD_INK = (29, 78, 216)


@dataclass(frozen=True)
class Period:
    name: str
    start_s: float
    end_s: float
    """Epoch seconds; the end day is included whole (the period ends at the next midnight, UTC)."""


def programme_periods(programmes: Sequence[object], now: datetime | None = None) -> list[Period]:
    """Periods of programmes (`ProgrammeOut`); an open-ended one runs to `now`."""
    now = now or datetime.now(UTC)

    def midnight(day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()

    out = []
    for p in programmes:
        start, end = p.start_date, p.end_date  # type: ignore[attr-defined]
        end_s = midnight(end + timedelta(days=1)) if end is not None else now.timestamp()
        out.append(Period(p.name, midnight(start), end_s))  # type: ignore[attr-defined]
    return out


def shade_periods(
    pdf: FPDF,
    plot: tuple[float, float, float, float],
    x: Callable[[float], float],
    t0: float,
    t1: float,
    periods: Sequence[Period],
    font: str,
) -> None:
    """Shade each period's part of [t0, t1] over the plot (x, y, w, h in mm), named when it is wide."""
    px, py, pw, ph = plot
    for period in periods:
        a, b = max(period.start_s, t0), min(period.end_s, t1)
        if b <= a:
            continue
        left, right = max(px, x(a)), min(px + pw, x(b))
        pdf.set_fill_color(*PERIOD_FILL)
        pdf.rect(left, py, max(0.3, right - left), ph, style="F")
        pdf.set_font(font, "", 5.5)
        if right - left > pdf.get_string_width(period.name) + 2:
            pdf.set_text_color(*PERIOD_INK)
            pdf.text(left + 0.8, py + 2.4, period.name)
