"""Speed of the programme before/after (`GET /programmes/{id}/effect`, docs/programmes.md) on a long
history: a subject with 5,000 standing analyses (visits of three shots, one visit every two days, as
benchmarks/report_speed.py stores them) and a programme starting half-way. Target: < 1 s, as a page
request. Prints the median of the runs and the split before/since.

    python benchmarks/programme_effect.py                 # 5,000 analyses, 5 runs
    python benchmarks/programme_effect.py --analyses 1000 --runs 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from report_speed import SHOTS_PER_VISIT, cpu_name, seed  # noqa: E402

from app.core.db import Database  # noqa: E402
from app.schemas import ProgrammeCreate  # noqa: E402
from app.services import programmes  # noqa: E402
from app.storage import repository  # noqa: E402
from app.storage.files import LocalFileStore  # noqa: E402

TARGET_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--analyses", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="effect-bench-") as tmp:
        db = Database(args.database_url or f"sqlite:///{Path(tmp) / 'posture.db'}")
        db.migrate()
        store = LocalFileStore(Path(tmp) / "files")
        print(f"Seeding {args.analyses} analyses ({SHOTS_PER_VISIT} shots per visit) …", flush=True)
        subject_id = seed(db, store, args.analyses)  # report_speed's account "report-bench"
        visits = args.analyses // SHOTS_PER_VISIT
        start = date(2015, 1, 1) + timedelta(days=2 * (visits // 2))
        times = []
        with db.session() as session:
            user = repository.user_by_name(session, "report-bench")
            made = programmes.create(
                session, user, subject_id, ProgrammeCreate(name="Calf programme", start_date=start)
            )
            for run in range(args.runs):
                began = time.perf_counter()
                effect = programmes.effect(session, user, made.id)
                times.append(time.perf_counter() - began)
                print(f"  run {run + 1}: {times[-1] * 1000:.0f} ms", flush=True)
        db.dispose()
    shin = next(m for m in effect.measures if m.measure == "shank_angle_deg")
    median = statistics.median(times)
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d} · {cpu_name()} · {platform.python_implementation()} "
        f"{platform.python_version()} · {'PostgreSQL' if args.database_url else 'SQLite'}\n"
        f"{args.analyses} analyses, {shin.before.visits} visits before / {shin.since.visits} since: "
        f"effect {median * 1000:.0f} ms median of {args.runs} "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}). "
        f"Target < {TARGET_S:.0f} s: {'met' if median < TARGET_S else 'MISSED'}."
    )
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
