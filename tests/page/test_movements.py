"""The movement tests on the page, in a real headless Chromium against a real `posture serve` with the
real model: a clip is uploaded, its job followed with a progress bar, and a clip the library refuses
shows the API's code and message. The real clip is the sports2d demo's walking woman
(sample_images/clips/walk_side.mp4): no licensed squat or lunge clip exists (docs/accuracy.md), and a
walk is not a lunge, so it is refused (`not_the_test`). The accepted result the page shows (deepest
frame, shin-angle curve, headline numbers, trend) is the library's analysis of a synthetic knee-to-wall
lunge (tests/synthetic_clip.py, a fake pose model on real decoded frames), stored as `posture batch
--store` stores one.

Screenshots are written to test-artifacts/page/.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import expect

from posture.movement.measures import MOVEMENT_MEASURE_NAMES, SERIES_NAMES

from ..synthetic_clip import Movement
from .conftest import SAMPLES, Server, Tab, sign_in_fast, store_knee_to_wall

CLIP = SAMPLES / "clips" / "walk_side.mp4"
# Its front heel rises near each bottom (20 % of foot length): those frames are marked on the curve.
KNEE_TO_WALL = Movement(
    lunge=True, shin_peak_deg=40.0, thigh_peak_deg=30.0, trunk_peak_deg=5.0, reps=3, heel_rise_px=14.0
)

# Records the progress bar's values and the status texts as they change.
WATCH_PROGRESS = """() => {
  window.__movementProgress = [];
  const bar = document.getElementById('movement-progress');
  const status = document.getElementById('movement-status');
  new MutationObserver(() => window.__movementProgress.push([bar.value, status.textContent]))
    .observe(status, {childList: true, characterData: true, subtree: true});
}"""

IMAGE_LOADED = """(selector) => {
  const img = document.querySelector(selector);
  return img !== null && img.complete && img.naturalWidth > 0;
}"""


def test_a_clip_is_uploaded_followed_refused_and_a_lunge_shown(tab: Tab, server: Server, artifacts, tmp_path):
    page = tab.page
    subject = server.subject("Mo Vement")
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=2, name="Movement tests")).to_be_visible()
    expect(page.locator("#movements")).to_contain_text("No movement tests yet")

    # The walk, as a lunge: followed with the progress bar, then refused in the API's words.
    page.evaluate(WATCH_PROGRESS)
    page.locator("#clip").set_input_files(CLIP)
    page.locator("#movement-test").select_option("lunge")
    expect(page.get_by_label("Mirror pass")).not_to_be_checked()
    page.locator("#movement-upload").click()
    refusal = page.locator(".movement-message .alert-error")
    expect(refusal).to_have_attribute("data-code", "not_the_test", timeout=120_000)
    expect(refusal).to_contain_text("The clip is not the test")
    expect(refusal).to_contain_text("walks across the picture")
    expect(refusal.locator(".alert-note")).to_have_text("Nothing was stored from “walk_side.mp4”.")
    progress = page.evaluate("window.__movementProgress")
    texts = [text for _, text in progress]
    assert any(t.startswith("Uploading") for t in texts), texts
    assert any(t.startswith("Analysing") or t.startswith("Waiting") for t in texts), texts
    values = [value for value, _ in progress]
    assert values == sorted(values) or max(values) > 0, progress
    page.locator("#movements").screenshot(path=artifacts / "movements-refused.png")
    expect(page.locator("#movements")).to_contain_text("No movement tests yet")

    # An accepted knee-to-wall lunge in the history: shown with its frame, curve, numbers and trend.
    stored = store_knee_to_wall(
        server, subject, tmp_path / "knee_to_wall.mp4", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), KNEE_TO_WALL
    )
    page.reload()
    view = page.locator(".movement-view")
    expect(view).to_have_attribute("data-test", "lunge", timeout=30_000)
    expect(page.locator("#movement-reps")).to_have_text("3 reps")
    page.wait_for_function(IMAGE_LOADED, arg="#movement-deepest", timeout=30_000)
    curve = page.locator("#movement-curve svg path.series")
    expect(curve).to_have_count(1)
    assert len(curve.get_attribute("d")) > 100  # one point per sampled frame
    expect(page.locator("#movement-curve svg line.rep-bottom")).to_have_count(3)
    # Each rep's bottom is a numbered dot on the curve; each heel-up frame a red tick.
    expect(page.locator("#movement-curve svg g.rep-dot")).to_have_count(3)
    assert page.locator("#movement-curve svg g.rep-dot text").all_text_contents() == ["1", "2", "3"]
    lifted = sum(len(r.heel_lifted_frames) for r in stored.reps)
    assert lifted > 0
    expect(page.locator("#movement-curve svg line.heel-up")).to_have_count(lifted)
    measures = page.locator("#movement-measures")
    peak = measures.locator("[data-measure=lunge_shin_peak_deg] .m-value").inner_text()
    assert peak == f"{stored.measures['lunge_shin_peak_deg']:.1f}°", peak
    trend = page.locator("#movement-trend")
    expect(trend.locator("[data-measure=lunge_shin_peak_deg] svg.chart")).to_have_count(1)
    page.locator("#movements").screenshot(path=artifacts / "movements-lunge.png")

    # Deleting it leaves the empty state again.
    page.locator("#movement-delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("#movements")).to_contain_text("No movement tests yet")
    assert not tab.errors, tab.errors


def test_every_movement_measure_and_curve_has_a_label(tab: Tab, server: Server):
    page = tab.page
    page.goto(server.base + "/")
    labels = page.evaluate(
        "import('/static/js/labels.js').then((m) => ({measures: Object.keys(m.MOVEMENT_MEASURES),"
        " series: Object.keys(m.MOVEMENT_SERIES), tests: Object.keys(m.MOVEMENT_TESTS)}))"
    )
    assert sorted(labels["measures"]) == sorted(MOVEMENT_MEASURE_NAMES)
    assert sorted(labels["series"]) == sorted(SERIES_NAMES)
    assert sorted(labels["tests"]) == ["lunge", "squat"]


def test_on_a_phone_a_refused_clip_says_nothing_was_stored_above_an_earlier_result(
    tab: Tab, server: Server, artifacts, tmp_path
):
    """At 390×844 the refusal sits right above the last stored result, whose title and date read as
    this clip's result: the refusal says nothing was stored from the clip and that the result below is
    an earlier one. It is on the screen after the tap and fits the screen's width."""
    page = tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    subject = server.subject("Phone Refusal")
    store_knee_to_wall(server, subject, tmp_path / "knee_to_wall.mp4", datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    page.locator("#tab-movements").click()
    expect(page.locator(".movement-view")).to_have_attribute("data-test", "lunge", timeout=30_000)
    page.locator("details.movement-add > summary").click()  # folded once a result is shown
    page.locator("#clip").set_input_files(CLIP)
    page.locator("#movement-test").select_option("squat")
    page.locator("#movement-upload").click()
    refusal = page.locator(".movement-message .alert-error")
    expect(refusal).to_have_attribute("data-code", "not_the_test", timeout=120_000)
    expect(refusal.locator(".alert-note")).to_have_text(
        "Nothing was stored from “walk_side.mp4”. The result below is from an earlier clip."
    )
    expect(refusal).to_be_in_viewport()
    box = refusal.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    expect(page.locator(".movement-view")).to_have_count(1)  # the earlier result is still shown
    refusal.screenshot(path=artifacts / "movements-phone-refused.png")
    assert not tab.errors, tab.errors


# A knee-to-wall lunge whose front shin leans back standing and peaks at about −5°: outside what the test
# can give, so its peak is shown but not scored (`withheld`), as on a real three-quarter phone clip.
IMPLAUSIBLE_KNEE_TO_WALL = Movement(
    lunge=True, shin_start_deg=-25.0, shin_peak_deg=-5.0, thigh_peak_deg=30.0, trunk_peak_deg=5.0, reps=3
)


def test_on_a_phone_a_number_not_scored_says_so_in_the_table_the_list_and_the_trend(
    tab: Tab, server: Server, artifacts, tmp_path
):
    """Two plausible lunges, then one whose peak shin is below 0°: at 390×844 its number is shown muted
    with "not scored" (and why) in the table and the list, and the trend draws it hollow, off the line
    that the two scored clips alone make, and says so under the chart."""
    page = tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    subject = server.subject("Not Scored")
    for day, shin in ((2, 38.0), (16, 42.0)):
        movement = Movement(lunge=True, shin_peak_deg=shin, thigh_peak_deg=30.0, trunk_peak_deg=5.0, reps=3)
        store_knee_to_wall(
            server, subject, tmp_path / f"lunge_{day}.mp4", datetime(2026, 3, day, 9, 0, tzinfo=UTC), movement
        )
    odd = store_knee_to_wall(
        server,
        subject,
        tmp_path / "odd.mp4",
        datetime(2026, 3, 23, 9, 0, tzinfo=UTC),
        IMPLAUSIBLE_KNEE_TO_WALL,
    )
    assert "lunge_shin_peak_deg" in odd.withheld
    peak = f"{odd.measures['lunge_shin_peak_deg']:+.1f}°".replace("-", "\u2212")
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    page.locator("#tab-movements").click()
    expect(page.locator(".movement-view")).to_have_attribute("data-test", "lunge", timeout=30_000)

    # The table: the latest (selected) movement's peak, muted, "not scored", with the reason.
    row = page.locator("#movement-measures [data-measure=lunge_shin_peak_deg]")
    expect(row).to_have_attribute("data-withheld", "true")
    expect(row.locator(".m-value")).to_contain_text(peak)
    expect(row.locator(".m-withheld")).to_have_text("not scored")
    expect(row.locator(".m-value")).to_have_attribute("title", re.compile("Outside what this test can give"))
    expect(page.locator("#movement-not-scored")).to_contain_text("the trend leaves it out")
    # The difference with that side is withheld too, but has no number here: nothing to mark.
    assert "lunge_asymmetry_deg" in odd.withheld and odd.measures["lunge_asymmetry_deg"] is None
    expect(page.locator("#movement-measures [data-measure=lunge_asymmetry_deg] .m-withheld")).to_have_count(0)
    value_colour = row.locator(".m-value").evaluate("(e) => getComputedStyle(e).color")
    heel = page.locator("#movement-measures [data-measure=lunge_heel_lift_pct]")
    assert value_colour != heel.locator(".m-value").evaluate("(e) => getComputedStyle(e).color")
    expect(heel).not_to_have_attribute("data-withheld", "true")
    expect(heel.locator(".m-withheld")).to_have_count(0)

    # The list: the odd one's row says so, the others do not.
    items = page.locator(".movement-items button")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text(f"{peak}not scored")
    expect(items.nth(0)).to_have_attribute("data-withheld", "true")
    expect(items.nth(1).locator(".m-withheld")).to_have_count(0)
    expect(items.nth(2).locator(".m-withheld")).to_have_count(0)

    # The trend: two scored points on the line and the fit, the odd one hollow, and the caption says it.
    card = page.locator("#movement-trend [data-measure=lunge_shin_peak_deg]")
    chart = card.locator("svg.chart")
    expect(chart).to_have_count(1)
    expect(chart.locator("circle.pt-withheld")).to_have_count(1)
    expect(chart.locator("circle.pt:not(.pt-withheld)")).to_have_count(2)
    expect(chart.locator("circle.pt-withheld title")).to_contain_text("not scored")
    expect(chart.locator("line.fit")).to_have_count(1)
    assert chart.locator("path.series").get_attribute("d").count("L") == 1  # the two scored points only
    expect(card.locator(".trend-withheld")).to_contain_text("1 clip’s value outside what the test can give")
    expect(chart).to_have_attribute("aria-label", re.compile("2 clips, 1 not scored"))
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.locator(".movement-view").screenshot(path=artifacts / "movements-phone-not-scored.png")
    page.locator("#movement-trend").screenshot(path=artifacts / "movements-phone-not-scored-trend.png")
    # The list under the sticky header: scrolled clear of it, the viewport as a phone shows it.
    page.locator(".movement-list").scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, -160)")
    page.screenshot(path=artifacts / "movements-phone-not-scored-list.png")
    assert not tab.errors, tab.errors


def test_on_a_phone_the_curve_marks_where_each_rep_s_quoted_peak_was_taken(
    tab: Tab, server: Server, artifacts, tmp_path
):
    """With the front heel up at each bottom, the peak a rep quotes (heel down) is half a second away from
    its numbered bottom dot: at 390×844 a diamond per rep marks it at its time and number, and the caption
    says what the dots and the diamonds are."""
    page = tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    subject = server.subject("Peak Marks")
    stored = store_knee_to_wall(
        server, subject, tmp_path / "knee_to_wall.mp4", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), KNEE_TO_WALL
    )
    assert all(r.peak_s is not None and r.peak_s != r.bottom_s for r in stored.reps)
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    page.locator("#tab-movements").click()
    expect(page.locator(".movement-view")).to_have_attribute("data-test", "lunge", timeout=30_000)
    chart = page.locator("#movement-curve svg")
    marks = chart.locator("path.rep-peak")
    expect(marks).to_have_count(len(stored.reps))
    assert [marks.nth(k).get_attribute("data-rep") for k in range(len(stored.reps))] == ["1", "2", "3"]
    for k, rep in enumerate(stored.reps):
        quoted = f"{rep.measures['lunge_shin_peak_deg']:+.1f}°".replace("-", "\u2212")
        expect(marks.nth(k).locator("title")).to_have_text(
            f"Rep {k + 1}: the peak it quotes, {quoted}, at {rep.peak_s:.2f} s (heel down)"
        )
    # Each diamond sits left or right of its rep's dot, by the time between them, and in its colour.
    dots = chart.locator("g.rep-dot circle")
    for k, rep in enumerate(stored.reps):
        dot, diamond = dots.nth(k).bounding_box(), marks.nth(k).bounding_box()
        centre = diamond["x"] + diamond["width"] / 2
        assert (centre - (dot["x"] + dot["width"] / 2)) * (rep.peak_s - rep.bottom_s) > 0, (dot, diamond)
        assert diamond["x"] >= 0 and diamond["x"] + diamond["width"] <= 390, diamond
    colour = "(e) => getComputedStyle(e).{}"
    assert marks.first.evaluate(colour.format("stroke")) == chart.locator("g.rep-dot text").first.evaluate(
        colour.format("fill")
    )
    caption = page.locator("#movement-curve-caption")
    expect(caption).to_contain_text("Numbered dots: each rep's bottom")
    expect(caption).to_contain_text("diamonds: the peak each rep quotes, with the heel down")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.locator(".movement-curve").scroll_into_view_if_needed()
    page.locator(".movement-curve").screenshot(path=artifacts / "movements-phone-peak-marks.png")
    assert not tab.errors, tab.errors
