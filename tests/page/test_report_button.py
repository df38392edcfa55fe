"""The subject page's "Report (PDF)" action: it downloads the subject's PDF report through the page's
authenticated fetch (the key never goes into a URL), and it waits for a first photo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from playwright.sync_api import expect

from .conftest import Server, Tab, sign_in_fast


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
