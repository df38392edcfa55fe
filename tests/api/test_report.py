"""The PDF progress report (docs/report.md): what it says against what the API says, its pages rendered
by poppler, the raster-free `images=none`, the errors, the command, and its words against the page's.

The PDF is read with poppler (`pdftotext`, `pdftoppm`, `pdfimages`; Debian's poppler-utils, installed
by scripts/test-deps.sh) and pypdf; the page's words come from app/static/js/labels.js run by node.
The rendered pages land in test-artifacts/report/ (gitignored) to be looked at.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat
from pypdf import PdfReader
from pypdf.generic import IndirectObject

from app.cli import main as posture
from app.services.report import labels as mirror
from app.storage.models import AnalysisRecord
from posture.rules import load_rules
from posture.trends import TRACKED, method_key

from ..conftest import node_executable
from .conftest import ROOT, Api, make_jpeg, running_api, sample

ARTIFACTS = ROOT / "test-artifacts" / "report"
STATIC_JS = ROOT / "app" / "static" / "js"
NAME = "Zoë Ångström-Ølund"
DISCLAIMER = load_rules()["findings"]["disclaimer"]
VISITS, SHOTS = 4, 3


# --- poppler, pypdf and node -------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is missing: run `bash scripts/test-deps.sh` (installs Debian's poppler-utils)")
    return found


def pdf_text(pdf: bytes) -> list[str]:
    """The text of each page (pdftotext separates pages with form feeds)."""
    done = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
        timeout=60,
    )
    pages = done.stdout.decode("utf-8").split("\f")
    # A narrow no-break space (the page's "+4 %") may come out as a plain one.
    return [page.replace("\u202f", " ") for page in pages[:-1]]


def render_pages(pdf: bytes, name: str, dpi: int = 60) -> list[Path]:
    """Every page as PNG in test-artifacts/report/NAME-N.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    source = ARTIFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [_tool("pdftoppm"), "-r", str(dpi), "-png", str(source), str(ARTIFACTS / name)],
        check=True,
        timeout=120,
    )
    return sorted(ARTIFACTS.glob(f"{name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def image_objects(pdf: bytes) -> int:
    """Image XObjects among all of the file's objects (not only those a page uses)."""
    reader = PdfReader(io.BytesIO(pdf))
    count = 0
    for number in range(1, int(reader.trailer["/Size"])):
        try:
            obj = reader.get_object(IndirectObject(number, 0, reader))
        except Exception:  # a free entry of the cross-reference table
            continue
        if hasattr(obj, "get") and obj.get("/Subtype") == "/Image":
            count += 1
    return count


def page_words(calls: list[list[Any]]) -> dict[str, Any]:
    """labels.js's tables, and the page's functions (labels.js, dom.js, trends.js's bandSource) applied
    to `calls`:
    [function name, *arguments], a time argument as {"time": ISO string}."""
    script = """
    const [labelsUrl, domUrl, trendsUrl, callsJson] = process.argv.slice(1);
    globalThis.ResizeObserver = class { observe() {} unobserve() {} };  // charts.js, loaded by trends.js
    const labels = await import(labelsUrl);
    const dom = await import(domUrl);
    const trends = await import(trendsUrl);
    const fns = { ...dom, ...labels, bandSource: trends.bandSource };
    const tables = {};
    for (const [k, v] of Object.entries(labels)) if (typeof v !== "function") tables[k] = v;
    const arg = (a) => (a && typeof a === "object" && "time" in a ? new Date(a.time) : a);
    const results = JSON.parse(callsJson).map(([name, ...args]) => fns[name](...args.map(arg)));
    process.stdout.write(JSON.stringify({ tables, results }));
    """
    done = subprocess.run(
        [
            node_executable(),
            "--input-type=module",
            "-e",
            script,
            (STATIC_JS / "labels.js").as_uri(),
            (STATIC_JS / "dom.js").as_uri(),
            (STATIC_JS / "views" / "subject" / "trends.js").as_uri(),
            json.dumps(calls),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@cache
def _tables() -> dict[str, Any]:
    return page_words([])["tables"]


def page_format(name: str, value: float | None) -> str:
    return page_words([["formatMeasure", name, value]])["results"][0]


# --- a subject with visits ------------------------------------------------------------------------------


def seed(api: Api, name: str = NAME, visits: int = VISITS, shots: int = SHOTS, first_seed: int = 0) -> str:
    """A subject with `visits` visits two weeks apart, each of `shots` photos two minutes apart."""
    sid = api.subject(name)
    for v in range(visits):
        for s in range(shots):
            photo = make_jpeg(first_seed + v * shots + s)
            taken_at = f"2025-{3 + v // 2:02d}-{1 + (v % 2) * 14:02d}T09:{2 * s:02d}:00Z"
            response = api.upload(sid, photo, taken_at=taken_at)
            assert response.status_code == 201, response.text
    return sid


def _backend(api: Api) -> str:
    """ "sqlite" or "postgresql": the artifacts' names."""
    return api.database.url.split(":", 1)[0].split("+", 1)[0]


def get_report(api: Api, sid: str, **query: str) -> Any:
    return api.get(f"/api/v1/subjects/{sid}/report.pdf", params=query)


def charted(api: Api, sid: str, mode: str = "standing") -> list[str]:
    """The measures the report charts: those the trends have a value of (as the page)."""
    trends = api.get(f"/api/v1/subjects/{sid}/trends", params={"mode": mode}).json()
    return [name for name, m in trends["measures"].items() if m["n"] > 0]


# --- what it says ---------------------------------------------------------------------------------------


def test_the_report_says_what_the_api_says(api: Api) -> None:
    sid = seed(api)
    response = get_report(api, sid)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+\.pdf"', disposition), disposition
    assert disposition == 'attachment; filename="posture-report-zoe-angstrom-olund-2025-04-15.pdf"'
    assert response.content.startswith(b"%PDF-")

    pages = pdf_text(response.content)
    text = "\n".join(pages)
    # page count: cover, table, one page per 8 charts, the last page
    names = charted(api, sid)
    assert len(pages) == 1 + 1 + math.ceil(len(names) / 8) + 1
    assert len(PdfReader(io.BytesIO(response.content)).pages) == len(pages)
    for number, page in enumerate(pages, start=1):
        assert NAME in page, f"page {number} lacks the subject's name"
        assert f"Page {number} of {len(pages)}" in page

    # every tracked measure's label and its latest value, as the API reports it and the page writes it
    visits = api.get(f"/api/v1/subjects/{sid}/visits").json()["items"]
    assert len(visits) == VISITS and all(v["n"] == SHOTS for v in visits)
    latest = {**visits[-1]["measures"], "overall_score": visits[-1]["scores"].get("overall")}
    words = page_words([["formatMeasure", name, latest[name]] for name in TRACKED])["results"]
    labels = _tables()["MEASURES"]
    assert {k: v["label"] for k, v in _tables()["AREAS"].items()} == mirror.AREAS
    for name, shown in zip(TRACKED, words, strict=True):
        if latest[name] is None:
            continue
        assert labels[name]["label"] in text, name
        assert shown.replace("\u202f", " ") in pages[1], f"{name}: latest {shown} not in the table"
    # the comparison's verdicts, in the page's words
    cmp = api.get("/api/v1/compare", params={"a": visits[0]["id"], "b": visits[-1]["id"]}).json()
    beyond = [n for n, d in cmp["measures"].items() if d["within_noise"] is False]
    within = [n for n, d in cmp["measures"].items() if d["within_noise"] is True]
    assert len(re.findall(r"^Beyond noise$", pages[1], re.M)) == len(beyond)
    assert len(re.findall(r"^Within noise$", pages[1], re.M)) == len(within)
    assert "(estimate)" in pages[1]  # pelvic tilt and lumbar curve are marked
    # the cover and the last page
    assert f"{VISITS} visits, {VISITS * SHOTS} photos" in pages[0]
    assert "1 Mar 2025 – 15 Apr 2025" in pages[0]
    assert DISCLAIMER in " ".join(pages[-1].split())
    assert "not causes" in " ".join(pages[-1].split())
    assert "Three shots per visit" in pages[-1]
    # one chart per measure the trends have, titled by its label
    chart_text = "\n".join(pages[2:-1])
    for name in names:
        assert re.search(rf"^{re.escape(labels[name]['label'])}( \(estimate\))?$", chart_text, re.M), name


def test_every_page_renders_and_the_first_is_not_blank(api: Api) -> None:
    sid = seed(api)
    pdf = get_report(api, sid).content
    pngs = render_pages(pdf, f"fake-{_backend(api)}")
    assert len(pngs) == len(pdf_text(pdf))
    for png in pngs:
        with Image.open(png) as page:
            grey = page.convert("L")
            dark = sum(grey.histogram()[:128]) / (grey.width * grey.height)
            assert ImageStat.Stat(grey).stddev[0] > 10, f"{png.name} looks blank"
            assert dark > 0.002, f"{png.name} has almost no ink"
    with Image.open(pngs[0]) as first:
        # the two overlays: a large non-white area in the middle of the cover
        middle = first.convert("L").crop((0, first.height // 3, first.width, first.height * 2 // 3))
        assert sum(middle.histogram()[:240]) / (middle.width * middle.height) > 0.5


@pytest.mark.both_storages  # the overlays come from the file store, on disk or in a bucket
def test_images_none_holds_no_raster_image(api: Api, tmp_path: Path) -> None:
    sid = seed(api, visits=2, shots=1)
    with_images = get_report(api, sid, images="overlay").content
    assert image_objects(with_images) == 2  # the first and the latest overlay
    without = get_report(api, sid, images="none")
    assert without.status_code == 200
    assert image_objects(without.content) == 0
    assert not re.search(rb"/Subtype\s*/Image", without.content)
    for pdf, count in ((with_images, 2), (without.content, 0)):  # poppler's own listing agrees
        (tmp_path / "r.pdf").write_bytes(pdf)
        listed = subprocess.run(
            [_tool("pdfimages"), "-list", str(tmp_path / "r.pdf")],
            capture_output=True,
            check=True,
            timeout=60,
        )
        assert len(listed.stdout.decode().strip().splitlines()) == 2 + count  # two header lines
    pages = pdf_text(without.content)
    # the table moves onto the cover: one page less
    assert len(pages) == 1 + math.ceil(len(charted(api, sid)) / 8) + 1
    assert "images=none" in pages[0] and "Measures: first and latest visit" in pages[0]


def test_paper_sizes(api: Api) -> None:
    sid = seed(api, visits=2, shots=1)
    sizes = {}
    for paper in ("a4", "letter"):
        response = get_report(api, sid, paper=paper)
        assert response.status_code == 200
        box = PdfReader(io.BytesIO(response.content)).pages[0].mediabox
        sizes[paper] = (round(float(box.width)), round(float(box.height)))
    assert sizes == {"a4": (595, 842), "letter": (612, 792)}
    assert get_report(api, sid).content[:5] == b"%PDF-"  # A4 by default
    bad = get_report(api, sid, paper="a5")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    bad = get_report(api, sid, images="photo")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_window_and_mode(api: Api) -> None:
    sid = seed(api, visits=4, shots=1)
    response = get_report(api, sid, since="2025-03-10T00:00:00Z", until="2025-04-10")
    assert response.status_code == 200
    cover = pdf_text(response.content)[0]
    assert "2 visits, 2 photos" in cover and "15 Mar 2025 – 1 Apr 2025" in cover
    assert "from 10 Mar 2025 to 10 Apr 2025" in cover


def test_unknown_foreign_and_empty(api: Api, database) -> None:
    sid = seed(api, visits=1, shots=1)
    assert get_report(api, str(uuid.uuid4())).json()["code"] == "subject_not_found"
    assert get_report(api, str(uuid.uuid4())).status_code == 404
    assert api.client.get(f"/api/v1/subjects/{sid}/report.pdf").status_code == 401
    with running_api(database, api.data_dir.parent / "other", api.client.app.state.analyzer) as other:
        foreign = other.get(f"/api/v1/subjects/{sid}/report.pdf")
        assert foreign.status_code == 404 and foreign.json()["code"] == "subject_not_found"
    for query in ({"since": "2100-01-01"}, {"mode": "lunge"}):
        empty = get_report(api, sid, **query)
        assert empty.status_code == 422 and empty.json()["code"] == "no_analyses_in_window", query
    empty = get_report(api, api.subject("Nobody yet"))
    assert empty.status_code == 422 and empty.json()["code"] == "no_analyses_in_window"
    assert _tables()["ERROR_TITLES"]["no_analyses_in_window"]


def test_a_period_analysed_by_two_methods_says_so(api: Api) -> None:
    sid = seed(api, visits=2, shots=1)
    first = api.get(f"/api/v1/subjects/{sid}/analyses").json()["items"][0]["id"]
    with api.database.session() as session:  # as if analysed before the rules changed
        record = session.get(AnalysisRecord, uuid.UUID(first))
        assert record is not None
        versions = {**record.result["versions"], "rules": "2000.1"}
        record.document.result = {**record.result, "versions": versions}
        record.method = method_key(versions)
        session.commit()
    cover = " ".join(pdf_text(get_report(api, sid).content)[0].split())
    assert " ".join(_tables()["WARNINGS"]["mixed_versions"].split()) in cover


def test_one_visit_has_no_change_to_show(api: Api) -> None:
    sid = seed(api, visits=1, shots=2)
    pages = pdf_text(get_report(api, sid).content)
    assert "1 visit, 2 photos" in pages[0]
    assert not re.search(r"^(Beyond|Within) noise$", pages[1], re.M)
    assert "one visit only" in pages[1]


def test_the_command_writes_the_same_report(api: Api, monkeypatch, capsys, tmp_path) -> None:
    sid = seed(api, visits=2, shots=2)
    monkeypatch.setenv("POSTURE_DATABASE_URL", api.database.url)
    monkeypatch.delenv("POSTURE_STORAGE_URL", raising=False)
    out = tmp_path / "report.pdf"
    code = posture(["report", sid, "--out", str(out), "--data-dir", str(api.data_dir), "--paper", "letter"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"Wrote {out}" in printed.out
    served = get_report(api, sid, paper="letter").content
    assert pdf_text(out.read_bytes()) == pdf_text(served)
    assert image_objects(out.read_bytes()) == 2

    code = posture(["report", str(uuid.uuid4()), "--out", str(out), "--data-dir", str(api.data_dir)])
    assert code == 1 and "no subject" in capsys.readouterr().err
    empty = api.subject("Empty")
    code = posture(["report", empty, "--out", str(tmp_path / "e.pdf"), "--data-dir", str(api.data_dir)])
    assert code == 1 and "no_analyses_in_window" in capsys.readouterr().err
    assert not (tmp_path / "e.pdf").exists()


# --- the page's words -------------------------------------------------------------------------------------


def test_the_mirror_holds_the_pages_tables() -> None:
    tables = _tables()
    measures = {name: vars(meta) for name, meta in mirror.MEASURES.items()}
    page = {name: {"signed": False, "estimate": False, **meta} for name, meta in tables["MEASURES"].items()}
    assert measures == page
    assert [[t, list(n)] for t, n in mirror.MEASURE_GROUPS] == [
        [g["title"], g["names"]] for g in tables["MEASURE_GROUPS"]
    ]
    assert list(mirror.KEY_TRENDS) == tables["KEY_TRENDS"]
    assert tables["BANDS"] == mirror.BANDS
    assert tables["WARNINGS"] == mirror.WARNINGS


VALUES = (
    0,
    0.04,
    -0.04,
    0.05,
    -0.05,
    2.5,
    -2.5,
    0.125,
    10.35,
    1.005,
    12.5,
    -3.25,
    99.95,
    7,
    1,
    -1,
    1.5,
    1234.56,
)


def test_the_mirror_writes_numbers_and_dates_as_the_page() -> None:
    calls: list[list[Any]] = []
    expected: list[str] = []
    for name in mirror.MEASURES:
        for value in (*VALUES, None):
            calls += [["formatMeasure", name, value], ["formatChange", name, value]]
            expected += [mirror.format_measure(name, value), mirror.format_change(name, value)]
        for noise in (4.0, 1.5, 8, 2.345, 0.25, None):
            calls.append(["formatNoise", name, noise])
            expected.append(mirror.format_noise(name, noise))
    for source in ("rules", "personal"):
        for visits in (0, 1, 2, 3, 7):
            for short in (False, True):
                calls.append(
                    ["bandSource", {"noise_source": source, "noise_visits": visits}, {"short": short}]
                )
                expected.append(mirror.band_source(source, visits, short=short))
    for days in (0, 0.4, 0.5, 1, 1.5, 13, 59.6, 60, 100, 181.4, 182, 400, 1000):
        calls.append(["formatDuration", days])
        expected.append(mirror.format_duration(days))
    from datetime import UTC, datetime

    for month in range(1, 13):
        moment = datetime(2025, month, 9, 23, 59, tzinfo=UTC)
        for fn, ours in (
            ("formatDate", mirror.format_date),
            ("formatDayMonth", mirror.format_day_month),
            ("formatMonthYear", mirror.format_month_year),
        ):
            calls.append([fn, {"time": moment.isoformat()}])
            expected.append(ours(moment))
    results = page_words(calls)["results"]
    wrong = [(c, r, e) for c, r, e in zip(calls, results, expected, strict=True) if r != e]
    assert not wrong, wrong[:10]


# --- with real overlays ------------------------------------------------------------------------------------


def test_real_overlays_end_to_end(real_api: Api) -> None:
    api = real_api
    sid = api.subject("Real Person")
    for photo, taken_at in (("walk_side_f0110.jpg", "2025-01-06"), ("walk_side_f0128.jpg", "2025-03-03")):
        response = api.upload(sid, sample(photo), filename=photo, taken_at=taken_at)
        assert response.status_code == 201, response.text
    pdf = get_report(api, sid).content
    assert image_objects(pdf) == 2
    pngs = render_pages(pdf, f"real-{_backend(api)}", dpi=80)
    with Image.open(pngs[0]) as cover:
        # the overlays: photo content (not a flat placeholder) in both halves
        grey = cover.convert("L")
        band = (grey.height * 45 // 100, grey.height * 70 // 100)
        for half in ((0, band[0], grey.width // 2, band[1]), (grey.width // 2, band[0], grey.width, band[1])):
            assert ImageStat.Stat(grey.crop(half)).stddev[0] > 20, half
    pages = pdf_text(pdf)
    visits = api.get(f"/api/v1/subjects/{sid}/visits").json()["items"]
    for name, value in visits[-1]["measures"].items():
        if value is not None:
            assert page_format(name, value).replace("\u202f", " ") in pages[1], name
