"""The report's layout with fpdf2: a cover with the first and latest overlays, the table of measures,
the trend charts (vector paths, `charts.py`) and a last page with the latest findings, the photo
protocol and the disclaimer. Subject name and page number on every page; A4 or US Letter.

The pages are laid out by hand at fixed places, so their number follows from the content: the cover
(with the table below it when there are no overlays and it fits), the table's page when the overlays
fill the cover, ⌈charts / 8⌉ pages of charts, a page of movement tests when the subject has clips in
the window, and the last page.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from fpdf import FPDF
from PIL import Image

from app.services.report import charts
from app.services.report.data import (
    MeasureRow,
    MeasureSeries,
    MovementPart,
    PhotoDue,
    Picture,
    ProgrammePart,
    ReportData,
)
from app.services.report.labels import (
    AREAS as AREA_LABELS,
)
from app.services.report.labels import (
    EM_DASH,
    KEY_TRENDS,
    MEASURES,
    MINUS,
    MOVEMENT_MEASURES,
    MOVEMENT_TESTS,
    TABLE_ORDER,
    WARNINGS,
    band_source,
    format_change,
    format_date,
    format_day_month,
    format_duration,
    format_measure,
    format_noise,
    measure_label,
    split_disclaimer,
)
from app.services.report.periods import PERIOD_FILL, Period, programme_periods
from posture.trends import OVERALL

FONT = "dejavu"
PAPER = {"a4": "A4", "letter": "Letter"}
MARGIN = 16.0
CONTENT_TOP = 20.0
CONTENT_BOTTOM = 18.0  # from the bottom edge
CHARTS_PER_PAGE = 8  # 2 columns × 4 rows
OVERLAY_JPEG_QUALITY = 88

INK = charts.INK
MUTED = charts.MUTED
RULE = (203, 213, 225)
PRIMARY = charts.PRIMARY
BEYOND_ROW = (238, 243, 255)  # the page's --primary-soft
NOTE_FILL = (254, 243, 199)  # the page's --mild-bg
NOTE_INK = (133, 77, 14)

MODE_WORDS = {"standing": "Standing", "lunge": "Knee-to-wall lunge"}
SAME_SCALE = "Same scale, ankle at the same place: lines that move between the two moved in the photos."
NOISE_HINT = (
    "Noise is the smallest change of a measure that re-taking the same photo cannot produce (minimal "
    "detectable change). Within noise means: not a change you can rely on."
)
SIGNS = "+ = forward (anterior), as if the person faced right. Angles in degrees."
PROTOCOL = (
    "Same side every time (left and right photos differ), the same place, time of day and clothing.",
    "The phone level (its level or the camera's grid helps), at hip height, 2.5–3 m away, side on to the "
    "person.",
    "Three shots per visit, a few seconds apart, stepping off and back onto the marks between them: the "
    "median of the three is what the trends use.",
)
ASSOCIATIONS = (
    "The findings describe associations reported in studies, not causes: a measure outside its usual "
    "range is something to track, not a diagnosis. Pelvic tilt and lumbar curve are estimates from the "
    "body's outline (MediaPipe has no pelvis or spine landmarks)."
)
NONE_FINDINGS = "Every scored area is inside its usual range."


@cache
def _font_files() -> tuple[Path, Path]:
    """DejaVu Sans, regular and bold, as shipped in matplotlib's wheel (a dependency of MediaPipe): a
    TTF from a PyPI package, with every glyph the report prints (°, −, ±, en dash, narrow space)."""
    spec = find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the PDF report needs matplotlib's DejaVu Sans fonts: pip install matplotlib")
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


class _Document(FPDF):
    def __init__(self, data: ReportData) -> None:
        super().__init__(orientation="P", unit="mm", format=PAPER[data.options.paper])
        regular, bold = _font_files()
        self.add_font(FONT, "", regular)
        self.add_font(FONT, "B", bold)
        self.set_margins(MARGIN, CONTENT_TOP, MARGIN)
        self.c_margin = 0  # text starts at the margin; the table places its own padding
        self.set_auto_page_break(True, CONTENT_BOTTOM)
        self.data = data
        self.set_title(f"Progress report: {data.subject_name}")
        self.set_subject("Posture progress report")
        self.set_creator(f"posture-profile {data.versions.get('package', '')}".strip())
        self.set_lang("en")
        self.set_creation_date(data.made_at)

    @property
    def content_w(self) -> float:
        return self.w - 2 * MARGIN

    @property
    def bottom(self) -> float:
        return self.h - CONTENT_BOTTOM

    def header(self) -> None:
        d = self.data
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*MUTED)
        right = f"{MODE_WORDS[d.mode]} · {_period(d)}"
        room = self.content_w - self.get_string_width(right) - 6
        self.text(MARGIN, 11, _fit(self, f"Progress report · {d.subject_name}", room))
        self.text(self.w - MARGIN - self.get_string_width(right), 11, right)
        self.set_draw_color(*RULE)
        self.set_line_width(0.25)
        self.line(MARGIN, 13.2, self.w - MARGIN, 13.2)

    def footer(self) -> None:
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*MUTED)
        y = self.h - 10
        self.set_draw_color(*RULE)
        self.set_line_width(0.25)
        self.line(MARGIN, y - 3.5, self.w - MARGIN, y - 3.5)
        self.text(MARGIN, y, "posture-profile · estimates for tracking change, not a medical assessment")
        # a cell, not text(): fpdf2 fills in the page total ("{nb}") only in cells
        self.set_xy(self.w - MARGIN - 40, y - 2.6)
        self.cell(40, 3.2, f"Page {self.page_no()} of {{nb}}", align="R")

    # --- small pieces ---------------------------------------------------------------------------

    def heading(self, text: str, size: float = 12.0) -> None:
        self.set_font(FONT, "B", size)
        self.set_text_color(*INK)
        self.set_x(MARGIN)
        self.multi_cell(self.content_w, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(1.2)

    def paragraph(self, text: str, size: float = 8.5, colour: tuple[int, int, int] = MUTED) -> None:
        self.set_font(FONT, "", size)
        self.set_text_color(*colour)
        self.set_x(MARGIN)
        self.multi_cell(self.content_w, size * 0.46, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def bullets(self, items: list[str] | tuple[str, ...], size: float = 9.0) -> None:
        self.set_font(FONT, "", size)
        self.set_text_color(*INK)
        for item in items:
            y = self.get_y()
            self.set_xy(MARGIN, y)
            self.cell(4, size * 0.46, "•")
            self.set_xy(MARGIN + 4, y)
            self.multi_cell(self.content_w - 4, size * 0.46, item, align="L", new_x="LMARGIN", new_y="NEXT")
            self.ln(1.2)

    def note(self, text: str) -> None:
        """A tinted box, as the page's warnings."""
        self.set_font(FONT, "", 8.5)
        lines = self.multi_cell(self.content_w - 6, 4.0, text, dry_run=True, output="LINES")
        height = 4.0 * len(lines) + 4
        y = self.get_y()
        self.set_fill_color(*NOTE_FILL)
        self.rect(MARGIN, y, self.content_w, height, style="F")
        self.set_text_color(*NOTE_INK)
        self.set_xy(MARGIN + 3, y + 2)
        self.multi_cell(self.content_w - 6, 4.0, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_y(y + height + 2)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text` cut with an ellipsis to fit `width` in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _period(d: ReportData) -> str:
    first, last = d.first.taken_at, d.latest.taken_at
    if format_date(first) == format_date(last):
        return format_date(first)
    return f"{format_date(first)} – {format_date(last)}"


def _window(d: ReportData) -> str | None:
    since, until = d.options.since, d.options.until
    if since and until:
        return f"from {format_date(since)} to {format_date(until)}"
    if since:
        return f"from {format_date(since)}"
    if until:
        return f"until {format_date(until)}"
    return None


def _versions(versions: dict[str, object]) -> str:
    model = str(versions.get("model_sha256") or "unknown")[:12]
    package, rules = versions.get("package", "?"), versions.get("rules", "?")
    return f"posture-profile {package} · pose model {model} · rules {rules}"


def _charted(d: ReportData) -> list[MeasureSeries]:
    """The charts the page shows, in its order: the overall score, the key measures, then the rest."""
    available = {s.name: s for s in d.series if s.n > 0}
    order = [OVERALL, *(n for n in KEY_TRENDS if n in available)]
    order += [s.name for s in d.series if s.name in available and s.name not in order]
    return [available[n] for n in order if n in available]


# --- the pages ----------------------------------------------------------------------------------------


def _cover(pdf: _Document) -> None:
    d = pdf.data
    pdf.add_page()
    pdf.set_y(CONTENT_TOP + 2)
    pdf.heading("Progress report", 20)
    pdf.set_font(FONT, "B", 15)
    pdf.set_text_color(*INK)
    pdf.multi_cell(pdf.content_w, 7, d.subject_name, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    days = (d.latest.taken_at - d.first.taken_at).total_seconds() / 86400
    period = _period(d) if len(d.points) == 1 else f"{_period(d)} ({format_duration(days)})"
    facts = [
        ("Photos", MODE_WORDS[d.mode]),
        ("Period", period),
        ("Visits", f"{_count(len(d.points), 'visit')}, {_count(d.n_photos, 'photo')}"),
    ]
    window = _window(d)
    if window:
        facts.append(("Chosen period", window))
    if d.photo_due is not None:
        facts.append(("Next photo", format_photo_due(d.photo_due)))
    facts += [("Versions", _versions(d.versions)), ("Made", format_date(d.made_at))]
    for label, value in facts:
        y = pdf.get_y()
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.set_xy(MARGIN, y)
        pdf.cell(30, 5.2, label)
        pdf.set_text_color(*INK)
        pdf.set_xy(MARGIN + 30, y)
        pdf.multi_cell(pdf.content_w - 30, 5.2, value, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    if d.mixed_versions:
        pdf.note(WARNINGS["mixed_versions"])
    pdf.ln(2)
    if d.options.images == "none":
        pdf.paragraph("The photos and overlays are left out of this report (images=none).")
        pdf.ln(4)
        if pdf.get_y() + _table_height(pdf) > pdf.bottom:  # a long name or notes: the table on its own page
            pdf.add_page()
            pdf.set_y(CONTENT_TOP)
        _table(pdf)
        return
    pdf.heading("First and latest visit", 12)
    pdf.paragraph(SAME_SCALE)
    pdf.ln(2)
    _pictures(pdf, d.first_picture, d.latest_picture)


def _pictures(pdf: _Document, first: Picture | None, latest: Picture | None) -> None:
    """The two overlays side by side at one scale (the stored overlays share one canvas, ankle at the
    same place, so one mm-per-pixel for both keeps them aligned)."""
    gap = 8.0
    box_w = (pdf.content_w - gap) / 2
    top = pdf.get_y()
    caption_h = 10.0
    box_h = min(box_w * 16 / 9, pdf.bottom - top - caption_h)
    images = []
    for picture in (first, latest):
        image = None
        if picture is not None and picture.png is not None:
            with Image.open(io.BytesIO(picture.png)) as opened:
                image = opened.convert("RGB")
        images.append(image)
    sizes = [im.size for im in images if im is not None]
    scale = min(min(box_w / w, box_h / h) for w, h in sizes) if sizes else 0.0
    for i, (picture, image) in enumerate(zip((first, latest), images, strict=True)):
        x = MARGIN + i * (box_w + gap)
        if image is not None:
            w, h = image.size[0] * scale, image.size[1] * scale
            jpeg = io.BytesIO()
            # JPEG: a photo-like overlay at a tenth of its PNG size, embedded as is (no re-encoding by fpdf2)
            image.save(jpeg, format="JPEG", quality=OVERLAY_JPEG_QUALITY)
            which = "first" if i == 0 else "latest"
            pdf.image(jpeg, x=x + (box_w - w) / 2, y=top, w=w, h=h, alt_text=f"Overlay of the {which} visit")
        else:
            pdf.set_fill_color(241, 245, 249)
            pdf.rect(x, top, box_w, box_h, style="F")
            pdf.set_font(FONT, "", 9)
            pdf.set_text_color(*MUTED)
            pdf.set_xy(x, top + box_h / 2 - 3)
            pdf.cell(box_w, 6, "No overlay was kept", align="C")
        if picture is None:
            continue
        pdf.set_xy(x, top + box_h + 1.5)
        pdf.set_font(FONT, "B", 9)
        pdf.set_text_color(*INK)
        title = "First visit" if i == 0 else "Latest visit"
        pdf.cell(box_w, 4.5, f"{title} · {format_date(picture.taken_at)}", align="C")
        pdf.set_xy(x, top + box_h + 6)
        pdf.set_font(FONT, "", 8)
        pdf.set_text_color(*MUTED)
        pdf.cell(box_w, 4, _count(picture.n, "photo"), align="C")


def _verdict(row: MeasureRow, single: bool) -> tuple[str, str]:
    """(the verdict, the band's line), in the page's words (views/compare.js)."""
    if single:
        verdict = "one visit only"
    elif row.change is None:
        verdict = "not in both"
    elif row.within_noise is None:
        verdict = "no noise level"
    else:
        verdict = "Within noise" if row.within_noise else "Beyond noise"
    band = ""
    if row.noise is not None:
        band = f"noise {format_noise(row.name, row.noise)}"
        if row.noise_source:
            band += f" · {band_source(row.noise_source, row.noise_visits, short=True)}"
    return verdict, band


def _table_rows(d: ReportData) -> list[MeasureRow]:
    """The rows the page's difference table shows, in its order: those measured in either visit."""
    rows = {r.name: r for r in d.rows if not (r.first is None and r.latest is None)}
    return [rows[n] for n in TABLE_ORDER if n in rows] + [r for n, r in rows.items() if n not in TABLE_ORDER]


ROW_H = 7.2


def _lines(pdf: _Document, text: str, size: float) -> int:
    pdf.set_font(FONT, "", size)
    return len(pdf.multi_cell(pdf.content_w, size * 0.46, text, dry_run=True, output="LINES"))


def _table_height(pdf: _Document) -> float:
    """What `_table` will take, in mm (its text wraps, its rows do not)."""
    d = pdf.data
    rows = _table_rows(d)
    text = _summary(rows, len(d.points) == 1)
    notes = sum(_lines(pdf, t, 8.5) for t in (SIGNS, NOISE_HINT, _band_sentence(d))) * 8.5 * 0.46
    return 7.2 + _lines(pdf, text, 9) * 9 * 0.46 + 2.5 + 8.5 + len(rows) * ROW_H + 3 + notes + 2


def _table(pdf: _Document) -> None:
    d = pdf.data
    single = len(d.points) == 1
    pdf.heading("Measures: first and latest visit", 12)
    ordered = _table_rows(d)
    pdf.paragraph(_summary(ordered, single), size=9, colour=INK)
    pdf.ln(2.5)
    widths = [56.0, 22.0, 22.0, 22.0]
    widths.append(pdf.content_w - sum(widths))
    x0 = MARGIN
    xs = [x0 + sum(widths[:i]) for i in range(len(widths))]
    # the header
    y = pdf.get_y()
    pdf.set_font(FONT, "B", 8)
    pdf.set_text_color(*MUTED)
    heads = [
        ("Measure", ""),
        ("First", format_date(d.first.taken_at)),
        ("Latest", format_date(d.latest.taken_at)),
        ("Change", ""),
        ("Against noise", ""),
    ]
    for (title, sub), x, w, align in zip(heads, xs, widths, "LRRRL", strict=True):
        pdf.set_font(FONT, "B", 8)
        pdf.set_xy(x + (3 if title == "Against noise" else 1), y)
        pdf.cell(w - 2, 4, title, align=align)
        if sub:
            pdf.set_font(FONT, "", 7)
            pdf.set_xy(x + 1, y + 4)
            pdf.cell(w - 2, 3.5, sub, align=align)
    y += 8.5
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    pdf.line(x0, y, x0 + pdf.content_w, y)
    row_h = ROW_H
    for row in ordered:
        meta = MEASURES.get(row.name)
        verdict, band = _verdict(row, single)
        if verdict == "Beyond noise":
            pdf.set_fill_color(*BEYOND_ROW)
            pdf.rect(x0, y, pdf.content_w, row_h, style="F")
        # the measure, its estimate tag
        pdf.set_font(FONT, "B" if row.name == OVERALL else "", 8.8)
        pdf.set_text_color(*INK)
        label = measure_label(row.name)
        pdf.set_xy(xs[0] + 1, y + 1.6)
        pdf.cell(pdf.get_string_width(label) + 0.5, 4, label)
        if meta is not None and meta.estimate:
            pdf.set_font(FONT, "", 7)
            pdf.set_text_color(*MUTED)
            pdf.cell(16, 4, " (estimate)")
        pdf.set_font(FONT, "", 8.8)
        pdf.set_text_color(*INK)
        for i, text in ((1, format_measure(row.name, row.first)), (2, format_measure(row.name, row.latest))):
            pdf.set_xy(xs[i] + 1, y + 1.6)
            pdf.cell(widths[i] - 2, 4, text, align="R")
        pdf.set_xy(xs[3] + 1, y + 1.6)
        pdf.set_font(FONT, "B" if verdict == "Beyond noise" else "", 8.8)
        pdf.cell(widths[3] - 2, 4, format_change(row.name, row.change), align="R")
        # the verdict, the band below it
        # 3 mm from the change: a text extractor reads the columns apart
        room = widths[4] - 3.5
        pdf.set_xy(xs[4] + 3, y + 0.7)
        pdf.set_font(FONT, "B" if verdict == "Beyond noise" else "", 8)
        pdf.set_text_color(*(PRIMARY if verdict == "Beyond noise" else INK))
        pdf.cell(room, 3.6, verdict)
        pdf.set_xy(xs[4] + 3, y + 3.8)
        pdf.set_font(FONT, "", 6.6)
        if pdf.get_string_width(band) > room:  # the longest band words: a size smaller
            pdf.set_font(FONT, "", 5.9)
        pdf.set_text_color(*MUTED)
        pdf.cell(room, 3, _fit(pdf, band, room))
        y += row_h
        pdf.set_draw_color(*charts.GRID)
        pdf.set_line_width(0.2)
        pdf.line(x0, y, x0 + pdf.content_w, y)
    pdf.set_y(y + 3)
    pdf.paragraph(SIGNS)
    pdf.ln(1)
    pdf.paragraph(NOISE_HINT)
    pdf.ln(1)
    pdf.paragraph(_band_sentence(d))


def _summary(rows: list[MeasureRow], single: bool) -> str:
    """The comparison's summary, as the page's compare view words it."""
    if single:
        return "One visit in this period: the table shows its values; a change needs a second visit."
    parts = []
    overall = next((r for r in rows if r.name == OVERALL), None)
    if overall is not None and overall.change is not None:
        verdict = "change within noise" if overall.within_noise else "change beyond noise"
        first, latest = format_measure(OVERALL, overall.first), format_measure(OVERALL, overall.latest)
        change, noise = format_change(OVERALL, overall.change), format_noise(OVERALL, overall.noise)
        parts.append(f"Overall score {first} → {latest}: {verdict} ({change}, noise {noise}).")
    if overall is not None:
        parts.extend(_like_for_like(overall))
    compared = [r for r in rows if r.name != OVERALL and r.within_noise is not None]
    beyond = [r for r in compared if r.within_noise is False]
    if not beyond:
        parts.append(
            f"None of the {len(compared)} measures compared changed beyond its noise: these two visits show "
            "no change that can be told from re-taking the same photo."
        )
    else:
        names = ", ".join(measure_label(r.name).lower() for r in beyond)
        parts.append(f"{len(beyond)} of {len(compared)} measures changed beyond noise: {names}.")
    return " ".join(parts)


def _areas_text(areas: list[str]) -> str:
    # a list, as the page writes it (an area's label may itself hold "and")
    return ", ".join(AREA_LABELS.get(a, a).lower() for a in areas)


def _like_for_like(row: MeasureRow) -> list[str]:
    """When the two visits scored different areas: over which their overall scores are compared (the
    page's compare view words it the same way)."""
    only = [
        f"only the {which} visit scored {_areas_text(areas)}"
        for which, areas in (("first", row.areas_only_first), ("latest", row.areas_only_latest))
        if areas
    ]
    if not only:
        return []
    scored = (
        f"As scored, over all their own areas: {format_measure(OVERALL, row.first_as_scored)} → "
        f"{format_measure(OVERALL, row.latest_as_scored)}, a difference that comes partly from what was "
        "scored."
    )
    if not row.areas or row.change is None:
        return [
            f"The overall scores are not compared: {', '.join(only)}, and they share no scored area. {scored}"
        ]
    return [
        f"Compared like for like: {'; '.join(only)}, so both overall scores are over the same areas only "
        f"({_areas_text(row.areas)}). {scored}"
    ]


def _band_sentence(d: ReportData) -> str:
    """Where the table's bands come from, in the page's words (views/subject/trends.js)."""
    used = dict.fromkeys(band_source(r.noise_source, r.noise_visits) for r in d.rows if r.noise_source)
    return (
        "Noise bands: the software floor from the rules (rules.toml) is the smallest change that re-taking "
        "the same photo can show; a personal band, from this person's own visits of several shots, takes "
        f"its place where it is wider. Here: {'; '.join(used)}."
    )


def _caption(s: MeasureSeries, times: list) -> str:  # type: ignore[type-arg]
    """The page's trend caption (views/subject/trends.js), and the band's source in its short words."""
    noise = format_noise(s.name, s.noise)
    band = f" Noise band {noise}: {band_source(s.noise_source, s.noise_visits, short=True)}." if noise else ""
    if s.n > 1 and s.days < 2:
        return (
            f"All {_count(s.n, 'visit')} with a value fall within one day: they count as one point (their "
            f"median), and a trend needs visits on two separate days." + band
        )
    if s.n == 1 or s.change is None:
        # The page says "One visit so far" whenever one point has a value; with several visits the
        # report says how many measured it.
        first = "One visit so far" if len(times) == 1 else f"Measured in {_count(s.n, 'visit')} only"
        return (
            f"{first}: the band ({noise}) shows how far the next visit has to move to count as a change."
            + band
        )
    present = [t for t, v in zip(times, s.values, strict=True) if v is not None]
    days = s.span_days if s.span_days is not None else (present[-1] - present[0]).total_seconds() / 86400
    change = format_change(s.name, s.change)
    over = f"over {format_duration(days)}"
    left = sum(1 for m in s.areas_missing or [] if m)
    if left or s.rescored:
        done = [f"{_count(left, 'visit')} without all of them left out"] if left else []
        done += [f"{_count(s.rescored, 'visit')} that scored more re-scored over them"] if s.rescored else []
        band += (
            f" Like for like: the overall over the same areas ({_areas_text(s.areas or [])}); "
            f"{'; '.join(done)}."
        )
    if s.beyond_noise:
        return (
            f"Change beyond noise: {change} {over} on the trend line, more than the noise of {noise}.{band}"
        )
    return (
        f"Change within noise: {change} {over} is inside {noise}, so it does not count as a change yet.{band}"
    )


def _chart_pages(pdf: _Document) -> None:
    d = pdf.data
    times = [p.taken_at for p in d.points]
    charted = _charted(d)
    gap_x, gap_y = 8.0, 3.0
    for start in range(0, len(charted), CHARTS_PER_PAGE):
        pdf.add_page()
        pdf.set_y(CONTENT_TOP)
        title = "Trends, one point per visit" + (" (continued)" if start else "")
        pdf.heading(title, 12)
        _legend(pdf)
        top = pdf.get_y() + 1.5
        cell_w = (pdf.content_w - gap_x) / 2
        cell_h = (pdf.bottom - top - 3 * gap_y) / 4
        for k, s in enumerate(charted[start : start + CHARTS_PER_PAGE]):
            x = MARGIN + (k % 2) * (cell_w + gap_x)
            y = top + (k // 2) * (cell_h + gap_y)
            _chart_cell(pdf, charts.Box(x, y, cell_w, cell_h), s, times)


def _legend(pdf: _Document) -> None:
    y = pdf.get_y()
    x = MARGIN
    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(*MUTED)
    items = (
        ("band", "Noise band: a change inside it is within visit-to-visit noise, not progress"),
        ("fit", "Trend line (robust fit)"),
        ("point", "One visit: the median of its shots"),
        ("spread", "Spread of the visit's shots (max − min)"),
        *((("period", "Programme period"),) if pdf.data.programmes else ()),
    )
    for kind, text in items:
        width = 7.5 + pdf.get_string_width(text)
        if x > MARGIN and x + width > pdf.w - MARGIN:  # the item on a line of its own
            x, y = MARGIN, y + 4.2
        if kind == "band":
            pdf.set_fill_color(*charts.BAND_FILL)
            pdf.rect(x, y + 0.4, 6, 2.6, style="F")
        elif kind == "period":
            pdf.set_fill_color(*PERIOD_FILL)
            pdf.rect(x, y + 0.4, 6, 2.6, style="F")
        elif kind == "fit":
            pdf.set_draw_color(*charts.FIT)
            pdf.set_line_width(0.55)
            pdf.set_dash_pattern(dash=1.6, gap=1.0)
            pdf.line(x, y + 1.7, x + 6, y + 1.7)
            pdf.set_dash_pattern()
        elif kind == "spread":
            pdf.set_draw_color(*charts.SPREAD)
            pdf.set_line_width(0.5)
            pdf.line(x + 3, y + 0.2, x + 3, y + 3.2)
        else:
            pdf.set_fill_color(*PRIMARY)
            pdf.circle(x + 3, y + 1.7, 0.85, style="F")
        pdf.text(x + 7.5, y + 2.6, text)
        x += width + 5
    pdf.set_y(y + 4.5)


def _chart_cell(pdf: _Document, box: charts.Box, s: MeasureSeries, times: list) -> None:  # type: ignore[type-arg]
    meta = MEASURES.get(s.name)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.25)
    pdf.rect(box.x, box.y, box.w, box.h)
    inner = charts.Box(box.x + 2, box.y + 1.5, box.w - 4, box.h - 3)
    # title and latest value
    label = measure_label(s.name)
    pdf.set_font(FONT, "B", 8.5)
    pdf.set_text_color(*INK)
    pdf.text(inner.x, inner.y + 3, label)
    end = inner.x + pdf.get_string_width(label)
    if meta is not None and meta.estimate:
        pdf.set_font(FONT, "", 6.8)
        pdf.set_text_color(*MUTED)
        pdf.text(end + 1, inner.y + 3, "(estimate)")
    latest = next((v for v in reversed(s.values) if v is not None), None)
    if latest is not None:
        value = format_measure(s.name, latest)
        if s.values and s.values[-1] is None and s.latest_at is not None:
            # the last visit did not measure it: the value says when it is from
            value = f"{value} · {format_day_month(s.latest_at)}"
        pdf.set_font(FONT, "B", 8.5)
        width = pdf.get_string_width(value)
        pdf.set_text_color(*INK)
        pdf.text(inner.x + inner.w - width, inner.y + 3, value)
        pdf.set_font(FONT, "", 6.8)
        pdf.set_text_color(*MUTED)
        pdf.text(inner.x + inner.w - width - pdf.get_string_width("latest ") - 0.5, inner.y + 3, "latest")
    # caption under the plot
    caption = _caption(s, times)
    pdf.set_font(FONT, "", 6.6)
    lines = pdf.multi_cell(inner.w, 2.9, caption, dry_run=True, output="LINES")
    caption_h = 2.9 * len(lines)
    plot = charts.Box(inner.x, inner.y + 5, inner.w, inner.h - 5 - caption_h - 1)
    charts.draw_trend(pdf, plot, s, times, FONT, _periods(pdf))
    pdf.set_font(FONT, "", 6.6)
    pdf.set_text_color(*(charts.PRIMARY if s.beyond_noise else MUTED))
    pdf.set_xy(inner.x, inner.y + inner.h - caption_h)
    pdf.multi_cell(inner.w, 2.9, caption, align="L")


# The page's words for a number outside what the test can give: shown, not scored (movements.js).
NOT_SCORED = "not scored"
MOVEMENT_INTRO = (
    "Movement tests filmed side on. The peak shin angle (the shin from vertical at the deepest point) is a "
    "proxy for ankle dorsiflexion; each clip's value is the median over its reps, and a change is judged "
    "against the test's noise band from the rules. Read beside the standing pelvic tilt as an association "
    "over time, not a cause."
)


def _movement_caption(part: MovementPart) -> str:
    s = part.series
    noise = format_noise(s.name, s.noise)
    left_out = part.n - s.n  # clips whose number is outside what the test can give: not on the line
    note = (
        f" {_count(left_out, 'clip')} outside what the test can give {'is' if left_out == 1 else 'are'} "
        f"{NOT_SCORED} and left out."
        if left_out > 0
        else ""
    )
    if s.n == 0:
        return (
            "No scored clip yet: the trend starts with the first number inside what the test can give." + note
        )
    if s.n == 1 or s.change is None:
        return f"One clip so far: the band ({noise}) shows how far the next clip has to move to count." + note
    present = [t for t, v in zip(part.times, s.values, strict=True) if v is not None]
    days = s.span_days if s.span_days is not None else (present[-1] - present[0]).total_seconds() / 86400
    change = format_change(s.name, s.change)
    verdict = "beyond" if s.beyond_noise else "within"
    return (
        f"Change {verdict} noise: {change} over {format_duration(days)} on the trend line "
        f"({_count(s.n, 'clip')}; noise band {noise}, from the rules)." + note
    )


def _movement_page(pdf: _Document) -> None:
    """Per test: the peak shin angle over the clips, then the latest clip's numbers and reps."""
    d = pdf.data
    pdf.add_page()
    pdf.set_y(CONTENT_TOP)
    pdf.heading("Movement tests", 12)
    pdf.paragraph(MOVEMENT_INTRO)
    pdf.ln(2)
    for part in d.movements:
        test = MOVEMENT_TESTS[part.test]["label"]
        if pdf.get_y() + 95 > pdf.bottom:
            pdf.add_page()
            pdf.set_y(CONTENT_TOP)
        pdf.heading(f"{test}: {measure_label(part.series.name).lower()} over time", 10.5)
        box = charts.Box(MARGIN, pdf.get_y(), pdf.content_w, 48)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.25)
        pdf.rect(box.x, box.y, box.w, box.h)
        charts.draw_trend(
            pdf,
            charts.Box(box.x + 2, box.y + 2, box.w - 4, box.h - 4),
            part.series,
            part.times,
            FONT,
            _periods(pdf),
        )
        pdf.set_y(box.y + box.h + 1.5)
        pdf.paragraph(
            _movement_caption(part), size=7.5, colour=PRIMARY if part.series.beyond_noise else MUTED
        )
        pdf.ln(1.5)
        reps = _count(len(part.latest_reps), "rep")
        pdf.heading(f"Latest clip, {format_date(part.latest_taken_at)}: {reps}", 9.5)
        names = [n for n in MOVEMENT_MEASURES if n in part.latest_measures]
        pdf.set_font(FONT, "", 8)
        pdf.set_text_color(*INK)
        line = "  ·  ".join(
            f"{measure_label(n)} {format_measure(n, part.latest_measures[n])}"
            + (f" ({NOT_SCORED})" if n in part.latest_withheld else "")
            for n in names
        )
        pdf.set_x(MARGIN)
        pdf.multi_cell(pdf.content_w, 4.0, line, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        _reps_table(pdf, part)
        if part.latest_findings:
            findings, _ = split_disclaimer(part.latest_findings, "")
            pdf.bullets([f for f in findings if f][:4], size=8)
        pdf.ln(3)


def _reps_table(pdf: _Document, part: MovementPart) -> None:
    rep_names = [n for n in MOVEMENT_MEASURES if any(n in r.measures for r in part.latest_reps)][:5]
    columns = [
        "Rep",
        "Bottom",
        "Peak at",
        *(["Front leg"] if part.test == "lunge" else []),
        *map(measure_label, rep_names),
    ]
    width = pdf.content_w / len(columns)
    y = pdf.get_y()
    pdf.set_font(FONT, "B", 7.5)
    pdf.set_text_color(*MUTED)
    for k, title in enumerate(columns):
        pdf.set_xy(MARGIN + k * width, y)
        pdf.cell(width, 4.5, _fit(pdf, title, width - 1))
    pdf.set_draw_color(*RULE)
    pdf.line(MARGIN, y + 4.8, MARGIN + pdf.content_w, y + 4.8)
    pdf.set_font(FONT, "", 7.8)
    pdf.set_text_color(*INK)
    for i, rep in enumerate(part.latest_reps):
        ry = y + 5.5 + i * 4.4
        cells = [
            str(rep.index + 1),
            f"{rep.bottom_s:.2f} s",
            "—" if rep.peak_s is None else f"{rep.peak_s:.2f} s",
        ]
        if part.test == "lunge":
            cells.append(rep.side or "—")
        cells.extend(format_measure(n, rep.measures.get(n)) for n in rep_names)
        for k, text in enumerate(cells):
            pdf.set_xy(MARGIN + k * width, ry)
            pdf.cell(width, 4.4, _fit(pdf, text, width - 1))
    pdf.set_y(y + 5.5 + len(part.latest_reps) * 4.4 + 1.5)


def _last_page(pdf: _Document) -> None:
    d = pdf.data
    pdf.add_page()
    pdf.set_y(CONTENT_TOP)
    pdf.heading(f"Latest visit, {format_date(d.latest.taken_at)}: findings", 12)
    findings, disclaimer = split_disclaimer(d.findings, d.disclaimer)
    if findings:
        pdf.bullets(findings)
    else:
        pdf.paragraph(NONE_FINDINGS, size=9, colour=INK)
    if d.latest_warnings:
        pdf.ln(1)
        for code in d.latest_warnings:
            pdf.note(WARNINGS.get(code, code))
    pdf.ln(4)
    pdf.heading("For the next photos", 12)
    pdf.bullets(PROTOCOL)
    pdf.ln(4)
    pdf.heading("About this report", 12)
    pdf.paragraph(disclaimer, size=9, colour=INK)
    pdf.ln(1.5)
    pdf.paragraph(ASSOCIATIONS, size=9, colour=INK)
    pdf.ln(1.5)
    pdf.paragraph(
        "Each value of a visit is the median of its photos; changes are flagged against the noise band "
        "of the measure, as on the page.",
        size=9,
        colour=INK,
    )
    pdf.ln(1.5)
    pdf.paragraph(f"Made with {_versions(d.versions)}.")


# --- the programme log (issue 24) -------------------------------------------------------------------


def _periods(pdf: _Document) -> list[Period]:
    return programme_periods([part.programme for part in pdf.data.programmes], pdf.data.made_at)


def format_due(due_in_days: int) -> str:
    """The page's words for the next photo (app/static/js/views/subject/programmes.js `dueText`)."""
    if due_in_days == 0:
        return "due today"
    if due_in_days > 0:
        return f"due in {_count(due_in_days, 'day')}"
    return f"{_count(-due_in_days, 'day')} overdue"


def format_photo_due(due: PhotoDue) -> str:
    day = datetime(due.day.year, due.day.month, due.day.day, tzinfo=UTC)
    return f"{format_date(day)}, {format_due(due.due_in_days)} (every {_count(due.interval_days, 'day')})"


def _day(value: date) -> str:
    return format_date(datetime(value.year, value.month, value.day, tzinfo=UTC))


PROGRAMME_BAND = (
    "Each side is the median of its visits (n: how many; a photo visit counts by the median of its "
    "shots; each clip counts once). The difference is judged against the band between two single "
    "visits: the person's own retake noise where they have enough repeated shots, else the rules' "
    "level. A median of several visits is steadier than one visit, so the band errs wide. Trend: the "
    "robust slope of each side's visits, per 30 days."
)
_PROGRAMME_COLUMNS = (
    ("Measure", 0.30),
    ("Before (n)", 0.12),
    ("Since (n)", 0.12),
    ("Change", 0.10),
    ("Noise", 0.11),
    ("Reading", 0.12),
    ("Trend /30 d", 0.13),
)


def _programme_page(pdf: _Document, part: ProgrammePart) -> None:
    """One programme: its days, exercises and workouts, and the before/after table up the chain."""
    p, effect = part.programme, part.effect
    pdf.add_page()
    pdf.set_y(CONTENT_TOP)
    pdf.heading(f"Programme: {p.name}", 12)
    end = _day(p.end_date) if p.end_date else "ongoing"
    weeks = ((p.end_date or datetime.now(UTC).date()) - p.start_date).days / 7
    status = {"planned": "not started yet", "active": "under way", "ended": "ended"}[p.status]
    pdf.paragraph(
        f"{_day(p.start_date)} – {end} ({weeks:.0f} weeks, {status}) · "
        f"{_count(p.workout_days, 'workout day')} ticked",
        size=9,
        colour=INK,
    )
    if p.exercises:
        pdf.paragraph(
            "Exercises: "
            + "; ".join(
                f"{e.name}{f' ({e.dose})' if e.dose else ''}: {_count(len(e.ticks), 'day')}"
                for e in p.exercises
            ),
            size=8.5,
        )
    if p.notes:
        pdf.paragraph(f"Notes: {p.notes}", size=8.5)
    pdf.ln(2)
    pdf.heading("Before and since the start, up the chain", 10.5)
    _programme_table(pdf, effect)
    pdf.ln(2)
    pdf.paragraph(effect.summary, size=9, colour=INK)
    pdf.ln(1)
    judged = [m.statement for m in effect.measures if m.beyond_noise is not None]
    if judged:
        pdf.bullets(judged, size=8)
    pdf.paragraph(PROGRAMME_BAND, size=7.5)
    pdf.ln(1.5)
    pdf.paragraph(effect.disclaimer, size=8, colour=INK)


def _programme_table(pdf: _Document, effect: Any) -> None:
    widths = [pdf.content_w * share for _, share in _PROGRAMME_COLUMNS]
    lefts = [MARGIN + sum(widths[:k]) for k in range(len(widths))]
    y = pdf.get_y()
    pdf.set_font(FONT, "B", 7.5)
    pdf.set_text_color(*MUTED)
    for (title, _), x, w in zip(_PROGRAMME_COLUMNS, lefts, widths, strict=True):
        pdf.set_xy(x, y)
        pdf.cell(w, 4.5, _fit(pdf, title, w - 1))
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.25)
    pdf.line(MARGIN, y + 4.8, MARGIN + pdf.content_w, y + 4.8)
    y += 5.5
    area = None
    for m in effect.measures:
        if m.area != area:
            area = m.area
            pdf.set_font(FONT, "B", 7.2)
            pdf.set_text_color(*MUTED)
            pdf.set_xy(MARGIN, y)
            pdf.cell(
                pdf.content_w,
                4.0,
                {
                    "ankle": "Ankle",
                    "knee": "Knee",
                    "pelvis": "Pelvis",
                    "lumbar": "Lower back",
                    "overall": "Overall",
                }[area],
            )
            y += 4.2
        row_h = 4.6
        if m.beyond_noise:
            pdf.set_fill_color(*BEYOND_ROW)
            pdf.rect(MARGIN, y - 0.3, pdf.content_w, row_h, style="F")
        reading = m.reading
        source = {"standing": "", "lunge": " (clip)", "squat": " (clip)"}[m.source]
        cells = [
            m.label[0].upper() + m.label[1:] + source,
            _side_text(m.measure, m.before),
            _side_text(m.measure, m.since),
            format_change(m.measure, m.difference) if m.difference is not None else EM_DASH,
            format_noise(m.measure, m.noise) if m.noise is not None else EM_DASH,
            reading,
            _trend_text(m.before.slope_per_30d, m.since.slope_per_30d),
        ]
        for k, (text, x, w) in enumerate(zip(cells, lefts, widths, strict=True)):
            bold = k == 5 and bool(m.beyond_noise)
            pdf.set_font(FONT, "B" if bold else "", 7.6)
            muted = k == 5 and not m.enough
            pdf.set_text_color(*(PRIMARY if bold else MUTED if muted else INK))
            pdf.set_xy(x, y)
            pdf.cell(w, row_h, _fit(pdf, text, w - 1))
        y += row_h
    pdf.set_y(y + 1)


def _side_text(name: str, side: Any) -> str:
    if side.median is None:
        return f"{EM_DASH} (0)"
    value = format_measure(name, side.median)
    return f"{value} ({side.visits})"


def _trend_text(before: float | None, since: float | None) -> str:
    def one(v: float | None) -> str:
        return EM_DASH if v is None else f"{v:+.1f}".replace("-", MINUS)

    if before is None and since is None:
        return EM_DASH
    return f"{one(before)} → {one(since)}"


def render(data: ReportData) -> tuple[bytes, int]:
    """The report as PDF bytes, and its number of pages."""
    pdf = _Document(data)
    _cover(pdf)
    if data.options.images == "overlay":
        pdf.add_page()
        pdf.set_y(CONTENT_TOP)
        _table(pdf)
    _chart_pages(pdf)
    if data.movements:
        _movement_page(pdf)
    for part in data.programmes:
        _programme_page(pdf, part)
    _last_page(pdf)
    return bytes(pdf.output()), pdf.pages_count
