"""The report's programme page (issue 24): the before/after table of `GET /programmes/{id}/effect` on
paper, and the next photo due on the cover. Pages rendered by poppler into test-artifacts/report/."""

from __future__ import annotations

import re
import subprocess

from PIL import Image, ImageStat

from .conftest import Api
from .test_report import _backend, get_report, pdf_text, render_pages, seed


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u202f", " ")).strip()


def test_the_report_has_a_programme_page_that_says_what_the_effect_says(api: Api) -> None:
    sid = seed(api)  # visits on 1 and 15 March, 1 and 15 April 2025
    made = api.post(
        f"/api/v1/subjects/{sid}/programmes",
        json={
            "name": "Calf programme",
            "start_date": "2025-03-20",
            "notes": "Three times a week.",
            "exercises": [{"name": "Eccentric heel drops", "dose": "3×15"}],
        },
    ).json()
    exercise = made["exercises"][0]["id"]
    for day in ("2025-03-21", "2025-03-23"):
        api.request("PUT", f"/api/v1/programmes/{made['id']}/exercises/{exercise}/ticks/{day}")
    effect = api.get(f"/api/v1/programmes/{made['id']}/effect").json()
    response = get_report(api, sid)
    assert response.status_code == 200, response.text
    pages = pdf_text(response.content)
    pngs = render_pages(response.content, f"programme-{_backend(api)}", dpi=80)
    cover = _flat(pages[0])
    assert "Next photo" in cover and "overdue" in cover and "every 14 days" in cover
    # The trend charts shade the programme's period (legend entry, and the period named on the charts).
    chart_page = next(_flat(p) for p in pages if "Trends, one point per visit" in p)
    assert "Programme period" in chart_page and "Calf programme" in chart_page
    page = next(_flat(p) for p in pages if "Programme: Calf programme" in p)
    assert "2 workout days ticked" in page and "Eccentric heel drops (3×15): 2 days" in page
    assert "Before and since the start, up the chain" in page
    assert _flat(effect["summary"]) in page and _flat(effect["disclaimer"]) in page
    for m in effect["measures"]:
        if m["beyond_noise"] is not None:
            assert _flat(m["statement"]) in page
    # Ankle first: the table runs up the chain.
    order = (
        "Standing shin angle",
        "Lunge peak shin angle (clip)",
        "Pelvic tilt estimate",
        "Overall score",
    )
    index = next(i for i, p in enumerate(pages) if "Programme: Calf programme" in p)
    laid_out = subprocess.run(
        ["pdftotext", "-layout", "-f", str(index + 1), "-l", str(index + 1), "-", "-"],
        input=response.content,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    places = [laid_out.index(label) for label in order]
    assert places == sorted(places)
    with Image.open(pngs[index]) as image:
        assert ImageStat.Stat(image.convert("L")).stddev[0] > 10


def test_no_programme_no_programme_page(api: Api) -> None:
    sid = seed(api, visits=2, shots=1)
    pages = pdf_text(get_report(api, sid).content)
    assert not any("Programme:" in p or "Programme period" in p for p in pages)
