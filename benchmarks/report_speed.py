"""Speed of the PDF progress report (docs/report.md) for a long history: a subject with 5,000 analyses
(visits of three shots two minutes apart, one visit every two days) must get its report in < 5 s.

The history is stored through the repository as uploads store it (the same rows, documents, packed
series and visit grouping; measures varied around a scored template, the same real-size overlay PNG
for every shot), in a temporary SQLite database unless --database-url. Each run then builds the report
as the endpoint does, with an empty trends cache (the first request after an upload), and the median of
the runs is compared with the target. The report's parts (gathering, layout) are timed apart.

    python benchmarks/report_speed.py                 # 5,000 analyses, 5 runs
    python benchmarks/report_speed.py --analyses 500 --runs 3 --images none
"""

from __future__ import annotations

import argparse
import io
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.db import Database  # noqa: E402
from app.services import report  # noqa: E402
from app.services.cache import VersionedCache  # noqa: E402
from app.services.report import data as report_data  # noqa: E402
from app.services.report import pdf as report_pdf  # noqa: E402
from app.storage import repository  # noqa: E402
from app.storage.files import LocalFileStore  # noqa: E402
from posture.analysis import package_version  # noqa: E402
from posture.measures import Measurement  # noqa: E402
from posture.measures.run import MEASURE_NAMES  # noqa: E402
from posture.model import MODEL_SHA256  # noqa: E402
from posture.result import Analysis, ImageInfo, Versions  # noqa: E402
from posture.rules import rules_version  # noqa: E402
from posture.scoring import score_all  # noqa: E402
from posture.worker import JobResult  # noqa: E402

TARGET_S = 5.0
SHOTS_PER_VISIT = 3
STANDING = {
    "pelvic_tilt_deg": 9.0,
    "lumbar_lordosis_deg": 38.0,
    "lumbar_lordosis_index": 9.0,
    "shank_angle_deg": 4.0,
    "knee_angle_deg": 3.0,
    "knee_over_foot_pct": 20.0,
    "trunk_lean_deg": 2.0,
    "head_forward_deg": 18.0,
    "body_line_deg": 1.5,
    "hip_angle_deg": 4.0,
    "plumb_ear_pct": 2.0,
    "plumb_shoulder_pct": 1.5,
    "plumb_hip_pct": 1.0,
    "plumb_knee_pct": 2.5,
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def overlay_png() -> bytes:
    """A real-size overlay (720 × 1280, the overlay canvas) made from a sample photo."""
    with Image.open(ROOT / "sample_images" / "walk_side_f0128.jpg") as photo:
        canvas = photo.convert("RGB").resize((720, 1280))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def analysis(measures: dict[str, float]) -> Analysis:
    scored = score_all({k: Measurement(v, 0.9) for k, v in measures.items()}, "standing")
    return Analysis(
        source="bench.jpg",
        status="ok",
        versions=Versions(package=package_version(), model_sha256=MODEL_SHA256, rules=rules_version()),
        mode="standing",
        facing="left",
        side="left",
        image=ImageInfo(width=1080, height=1920),
        measures={name: measures.get(name) for name in MEASURE_NAMES},
        confidence={name: 0.9 for name in measures},
        scores=scored.scores,
        bands=scored.bands,
        findings=scored.findings,
    )


def seed(db: Database, store: LocalFileStore, rows: int) -> object:
    """The id of a new subject with `rows` analyses."""
    rng = random.Random(0)
    png = overlay_png()
    start = datetime(2015, 1, 1, 9, tzinfo=UTC)
    with db.session() as session:
        user, _ = repository.create_user(session, "report-bench")
        subject = repository.create_subject(session, user, "Report Bench", None)
        subject_id = subject.id
        began = time.perf_counter()
        for i in range(rows):
            visit, shot = divmod(i, SHOTS_PER_VISIT)
            drift = visit / 1000  # a slow change over the years
            measures = {k: round(v + drift * 3 + rng.gauss(0, 1.2), 2) for k, v in STANDING.items()}
            taken_at = start + timedelta(days=2 * visit, minutes=2 * shot)
            outcome = JobResult(0, analysis(measures), overlay_png=png)
            repository.add_analysis(session, store, subject_id, outcome, taken_at)
            if (i + 1) % 1000 == 0:
                print(f"  stored {i + 1} analyses ({time.perf_counter() - began:.0f} s)", flush=True)
    return subject_id


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--analyses", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", choices=["overlay", "none"], default="overlay")
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--out", type=Path, help="keep the last report here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        db = Database(args.database_url or f"sqlite:///{Path(tmp) / 'posture.db'}")
        db.migrate()
        store = LocalFileStore(Path(tmp) / "files")
        print(f"Seeding {args.analyses} analyses ({SHOTS_PER_VISIT} shots per visit) …", flush=True)
        subject_id = seed(db, store, args.analyses)
        options = report.ReportOptions(images=args.images)
        totals, gathers, renders = [], [], []
        made = None
        for run in range(args.runs):
            with db.session() as session:
                account = repository.user_by_name(session, "report-bench")
                began = time.perf_counter()
                made = report.build(session, account, store, VersionedCache(0), subject_id, options)  # type: ignore[arg-type]
                totals.append(time.perf_counter() - began)
                # the parts, once more on their own
                began = time.perf_counter()
                gathered = report_data.gather(session, account, store, VersionedCache(0), subject_id, options)  # type: ignore[arg-type]
                gathers.append(time.perf_counter() - began)
                began = time.perf_counter()
                report_pdf.render(gathered)
                renders.append(time.perf_counter() - began)
            print(f"  run {run + 1}: {totals[-1]:.2f} s", flush=True)
        db.dispose()
    assert made is not None
    if args.out:
        args.out.write_bytes(made.pdf)
    median = statistics.median(totals)
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d} · {cpu_name()} · {platform.python_implementation()} "
        f"{platform.python_version()} · {'PostgreSQL' if args.database_url else 'SQLite'}\n"
        f"{args.analyses} analyses, {len(gathered.points)} visits, images={args.images}: "
        f"report {median:.2f} s median of {args.runs} (min {min(totals):.2f}, max {max(totals):.2f}); "
        f"gathering {statistics.median(gathers):.2f} s, layout {statistics.median(renders):.2f} s; "
        f"{made.pages} pages, {len(made.pdf) / 1024:.0f} KiB. Target < {TARGET_S:.0f} s: "
        f"{'met' if median < TARGET_S else 'MISSED'}."
    )
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
