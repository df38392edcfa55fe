"""The subject page's "Report (PDF)" action: it downloads the subject's PDF report through the page's
authenticated fetch (the key never goes into a URL), and it waits for a first photo."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import expect

from .conftest import Server, Tab, sign_in_fast, store_knee_to_wall


def test_the_report_button_downloads_the_subjects_pdf(server: Server, tab: Tab, artifacts: Path) -> None:
    page = tab.page
    empty = server.subject("Ann Empty")
    sign_in_fast(page, server, f"/#/subjects/{empty}")
    expect(page.get_by_role("heading", level=1, name="Ann Empty")).to_be_visible()
    expect(page.get_by_role("button", name="Report (PDF)")).to_be_disabled()

    subject = server.subject("Sam Report")
    server.upload(subject, "walk_side_f0128.jpg", "2026-02-02T09:00:00Z")
    page.goto(f"{server.base}/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=1, name="Sam Report")).to_be_visible()
    button = page.get_by_role("button", name="Report (PDF)")
    expect(button).to_be_enabled()
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "sam-report-posture-report.pdf"
    saved = artifacts / "report-button.pdf"
    download.save_as(saved)
    pdf = saved.read_bytes()
    assert pdf.startswith(b"%PDF-")
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext is missing: run `bash scripts/test-deps.sh`"
    text = subprocess.run([pdftotext, str(saved), "-"], capture_output=True, text=True, check=True).stdout
    assert "Sam Report" in text and "Progress report" in text
    assert not tab.errors, tab.errors


def test_clips_download_as_their_own_csv_before_any_photo(
    server: Server, tab: Tab, artifacts: Path, tmp_path: Path
) -> None:
    """A subject with a clip and no photo yet: the photos' CSV waits, "Clips (CSV)" gives the clip's row
    (the export a physiotherapist takes to a spreadsheet), named after the subject; the JSON of
    everything is there too."""
    page = tab.page
    subject = server.subject("Kim Clips")
    stored = store_knee_to_wall(server, subject, tmp_path / "k2w.mp4", datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    page.set_viewport_size({"width": 390, "height": 844})  # on a phone, the Report section's tab
    sign_in_fast(page, server, f"/#/subjects/{subject}")
    expect(page.get_by_role("heading", level=1, name="Kim Clips")).to_be_visible()
    page.locator("#tab-report").click()
    expect(page.get_by_role("button", name="Photos (CSV)")).to_be_disabled()
    expect(page.get_by_role("button", name="Everything (JSON)")).to_be_enabled()
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts / "report-section-phone.png"))
    assert fits, "the Report section scrolls sideways at 390 px"
    button = page.get_by_role("button", name="Clips (CSV)")
    expect(button).to_be_enabled()
    with page.expect_download() as info:
        button.click()
    assert info.value.suggested_filename == "kim-clips-clips.csv"
    saved = artifacts / "clips-export.csv"
    info.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(rows) == 1 and rows[0]["subject_id"] == subject, rows
    assert abs(float(rows[0]["lunge_shin_peak_deg"]) - stored.measures["lunge_shin_peak_deg"]) < 0.01, rows[0]
    with page.expect_download() as info:
        page.get_by_role("button", name="Everything (JSON)").click()
    everything = json.loads(Path(info.value.path()).read_text())
    assert everything["analyses"] == [] and len(everything["movements"]) == 1, everything.keys()
    assert not tab.errors, tab.errors
