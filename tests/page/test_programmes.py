"""The programme log on the page (issue 24), in Chromium against a real server: log a programme with
its exercises, tick a workout, read the before/after table up the chain, the programme period shaded
on the trend charts, and the next photo due in the header and the subject list."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import expect

from .conftest import Server, Tab, sign_in_fast

PHOTOS = (
    ("walk_side_f0091.jpg", "2026-01-05T09:00:00Z"),
    ("walk_side_f0110.jpg", "2026-01-12T09:00:00Z"),
    ("walk_side_f0128.jpg", "2026-02-02T09:00:00Z"),
    ("walk_side_f0165.jpg", "2026-02-09T09:00:00Z"),
)


def test_a_programme_is_logged_ticked_and_read_up_the_chain(
    server: Server, tab: Tab, artifacts: Path
) -> None:
    page = tab.page
    subject = server.subject("Pat Programme")
    for photo, taken_at in PHOTOS:
        server.upload(subject, photo, taken_at)
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=1, name="Pat Programme")).to_be_visible()
    overdue = (datetime.now(UTC).date() - datetime(2026, 2, 23, tzinfo=UTC).date()).days
    expect(page.locator(".page-head .photo-due")).to_have_text(f"Next photo {overdue} days overdue")

    section = page.locator("#programmes")
    section.get_by_role("button", name="New programme").click()
    section.get_by_label("Programme").fill("Calf programme")
    section.get_by_label("Start").fill("2026-01-20")
    section.get_by_label("Exercises (optional)").fill("Eccentric heel drops: 3×15\nSoleus stretch")
    section.get_by_role("button", name="Add programme").click()
    card = section.locator("article.programme")
    expect(card.get_by_role("heading", name="Calf programme")).to_be_visible()
    expect(card).to_contain_text("0 workout days ticked")
    expect(section).not_to_contain_text("null")

    # The before/after opens for the newest programme: two visits on separate days each side.
    table = card.locator("table.effect-table")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr[data-measure]")
    expect(rows.first).to_have_attribute("data-measure", "shank_angle_deg")  # ankle first
    overall = table.locator('tr[data-measure="overall_score"]')  # every accepted photo has one
    expect(overall.locator("td").nth(0)).to_contain_text("(2)")
    expect(overall.locator("td").nth(1)).to_contain_text("(2)")
    expect(overall.locator(".reading")).to_have_text(re.compile("^(beyond|within) noise$"))
    expect(table.locator('tr[data-measure="squat_shin_peak_deg"] .reading')).to_have_text("too few visits")
    expect(card.locator(".disclaimer")).to_contain_text("not proof that the programme caused it")

    # A workout ticked today.
    box = card.locator("table.tick-grid input[type=checkbox]").last
    box.check()
    expect(card).to_contain_text("1 workout day ticked")
    api = server.api("GET", f"/subjects/{subject}/programmes").json()
    assert sum(len(e["ticks"]) for e in api[0]["exercises"]) == 1

    # The trend charts shade the programme's period.
    trends = page.locator("#trends")
    expect(trends.locator(".programme-periods rect").first).to_be_attached()
    trends.locator(".trend-card").first.screenshot(path=str(artifacts / "programme-trend.png"))
    page.locator("#programmes").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "programmes.png"), full_page=True)

    # The calendar link: made on the page, it opens the feed without the key; turned off, it is gone.
    page.locator("#calendar-make").click()
    url = page.locator("#calendar-url").input_value()
    assert f"/api/v1/subjects/{subject}/calendar.ics?token=" in url
    feed = httpx.get(url, timeout=30)  # no API key: as a calendar app
    assert feed.status_code == 200 and b"BEGIN:VCALENDAR" in feed.content and b"Pat Programme" in feed.content
    page.locator("#calendar-off").click()
    expect(page.locator("#calendar-make")).to_have_text("Calendar link for photo reminders")
    assert httpx.get(url, timeout=30).status_code == 404

    page.goto(f"{server.base}/#/")
    row = page.locator(".subject-row", has_text="Pat Programme")
    expect(row.locator(".photo-due")).to_have_text(f"Next photo {overdue} days overdue")
    assert not tab.errors, tab.errors
