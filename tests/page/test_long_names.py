"""Long names on a phone (390 × 844) and a desktop: a subject's name, a visit label or a file name of any
length wraps or is cut with an ellipsis, and never pushes a button or the page sideways. Checked on the
subject list, the subject's header, its history, the analysis panel and the comparison.

Screenshots are written to test-artifacts/page/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import SAMPLES, Server, Tab, sign_in_fast

NINETEEN = "Maximilian Andersen"  # the 19 characters that pushed the row buttons off a 390 px screen
ONE_WORD = "Wolfeschlegelsteinhausenbergerdorff-Hohenzollern-Sigmaringen"  # no place to break
LONG = " ".join(["Bartholomew Alexander Fitzgerald-Montgomery"] * 4)  # 175 characters
LABEL = "Baseline before the physiotherapy programme, Tuesday morning 8am"  # 64 characters, the maximum
FILE = "side-photo-taken-in-the-living-room-by-the-window-on-tuesday-morning.jpg"

# Every element whose right edge passes the viewport (a button pushed off screen), and any scroll sideways.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll('#main *')]
    .filter((el) => el.getClientRects().length && !el.closest('.visually-hidden, svg, .sprite'))
    .filter((el) => { const r = el.getBoundingClientRect(); return r.right > width + 0.5 || r.left < -0.5; })
    .map((el) => `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 30)}`);
  return {scroll: document.documentElement.scrollWidth - width, out};
}"""


def upload(server: Server, subject: str, taken_at: str, label: str) -> dict:
    files = {"photo": (FILE, (SAMPLES / "walk_side_crop_f0128.jpg").read_bytes(), "image/jpeg")}
    data = {"taken_at": taken_at, "visit": label}
    return server.api("POST", f"/subjects/{subject}/analyses", files=files, data=data).json()


@pytest.fixture(scope="module")
def long_named(server: Server) -> dict[str, str]:
    ids = {name: server.subject(name) for name in (NINETEEN, ONE_WORD, LONG)}
    a = upload(server, ids[ONE_WORD], "2026-04-01T09:00:00Z", LABEL)
    later = LABEL.replace("Baseline before", "Four weeks into")
    b = upload(server, ids[ONE_WORD], "2026-04-29T09:00:00Z", later)
    return {**ids, "a": a["id"], "b": b["id"]}


def assert_fits(page, where: str) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= 0 and found["out"] == [], (where, found)


@pytest.mark.parametrize("width", [390, 1280])
def test_long_names_wrap_or_ellipsize_and_push_nothing_off_screen(
    server: Server, tab: Tab, browser_context, artifacts, long_named, width: int
):
    page = tab.page
    page.set_viewport_size({"width": width, "height": 844 if width == 390 else 800})
    sign_in_fast(page, server, "/#/")
    expect(page.get_by_role("heading", level=1, name="Subjects")).to_be_visible()
    for name in (NINETEEN, ONE_WORD, LONG):
        row = page.locator(".subject-row", has=page.get_by_role("link", name=name))
        expect(row).to_be_visible()
        for action in ("Rename", "Delete"):
            box = row.get_by_role("button", name=f"{action} {name}").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (name, action, box)
    assert_fits(page, "subjects")
    page.screenshot(path=artifacts / f"30-long-names-subjects-{width}.png", full_page=True)

    page.goto(f"{server.base}/#/subjects/{long_named[ONE_WORD]}")
    heading = page.get_by_role("heading", level=1, name=ONE_WORD)
    expect(heading).to_be_visible()
    expect(page.locator(".visit")).to_have_count(2)
    expect(page.locator("#analysis .overlay-img")).to_have_count(1, timeout=30_000)
    assert_fits(page, "subject")
    # The whole name stays readable in the header: wrapped, not cut.
    assert heading.evaluate("(el) => el.scrollWidth <= el.clientWidth")
    page.screenshot(path=artifacts / f"31-long-names-subject-{width}.png", full_page=True)

    page.goto(f"{server.base}/#/subjects/{long_named[ONE_WORD]}/compare/{long_named['a']}/{long_named['b']}")
    expect(page.get_by_role("heading", level=1, name="Compare two photos")).to_be_visible()
    expect(page.locator(".compare-figure .overlay-img")).to_have_count(2, timeout=30_000)
    assert_fits(page, "compare")
    page.screenshot(path=artifacts / f"32-long-names-compare-{width}.png", full_page=True)

    page.goto(f"{server.base}/#/subjects/{long_named[LONG]}")
    expect(page.get_by_role("heading", level=1, name=LONG)).to_be_visible()
    assert_fits(page, "subject with a 175-character name")
    assert tab.errors == [] and browser_context.outside_requests == []
