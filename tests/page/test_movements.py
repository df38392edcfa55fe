"""The movement tests on the page, in a real headless Chromium against a real `posture serve` with the
real model: a clip is uploaded, its job followed with a progress bar, and the result shown (deepest
frame, shin-angle curve, headline numbers) with the trend; a clip the library refuses shows the API's
code. The clip is the sports2d demo's walking woman (sample_images/clips/walk_side.mp4): no licensed
squat or lunge clip exists (docs/accuracy.md); as a lunge her steps give three reps, as a squat none.

Screenshots are written to test-artifacts/page/.
"""

from __future__ import annotations

from playwright.sync_api import expect

from posture.movement.measures import MOVEMENT_MEASURE_NAMES, SERIES_NAMES

from .conftest import SAMPLES, Server, Tab, sign_in_fast

CLIP = SAMPLES / "clips" / "walk_side.mp4"

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


def test_a_clip_is_uploaded_followed_and_shown(tab: Tab, server: Server, artifacts):
    page = tab.page
    subject = server.subject("Mo Vement")
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=2, name="Movement tests")).to_be_visible()
    expect(page.locator("#movements")).to_contain_text("No movement tests yet")
    page.evaluate(WATCH_PROGRESS)
    page.locator("#clip").set_input_files(CLIP)
    page.locator("#movement-test").select_option("lunge")
    expect(page.get_by_label("Mirror pass")).not_to_be_checked()
    page.locator("#movement-upload").click()

    view = page.locator(".movement-view")
    expect(view).to_have_attribute("data-test", "lunge", timeout=120_000)
    expect(page.locator("#movement-reps")).to_have_text("3 reps")
    page.wait_for_function(IMAGE_LOADED, arg="#movement-deepest", timeout=30_000)
    curve = page.locator("#movement-curve svg path.series")
    expect(curve).to_have_count(1)
    assert len(curve.get_attribute("d")) > 100  # one point per sampled frame
    expect(page.locator("#movement-curve svg line.rep-bottom")).to_have_count(3)
    measures = page.locator("#movement-measures")
    left = measures.locator("[data-measure=lunge_shin_peak_left_deg] .m-value").inner_text()
    right = measures.locator("[data-measure=lunge_shin_peak_right_deg] .m-value").inner_text()
    assert left.endswith("°") and right.endswith("°") and left != "\u2014" and right != "\u2014"
    # The progress bar followed the job: it moved, and its texts were the upload's and the analysis's.
    progress = page.evaluate("window.__movementProgress")
    texts = [text for _, text in progress]
    assert any(t.startswith("Uploading") for t in texts), texts
    assert any(t.startswith("Analysing") or t.startswith("Waiting") for t in texts), texts
    values = [value for value, _ in progress]
    assert values == sorted(values) or max(values) > 0, progress
    trend = page.locator("#movement-trend")
    expect(trend.locator("[data-measure=lunge_shin_peak_deg] svg.chart")).to_have_count(1)
    page.locator("#movements").screenshot(path=artifacts / "movements-lunge.png")

    # The same clip as a squat: the library finds no squat, and the page says so in the API's words.
    # With a movement shown, its form is folded under "Add a clip".
    expect(page.locator("#movement-test")).to_be_hidden()
    page.get_by_text("Add a clip").click()
    page.locator("#clip").set_input_files(CLIP)
    page.locator("#movement-test").select_option("squat")
    page.locator("#movement-upload").click()
    refusal = page.locator(".movement-message .alert-error")
    expect(refusal).to_have_attribute("data-code", "no_movement", timeout=120_000)
    expect(refusal).to_contain_text("No rep was found in the clip")
    # The lunge is still shown, and nothing else was added.
    expect(page.locator(".movement-items li")).to_have_count(1)

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
