"""The subject's page on a phone (390 × 844) and a laptop (1280 × 800), in a real headless Chromium
against a real `posture serve` with the real model: the section bar reaches every section in one tap,
no element is wider than the screen, the history is one row per visit, and the compare table fits.

Two subjects as a person would have them: 2 photos on two days; 14 photos in five visits and two
lunge clips. The page heights are written to test-artifacts/page/heights.json (docs/page.md quotes
them); screenshots to test-artifacts/page/.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import SAMPLES, Server, Tab, sign_in_fast, store_knee_to_wall

CLIP = SAMPLES / "clips" / "walk_side.mp4"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
SECTIONS = ["analysis", "history", "trends", "movements", "programmes", "add", "report"]

# Photos the quality gate accepts (the walking woman of the sports2d demo, side on).
PHOTOS = ["walk_side_f0110.jpg", "walk_side_f0128.jpg", "walk_side_f0091.jpg", "walk_side_f0165.jpg"]
# Five visits over nine weeks, three shots each (one visit of two): 14 photos.
SCHEDULE = [
    ("2026-10-04T08:00:00", 3),
    ("2026-10-18T08:10:00", 3),
    ("2026-11-01T07:55:00", 3),
    ("2026-11-15T08:05:00", 2),
    ("2026-12-06T08:00:00", 3),
]

# Elements wider than the viewport or reaching past its right edge (what makes a page scroll sideways
# or cuts text), ignoring what a scrolling box of its own clips on purpose.
TOO_WIDE = """() => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (el.closest('.sprite, .visually-hidden, dialog:not([open])')) continue;
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') { clipped = true; break; }
    }
    if (clipped) continue;
    if (r.width > vw + 0.5 || r.right > vw + 0.5 || r.left < -0.5) {
      const name = `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')}`;
      out.push(`${name} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  return out.slice(0, 20);
}"""

# Boxes whose content is wider than the box (sideways scroll inside the page, or cut text).
OVERFLOWING = """(selector) => [...document.querySelectorAll(selector)]
  .filter((el) => el.scrollWidth > el.clientWidth + 1)
  .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`
                + ` ${el.scrollWidth}>${el.clientWidth}`)"""


def _upload(server: Server, subject: str, photo: str, taken_at: str) -> None:
    files = {"photo": (photo, (SAMPLES / photo).read_bytes(), "image/jpeg")}
    server.api("POST", f"/subjects/{subject}/analyses", files=files, data={"taken_at": taken_at})


def _clip(server: Server, subject: str, taken_at: str, folder: Path) -> None:
    # A walk is refused as a lunge (not_the_test): the history's lunges are synthetic knee-to-wall ones.
    when = datetime.fromisoformat(taken_at).replace(tzinfo=UTC)
    store_knee_to_wall(server, subject, folder / f"lunge-{when:%Y%m%d}.mp4", when)


@pytest.fixture(scope="module")
def subjects(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    two = server.subject("Nav Two Photos")
    _upload(server, two, PHOTOS[0], "2026-11-15T08:00:00")
    _upload(server, two, PHOTOS[1], "2026-12-06T08:00:00")
    many = server.subject("Nav Fourteen Photos")
    n = 0
    for start, shots in SCHEDULE:
        for i in range(shots):
            when = start[:-5] + f"{int(start[-5:-3]) + 2 * i:02d}:00"
            _upload(server, many, PHOTOS[n % len(PHOTOS)], when)
            n += 1
    folder = tmp_path_factory.mktemp("clips")
    _clip(server, many, "2026-11-01T09:00:00", folder)
    _clip(server, many, "2026-12-06T09:00:00", folder)
    return {"two": two, "many": many}


def _open(page, server: Server, subject: str, name: str) -> None:
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    page.wait_for_selector("#trends .trend-card", state="attached", timeout=30_000)
    page.wait_for_load_state("networkidle")


def _height(page) -> int:
    return page.evaluate("() => document.documentElement.scrollHeight")


def _section_top(page, section: str) -> float | None:
    return page.evaluate(
        "(id) => { const el = document.querySelector(`[data-section=${id}]`);"
        " return el && el.offsetParent ? el.getBoundingClientRect().top + scrollY : null; }",
        section,
    )


def test_page_heights_are_measured(tab: Tab, server: Server, subjects, artifacts: Path):
    """The subject page's height at 390 × 844 with each section shown, for docs/page.md (the figure
    itself is not asserted beyond "shorter than all sections stacked": the reach is what the other
    tests check)."""
    page = tab.page
    page.set_viewport_size(PHONE)
    figures = {}
    for key, name in (("two", "Nav Two Photos"), ("many", "Nav Fourteen Photos")):
        _open(page, server, subjects[key], name)
        per_section = {}
        for section in SECTIONS:
            page.locator(f"#tab-{section}").click()
            if section == "movements" and key == "many":
                page.wait_for_selector(".movement-view", timeout=30_000)
            page.wait_for_timeout(300)
            per_section[section] = _height(page)
        figures[key] = {
            "height_px_by_section": per_section,
            "tallest_px": max(per_section.values()),
            "tallest_screens": round(max(per_section.values()) / PHONE["height"], 1),
            "stacked_px": sum(per_section.values()),
        }
    out = artifacts / "heights.json"
    out.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    for f in figures.values():
        assert f["tallest_px"] < f["stacked_px"] / 2


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_every_section_is_one_tap_away_and_nothing_is_wider_than_the_screen(
    tab: Tab, server: Server, browser_context, subjects, artifacts: Path, size: dict
):
    """From the top of the page, one tap on the section bar brings each section's heading into view,
    under the sticky bars; on a phone it is the only section shown. No element passes the screen's edge."""
    page = tab.page
    page.set_viewport_size(size)
    tag = "phone" if size is PHONE else "laptop"
    _open(page, server, subjects["many"], "Nav Fourteen Photos")
    bar = page.get_by_role("navigation", name="Sections of this page")
    expect(bar).to_be_visible()
    # Every tab's label is whole and inside its own tab (a long one once spilled onto its neighbour).
    assert page.evaluate(OVERFLOWING, ".section-tab, .section-tab > span") == []
    for section in SECTIONS:
        page.evaluate("() => window.scrollTo(0, 0)")
        page.locator(f"#tab-{section}").click()
        page.wait_for_timeout(900)  # a smooth scroll ends
        part = page.locator(f"[data-section={section}]")
        heading = part.locator("h2").first
        expect(heading).to_be_visible()
        box = heading.bounding_box()
        bar_box = bar.bounding_box()
        # In view and not under the sticky bars.
        assert box["y"] >= bar_box["y"] + bar_box["height"] - 1, (section, box, bar_box)
        assert box["y"] + box["height"] <= size["height"], (section, box)
        expect(page.locator(f"#tab-{section}")).to_have_attribute("aria-current", "true")
        if size is PHONE:
            shown = page.evaluate(
                "() => [...document.querySelectorAll('.subject-grid > [data-section]')]"
                ".filter((el) => el.offsetParent).map((el) => el.dataset.section)"
            )
            assert shown == [section]
        assert page.evaluate(TOO_WIDE) == [], section
        assert not re.search(r"\b(null|undefined|NaN)\b", part.inner_text()), section
        page.screenshot(path=artifacts / f"40-nav-{tag}-{section}.png")
    # The bar stays on screen down the page.
    page.locator("#tab-trends").click()
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(300)
    assert 0 <= bar.bounding_box()["y"] <= 80
    assert tab.errors == [] and browser_context.outside_requests == []


def test_history_is_one_row_per_visit_and_opens_to_its_shots(
    tab: Tab, server: Server, browser_context, subjects, artifacts: Path
):
    page = tab.page
    page.set_viewport_size(PHONE)
    _open(page, server, subjects["many"], "Nav Fourteen Photos")
    page.locator("#tab-history").click()
    visits = page.locator("#history .visit")
    expect(visits).to_have_count(len(SCHEDULE))
    # The visit of the photo shown (the latest) is open; the others are one row each.
    open_shots = page.locator("#history .shots:visible")
    expect(open_shots).to_have_count(1)
    expect(visits.first.locator(".shots")).to_be_visible()
    second = visits.nth(2)  # 1 Nov: three shots (newest first: 6 Dec, 15 Nov, 1 Nov...)
    toggle = second.get_by_role("button", name="Shots of the visit of")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    row = second.locator(".visit-head").bounding_box()
    assert row["height"] < 80  # one row: tick, date and meta, score, chevron
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(second.locator(".tl-item")).to_have_count(3)
    expect(second.locator(".tl-item").first).to_be_visible()
    page.screenshot(path=artifacts / "41-nav-phone-history-open.png")
    # A shot opens the analysis section, at once.
    second.locator(".tl-link").first.click()
    expect(page.locator("#tab-analysis")).to_have_attribute("aria-current", "true")
    expect(page.locator("#analysis-title")).to_be_in_viewport()
    expect(page.locator("#analysis-title")).to_contain_text("1 Nov 2026")
    assert page.evaluate(TOO_WIDE) == []
    assert tab.errors == [] and browser_context.outside_requests == []


def test_compare_table_fits_a_phone(tab: Tab, server: Server, browser_context, subjects, artifacts: Path):
    page = tab.page
    page.set_viewport_size(PHONE)
    visits = server.api("GET", f"/subjects/{subjects['many']}/visits").json()["items"]
    a, b = visits[0]["id"], visits[-1]["id"]
    sign_in_fast(page, server, f"/#/subjects/{subjects['many']}/compare/{a}/{b}")
    expect(page.locator(".diff-table")).to_be_visible(timeout=30_000)
    assert page.evaluate(OVERFLOWING, ".table-scroll, .diff-table, .diff-table td, .diff-table th") == []
    assert page.evaluate(TOO_WIDE) == []
    # Every verdict is read whole ("Beyond noise", not "Beyond nois").
    for pill in page.locator(".verdict-pill").all():
        assert pill.evaluate(
            "(el) => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().right <= 390"
        )
    page.locator(".diff-table").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "42-compare-phone-table.png", full_page=True)
    assert tab.errors == [] and browser_context.outside_requests == []


def test_compare_with_names_the_time_when_that_day_has_other_photos(
    tab: Tab, server: Server, browser_context, subjects
):
    page = tab.page
    page.set_viewport_size(LAPTOP)
    _open(page, server, subjects["many"], "Nav Fourteen Photos")
    # The latest photo's previous one was taken the same day (the visit's second shot).
    expect(page.locator("#analysis").get_by_role("link", name="Compare with")).to_have_text(
        "Compare with 6 Dec 2026, 08:02 UTC"
    )
    _open(page, server, subjects["two"], "Nav Two Photos")
    expect(page.locator("#analysis").get_by_role("link", name="Compare with")).to_have_text(
        "Compare with 15 Nov 2026"
    )
    assert tab.errors == [] and browser_context.outside_requests == []


def test_long_names_that_differ_at_the_end_are_told_apart(
    tab: Tab, server: Server, browser_context, artifacts: Path
):
    base = "Bartholomew Alexander Fitzgerald-Montgomery of Little Hampton"
    names = [f"{base} (right knee)", f"{base} (left knee)"]
    for name in names:
        server.subject(name)
    page = tab.page
    page.set_viewport_size(PHONE)
    sign_in_fast(page, server, "/#/")
    expect(page.get_by_role("heading", level=1, name="Subjects")).to_be_visible()
    shown = []
    for name in names:
        link = page.get_by_role("link", name=name)
        expect(link).to_be_visible()
        tail = link.locator(".name-tail")
        expect(tail).to_be_visible()
        box = tail.bounding_box()
        assert box["x"] + box["width"] <= PHONE["width"]
        shown.append(tail.inner_text())
    assert shown[0] != shown[1] and "right knee" in shown[0] and "left knee" in shown[1]
    assert page.evaluate(TOO_WIDE) == []
    page.screenshot(path=artifacts / "43-long-names-tails-phone.png")
    assert tab.errors == [] and browser_context.outside_requests == []


def test_a_toast_does_not_cover_a_warning(
    tab: Tab, server: Server, browser_context, subjects, artifacts: Path
):
    """A warning at the foot of the screen: the toast goes to the top instead."""
    page = tab.page
    page.set_viewport_size(PHONE)
    _open(page, server, subjects["two"], "Nav Two Photos")
    page.evaluate(
        """() => {
          const note = document.createElement('div');
          note.className = 'alert alert-warn';
          note.id = 'test-warning';
          note.textContent = 'A warning at the foot of the screen.';
          document.querySelector('.subject-grid > .is-active').append(note);
          note.scrollIntoView({block: 'end'});
        }"""
    )
    page.evaluate("async () => (await import('/static/js/ui.js')).toast('Photo analysed: overall 80 / 100.')")
    toast = page.locator(".toast")
    expect(toast).to_be_visible()
    t, w = toast.bounding_box(), page.locator("#test-warning").bounding_box()
    assert t["y"] + t["height"] <= w["y"] or w["y"] + w["height"] <= t["y"], (t, w)
    page.screenshot(path=artifacts / "44-toast-over-no-warning-phone.png")
    # Tapped, it goes.
    toast.click()
    expect(toast).to_have_count(0)
    assert tab.errors == [] and browser_context.outside_requests == []


def test_after_an_upload_on_a_phone_its_analysis_is_one_tap_away(
    tab: Tab, server: Server, browser_context, artifacts: Path
):
    subject = server.subject("Nav Upload")
    page = tab.page
    page.set_viewport_size(PHONE)
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=1, name="Nav Upload")).to_be_visible()
    # A subject without photos opens on Add.
    expect(page.locator("#tab-add")).to_have_attribute("aria-current", "true")
    page.locator("#photo").set_input_files(SAMPLES / PHOTOS[0])
    page.locator("#upload-button").click()
    see = page.get_by_role("button", name="See its analysis")
    expect(see).to_be_visible(timeout=60_000)
    # The invitation is on the screen, and the toast is not over it.
    expect(see).to_be_in_viewport()
    toast = page.locator(".toast")
    expect(toast).to_be_visible()
    page.wait_for_timeout(600)  # the smooth scroll to the invitation ends, the toast is placed again
    t, i = toast.bounding_box(), page.locator(".upload-invite").bounding_box()
    assert t["y"] + t["height"] <= i["y"] or i["y"] + i["height"] <= t["y"], (t, i)
    page.screenshot(path=artifacts / "45-nav-phone-after-upload.png")
    see.click()
    expect(page.locator("#tab-analysis")).to_have_attribute("aria-current", "true")
    expect(page.locator("#analysis-title")).to_be_in_viewport()
    expect(page.locator("#analysis .overlay-img")).to_be_visible(timeout=30_000)
    assert page.evaluate(TOO_WIDE) == []
    assert tab.errors == [] and browser_context.outside_requests == []
