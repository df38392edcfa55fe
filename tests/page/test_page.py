"""The web page in a real headless Chromium against a real server with the real pose model.

A user signs in with a key from `posture users create`, creates a subject, uploads two side photos
with different dates, reads the overlay and the scores, sees the trend charts with both photos and the
noise band, compares the two photos side by side, and gets the API's message for a refused photo.
Separate tests check the phone layout (390 × 844, no horizontal scroll), keyboard access, labels, alt
texts and contrast, and the subject list's create / rename / delete.

Screenshots are written to test-artifacts/page/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import KEY_STORAGE, SAMPLES, Server, Tab, sign_in_fast

SIDE = "walk_side_f0128.jpg"
CROP = "walk_side_crop_f0128.jpg"
FRONTAL = "frontal_man.jpg"

# Records the upload status texts (progress, then "Analysing") as they change.
WATCH_UPLOAD = """() => {
  window.__uploadStatus = [];
  const status = document.getElementById('upload-status');
  new MutationObserver(() => window.__uploadStatus.push(status.textContent))
    .observe(status, {childList: true, characterData: true, subtree: true});
}"""

OVERLAY_LOADED = """(selector) => {
  const images = [...document.querySelectorAll(selector)];
  return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
}"""

NO_HORIZONTAL_SCROLL = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"

# Every visible text against its composited background: WCAG AA (4.5:1, 3:1 for large text).
CONTRAST_FAILURES = """() => {
  const parse = (c) => {
    const m = c && c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const blend = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = {r: 255, g: 255, b: 255, a: 1};
    for (const c of layers.reverse()) bg = blend(c, bg);
    return bg;
  };
  const failures = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const skip = '[hidden], .visually-hidden, .sprite, button:disabled, noscript, title, option';
    if (el.closest(skip)) continue;
    const rect = el.getBoundingClientRect();
    if (!rect.width || !rect.height) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    const inSvg = el instanceof SVGElement;
    const fgRaw = parse(inSvg ? style.fill : style.color);
    if (!fgRaw) continue;
    const bg = background(inSvg ? el.closest('svg').parentElement : el);
    const fg = blend(fgRaw, bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
    const need = large ? 3 : 4.5;
    if (ratio < need - 0.01) {
      failures.push(`${ratio.toFixed(2)} < ${need}: "${node.textContent.trim().slice(0, 40)}"`);
    }
  }
  return failures;
}"""

UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.type !== 'hidden')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby'))
  .map((el) => el.outerHTML.slice(0, 100))"""

IMAGES_WITHOUT_ALT = "() => [...document.images].filter((i) => !i.hasAttribute('alt')).map((i) => i.src)"


def upload(page, photo: str, date: str | None = None) -> None:
    page.locator("#photo").set_input_files(SAMPLES / photo)
    expect(page.locator(".drop .file-name")).to_have_text(photo)
    if date:
        page.get_by_label("Date taken").fill(date)
    page.evaluate(WATCH_UPLOAD)
    page.get_by_role("button", name="Analyse photo").click()


def screenshot(target, path) -> None:
    """A full-page screenshot, or one element's part of it (so sticky bars stay where they belong),
    without the transient status toast."""
    page = getattr(target, "page", target)
    page.evaluate("() => document.getElementById('toast').replaceChildren()")
    if target is page:
        page.screenshot(path=path, full_page=True)
        return
    page.evaluate("() => window.scrollTo(0, 0)")
    box = target.bounding_box()
    page.screenshot(path=path, full_page=True, clip=box)


def wait_for_overlays(page, selector: str, count: int) -> None:
    expect(page.locator(selector)).to_have_count(count, timeout=60_000)
    page.wait_for_function(OVERLAY_LOADED, arg=selector)


def assert_clean(tab: Tab, context) -> None:
    assert tab.errors == [], tab.errors
    assert context.outside_requests == [], f"requests left the server: {context.outside_requests}"


def test_sign_in_upload_overlay_scores_trends_compare_and_a_refused_photo(
    server: Server, tab: Tab, browser_context, artifacts
):
    page = tab.page
    page.goto(server.base + "/")
    assert page.get_attribute("html", "lang") == "en"
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.locator(".server-status")).to_have_text("Server ready")
    screenshot(page, artifacts / "01-sign-in.png")

    # A wrong key is refused with the API's code; the right one is kept in this tab only.
    page.get_by_label("API key").fill("not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    refusal = page.locator(".signin-form .alert-error")
    expect(refusal).to_contain_text("Key not accepted")
    expect(refusal).to_contain_text("invalid_api_key")
    page.get_by_label("API key").fill(server.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Subjects")).to_be_visible()
    assert page.evaluate("(k) => sessionStorage.getItem(k)", KEY_STORAGE) == server.key
    assert page.evaluate("() => localStorage.length") == 0 and page.context.cookies() == []

    # Create a subject: its page opens, empty.
    page.get_by_label("Add a subject").fill("Sam Walker")
    page.get_by_role("button", name="Add subject").click()
    expect(page.get_by_role("heading", level=1, name="Sam Walker")).to_be_visible()
    expect(page.locator("#analysis .empty-title")).to_have_text("No photos yet")
    expect(page.locator("#trends .empty-title")).to_have_text("No trend yet")
    screenshot(page, artifacts / "02-subject-empty.png")

    # First photo: progress, then the overlay, the scores, the measures and the findings.
    upload(page, SIDE, "2026-01-05")
    expect(page.locator("#analysis-title")).to_contain_text("Photo of 5 Jan 2026", timeout=60_000)
    statuses = page.evaluate("() => window.__uploadStatus")
    assert any(s.startswith("Uploading") for s in statuses) and "Analysing the photo…" in statuses, statuses
    wait_for_overlays(page, ".analysis .overlay-img", 1)
    assert page.evaluate("() => document.querySelector('.analysis .overlay-img').naturalWidth") == 720
    overall_text = re.compile(r"^\d{1,3} / 100 · (Good|Mild|Marked)$")
    expect(page.locator("[data-test=overall-score]")).to_have_text(overall_text)
    expect(page.locator(".areas .area-row")).to_have_count(4)
    expect(page.locator(".areas .area-score")).to_have_text([re.compile(r"^\d{1,3}$")] * 4)
    for name in ("pelvic_tilt_deg", "lumbar_lordosis_deg"):
        expect(page.locator(f".measure-table tr[data-measure={name}]")).to_contain_text("(estimate)")
        expect(page.locator(f".measure-table tr[data-measure={name}] .value")).to_have_text(re.compile("°$"))
    expect(page.locator(".disclaimer")).to_contain_text("not a medical assessment")
    expect(page.locator(".tl-item")).to_have_count(1)

    # Second photo, a later date: it becomes the latest; the history has both.
    upload(page, CROP, "2026-02-10")
    expect(page.locator("#analysis-title")).to_contain_text("Photo of 10 Feb 2026", timeout=60_000)
    expect(page.locator("#analysis-title .badge")).to_have_text("Latest")
    wait_for_overlays(page, ".analysis .overlay-img", 1)
    expect(page.locator(".tl-item")).to_have_count(2)
    # Two days: two visits of one shot each, newest first.
    expect(page.locator(".visit .visit-date")).to_have_text(["10 Feb 2026", "5 Jan 2026"])
    expect(page.locator(".visit .visit-meta").first).to_contain_text("1 shot")
    screenshot(page, artifacts / "03-subject-two-photos.png")

    # Trends: the overall score on top, then one chart per measure, each with both photos, the noise
    # band, and a caption that agrees with the API's beyond_noise.
    trends_card = page.locator("#trends")
    overall = trends_card.locator(".trend-card").first
    assert overall.get_attribute("data-measure") == "overall_score"
    expect(overall.locator("svg circle.pt")).to_have_count(2)
    expect(overall.locator("svg .band rect")).to_have_count(1)
    subject_id = page.url.split("/subjects/")[1].split("/")[0]
    trends = server.api("GET", f"/subjects/{subject_id}/trends").json()
    shown = trends_card.locator(".trend-grid > .trend-card")
    assert shown.count() >= 6
    for i in range(shown.count()):
        card = shown.nth(i)
        name = card.get_attribute("data-measure")
        expected = trends["measures"][name]
        expect(card.locator("svg circle.pt")).to_have_count(expected["n"])
        verdict = "Change beyond noise" if expected["beyond_noise"] else "Change within noise"
        expect(card.locator(".trend-caption")).to_contain_text(verdict)
        # The fitted line ends inside the shaded band exactly when the change is within noise.
        band_top, band_bottom, fit_end = card.evaluate(
            """(c) => {
              const r = c.querySelector('.band rect'), f = c.querySelector('line.fit');
              const y = +r.getAttribute('y');
              return [y, y + +r.getAttribute('height'), +f.getAttribute('y2')];
            }"""
        )
        assert (band_top <= fit_end <= band_bottom) == (not expected["beyond_noise"]), name
    screenshot(trends_card, artifacts / "04-trends.png")

    # Compare: tick both visits; the overlays side by side at one size, the differences vs noise.
    page.get_by_label("Select the visit of 5 Jan 2026 for comparison").check()
    expect(page.get_by_role("button", name="Compare selected")).to_be_disabled()
    page.get_by_label("Select the visit of 10 Feb 2026 for comparison").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.get_by_role("heading", level=1, name="Compare two visits")).to_be_visible()
    wait_for_overlays(page, ".compare-figure .overlay-img", 2)
    boxes = [page.locator(".compare-figure .overlay-img").nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["width"] == pytest.approx(boxes[1]["width"], abs=0.5)
    assert boxes[0]["height"] == pytest.approx(boxes[1]["height"], abs=0.5)
    assert boxes[0]["y"] == pytest.approx(boxes[1]["y"], abs=0.5)  # same canvas: ankles level
    assert boxes[1]["x"] > boxes[0]["x"] + boxes[0]["width"] - 1  # side by side
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('.compare-figure .overlay-img')]"
        ".map((i) => [i.naturalWidth, i.naturalHeight])"
    )
    assert sizes == [[720, 1280], [720, 1280]]
    expect(page.locator(".compare-figure figcaption")).to_contain_text(["5 Jan 2026", "10 Feb 2026"])

    a_id, b_id = page.url.split("/compare/")[1].split("/")
    comparison = server.api("GET", "/compare", params={"a": a_id, "b": b_id}).json()
    assert comparison["a"]["taken_at"].startswith("2026-01-05")
    rows = page.locator(".diff-table tbody tr")
    assert rows.count() >= 10
    assert rows.first.get_attribute("data-measure") == "overall_score"
    for i in range(rows.count()):
        row = rows.nth(i)
        entry = comparison["measures"][row.get_attribute("data-measure")]
        if entry["within_noise"] is None:
            continue
        expect(row).to_contain_text("Within noise" if entry["within_noise"] else "Beyond noise")
    expect(page.locator(".compare-summary")).to_contain_text(re.compile("change (within|beyond) noise"))
    screenshot(page, artifacts / "05-compare.png")

    # The same two overlays stacked, B over A with a slider: equal boxes, one on the other.
    page.get_by_role("button", name="Overlaid").click()
    wait_for_overlays(page, ".blend-frame .overlay-img", 2)
    stacked = [page.locator(".blend-frame .overlay-img").nth(i).bounding_box() for i in range(2)]
    assert stacked[0] == pytest.approx(stacked[1], abs=0.5)
    page.get_by_label("Mix A and B").fill("80")
    assert page.evaluate("() => getComputedStyle(document.querySelector('.blend-top')).opacity") == "0.8"
    screenshot(page.locator(".compare-overlays"), artifacts / "05b-compare-overlaid.png")
    page.get_by_role("button", name="Side by side").click()
    expect(page.locator(".compare-figure .overlay-img")).to_have_count(2)

    # A frontal photo is refused: the API's code and message are shown, nothing is stored.
    page.get_by_role("link", name="Back to Sam Walker").click()
    expect(page.get_by_role("heading", level=1, name="Sam Walker")).to_be_visible()
    upload(page, FRONTAL)
    refused = page.locator(".upload-message .alert-error")
    expect(refused).to_be_visible(timeout=60_000)
    assert refused.get_attribute("data-code") == "not_side_view"
    expect(refused).to_contain_text("Not a side view")
    expect(refused).to_contain_text("side-on")  # the API's own message
    expect(refused).to_contain_text("not_side_view")
    expect(page.locator(".tl-item")).to_have_count(2)
    refused.scroll_into_view_if_needed()
    screenshot(page.locator("#main .upload"), artifacts / "06-refused-photo.png")
    assert server.api("GET", f"/subjects/{subject_id}").json()["analysis_count"] == 2

    assert_clean(tab, browser_context)


def test_shots_of_one_session_form_a_visit_and_two_visits_are_compared(
    server: Server, tab: Tab, browser_context, artifacts
):
    """The upload form invites the next shot of the visit; the history groups shots by visit with their
    spread; the trends have one point per visit; two visits compare by their medians, each shown by its
    most central shot, and every band says where it comes from."""
    page = tab.page
    subject = server.subject("Vera Visits")
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=1, name="Vera Visits")).to_be_visible()

    upload(page, SIDE, "2026-05-04")
    invite = page.locator(".upload-invite")
    expect(invite).to_contain_text("Shot 1 of the visit of 4 May 2026", timeout=60_000)
    expect(invite).to_contain_text("asks for 3")
    page.get_by_role("button", name="Add another shot to this visit").click()
    expect(page.get_by_label("Date taken")).to_have_value("2026-05-04")  # kept: the shot joins the visit
    expect(invite).to_contain_text("The next photo joins the visit of 4 May 2026 (1 shot so far)")
    upload(page, CROP)
    expect(invite).to_contain_text("Shot 2 of the visit of 4 May 2026", timeout=60_000)
    expect(page.locator(".visit")).to_have_count(1)
    visit = page.locator(".visit").first
    expect(visit.locator(".tl-item")).to_have_count(2)
    expect(visit.locator(".visit-meta")).to_contain_text("Standing · 2 shots")
    expect(visit.locator(".tl-item .tl-date")).to_have_text(["Shot 1", "Shot 2"])

    # A second visit of two shots a month later, through the API.
    server.upload(subject, SIDE, "2026-06-01T09:00:00Z")
    server.upload(subject, CROP, "2026-06-01T09:10:00Z")
    page.reload()
    expect(page.locator(".visit")).to_have_count(2)
    expect(page.locator(".visit .visit-date")).to_have_text(["1 Jun 2026", "4 May 2026"])
    visits = server.api("GET", f"/subjects/{subject}/visits").json()["items"]
    assert [v["n"] for v in visits] == [2, 2]

    # Trends: one point per visit; a bar for each visit whose shots differ; the band's source in words.
    trends = server.api("GET", f"/subjects/{subject}/trends").json()
    assert trends["by"] == "visit" and trends["n"] == 2 and trends["shots"] == [2, 2]
    overall_card = page.locator("#trends .trend-card").first
    expect(overall_card.locator("svg circle.pt")).to_have_count(2)
    spread = trends["measures"]["overall_score"]["spread"]
    expect(overall_card.locator("svg .spread line")).to_have_count(sum(1 for s in spread if s))
    expect(page.locator(".trends-summary")).to_contain_text("2 visits (4 photos)")
    cards = page.locator("#trends .trend-grid > .trend-card")
    for i in range(cards.count()):
        name = cards.nth(i).get_attribute("data-measure")
        entry = trends["measures"][name]
        words = (
            "personal band from" if entry["noise_source"] == "personal" else "software floor from the rules"
        )
        expect(cards.nth(i).locator(".trend-band")).to_contain_text(words)
    # Two visits of two shots are below the three a personal band needs: the page says so.
    expect(overall_card.locator(".trend-band")).to_contain_text("a personal band needs 3 visits")
    screenshot(page.locator("#history"), artifacts / "13-history-visits.png")

    # Compare the two visits: medians, each side shown by its shot nearest the medians.
    page.get_by_label("Select the visit of 4 May 2026 for comparison").check()
    page.get_by_label("Select the visit of 1 Jun 2026 for comparison").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.get_by_role("heading", level=1, name="Compare two visits")).to_be_visible()
    wait_for_overlays(page, ".compare-figure .overlay-img", 2)
    comparison = server.api("GET", "/compare", params={"a": visits[0]["id"], "b": visits[1]["id"]}).json()
    shown = [
        page.locator(".compare-figure .overlay-img").nth(i).get_attribute("data-analysis") for i in range(2)
    ]
    assert shown == [comparison["a"]["central_analysis_id"], comparison["b"]["central_analysis_id"]]
    expect(page.locator(".compare-figure figcaption").first).to_contain_text(
        "Visit of 2 shots · median overall"
    )
    rows = page.locator(".diff-table tbody tr")
    for i in range(rows.count()):
        entry = comparison["measures"][rows.nth(i).get_attribute("data-measure")]
        if entry["within_noise"] is None:
            continue
        words = (
            "personal band from" if entry["noise_source"] == "personal" else "software floor from the rules"
        )
        expect(rows.nth(i).locator(".verdict-source")).to_have_text(re.compile(words))
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    screenshot(page, artifacts / "14-compare-visits.png")
    assert_clean(tab, browser_context)


@pytest.fixture(scope="module")
def seeded(server: Server) -> tuple[str, str, str]:
    """A subject with two analysed photos, uploaded through the API."""
    subject = server.subject("Robin Phone")
    a = server.upload(subject, SIDE, "2026-03-02T09:00:00Z")
    b = server.upload(subject, CROP, "2026-03-30T09:00:00Z")
    return subject, a["id"], b["id"]


def test_phone_width_has_no_horizontal_scroll(server: Server, tab: Tab, browser_context, artifacts, seeded):
    subject, a, b = seeded
    page = tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.base + "/")
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    screenshot(page, artifacts / "07-phone-sign-in.png")

    sign_in_fast(page, server, "/#/")
    expect(page.get_by_role("heading", level=1, name="Subjects")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Robin Phone"))).to_be_visible()
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    screenshot(page, artifacts / "08-phone-subjects.png")

    page.get_by_role("link", name=re.compile("Robin Phone")).click()
    expect(page.get_by_role("heading", level=1, name="Robin Phone")).to_be_visible()
    wait_for_overlays(page, ".analysis .overlay-img", 1)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    screenshot(page, artifacts / "09-phone-subject.png")
    # On a phone the sections are tabs (tests/page/test_navigation.py): the overlay, the charts and the
    # upload form each fit the screen in theirs.
    for tab_id, selector in (
        ("analysis", ".analysis .overlay-img"),
        ("trends", "[data-measure=overall_score] svg.chart"),
        ("add", "#upload-button"),
    ):
        page.locator(f"#tab-{tab_id}").click()
        if tab_id == "trends":
            expect(page.locator("[data-measure=overall_score] svg circle.pt")).to_have_count(2)
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
        assert page.evaluate(NO_HORIZONTAL_SCROLL)

    page.goto(f"{server.base}/#/subjects/{subject}/compare/{a}/{b}")
    expect(page.get_by_role("heading", level=1, name="Compare two photos")).to_be_visible()
    wait_for_overlays(page, ".compare-figure .overlay-img", 2)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    boxes = [page.locator(".compare-figure .overlay-img").nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["y"] == pytest.approx(boxes[1]["y"], abs=0.5)  # still side by side on a phone
    assert boxes[0]["width"] == pytest.approx(boxes[1]["width"], abs=0.5)
    screenshot(page, artifacts / "10-phone-compare.png")
    assert_clean(tab, browser_context)


def test_keyboard_labels_alt_texts_and_contrast(server: Server, tab: Tab, browser_context, artifacts, seeded):
    subject, a, b = seeded
    page = tab.page
    page.goto(server.base + "/")
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate(CONTRAST_FAILURES) == []
    assert page.evaluate(UNLABELLED_CONTROLS) == []

    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=1, name="Robin Phone")).to_be_visible()
    wait_for_overlays(page, ".analysis .overlay-img", 1)
    expect(page.locator("[data-measure=overall_score] svg circle.pt")).to_have_count(2)

    # From the top of the page, Tab reaches the skip link first, then the photo input and the upload
    # button (real controls, in reading order), each with a visible focus outline.
    assert page.evaluate("() => document.activeElement === document.body")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    reached = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => document.activeElement.id || document.activeElement.tagName"))
        if reached[-1] == "upload-button":
            break
    assert reached[-1] == "upload-button", reached
    assert "photo" in reached and reached.index("photo") < reached.index("upload-button")
    outline = page.evaluate(
        "() => [getComputedStyle(document.activeElement).outlineStyle,"
        " getComputedStyle(document.activeElement).outlineWidth]"
    )
    assert outline[0] != "none" and float(outline[1].rstrip("px")) >= 2, outline
    page.screenshot(path=artifacts / "11-keyboard-focus.png")

    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(IMAGES_WITHOUT_ALT) == []
    alt = page.locator(".analysis .overlay-img").get_attribute("alt")
    assert alt and "Overlay of the photo of 30 Mar 2026" in alt
    assert page.evaluate(CONTRAST_FAILURES) == []

    page.goto(f"{server.base}/#/subjects/{subject}/compare/{a}/{b}")
    wait_for_overlays(page, ".compare-figure .overlay-img", 2)
    assert page.evaluate(IMAGES_WITHOUT_ALT) == []
    assert page.evaluate(CONTRAST_FAILURES) == []
    assert_clean(tab, browser_context)


def test_subjects_are_created_renamed_and_deleted_after_a_confirmation(
    server: Server, tab: Tab, browser_context, artifacts
):
    page = tab.page
    sign_in_fast(page, server, "/#/")
    expect(page.get_by_role("heading", level=1, name="Subjects")).to_be_visible()
    page.get_by_label("Add a subject").fill("Temporary Person")
    page.get_by_role("button", name="Add subject").click()
    expect(page.get_by_role("heading", level=1, name="Temporary Person")).to_be_visible()
    page.get_by_role("link", name="Subjects").first.click()

    page.get_by_role("button", name="Rename Temporary Person").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Name or pseudonym")).to_have_value("Temporary Person")
    dialog.get_by_label("Name or pseudonym").fill("Renamed Person")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name=re.compile("Renamed Person"))).to_be_visible()

    # Delete asks first: Cancel keeps the subject, confirming deletes it.
    page.get_by_role("button", name="Delete Renamed Person").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("cannot be undone")
    page.screenshot(path=artifacts / "12-delete-confirmation.png")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Renamed Person"))).to_be_visible()
    page.get_by_role("button", name="Delete Renamed Person").click()
    page.locator("dialog[open]").get_by_role("button", name="Delete subject").click()
    expect(page.get_by_role("link", name=re.compile("Renamed Person"))).to_have_count(0)
    names = [s["name"] for s in server.api("GET", "/subjects").json()["items"]]
    assert "Renamed Person" not in names and "Temporary Person" not in names

    # Signing out forgets the key.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    assert page.evaluate("(k) => sessionStorage.getItem(k)", KEY_STORAGE) is None
    assert_clean(tab, browser_context)
