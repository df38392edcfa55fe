"""One PDF progress report per subject (docs/report.md): the cover with the first and latest visits'
overlays, the table of measures against their noise bands, a trend chart per measure and the latest
findings, from the same service functions as the page and the API.

`data.gather()` collects, `pdf.render()` lays out, `labels` mirrors the page's words.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.services.cache import VersionedCache
from app.services.report.data import Images, Paper, ReportData, ReportOptions, gather
from app.services.report.pdf import render
from app.storage.files import FileStore
from app.storage.models import User

__all__ = ["Images", "Paper", "Report", "ReportData", "ReportOptions", "build", "file_name"]


# Latin letters that Unicode does not decompose into a base letter and a mark.
_LETTERS = str.maketrans(
    {
        "Ø": "O",
        "ø": "o",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "ß": "ss",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Þ": "Th",
        "þ": "th",
    }
)


@dataclass(frozen=True)
class Report:
    pdf: bytes
    file_name: str
    pages: int


def build(
    db: Session,
    user: User,
    store: FileStore,
    cache: VersionedCache,
    subject_id: uuid.UUID,
    options: ReportOptions | None = None,
) -> Report:
    """The report of `subject_id` (404 when not this account's, 422 when the window is empty)."""
    data = gather(db, user, store, cache, subject_id, options or ReportOptions())
    pdf, pages = render(data)
    return Report(pdf, file_name(data), pages)


def file_name(data: ReportData) -> str:
    """`posture-report-<name>-<latest date>.pdf` in plain ASCII: safe in a Content-Disposition header
    and on every file system."""
    spelled = unicodedata.normalize("NFKD", data.subject_name.translate(_LETTERS))
    ascii_name = spelled.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:60].strip("-") or "subject"
    return f"posture-report-{slug}-{data.latest.taken_at:%Y-%m-%d}.pdf"
