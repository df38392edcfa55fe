"""Load benchmark of the HTTP API: upload throughput and latency, memory growth, history/trends latency.

Starts `posture serve` on 127.0.0.1 with a temporary data dir (SQLite unless --database-url), creates
an account, then:

1. uploads: `--uploads` uploads of a sample photo at concurrency 1 and as many at concurrency 4
   (throughput, p50/p99 latency, errors, server memory before/after; memory is the RSS of the server
   process and its inference workers together). The two levels alternate in `--blocks` blocks, so a
   change in the machine's background load affects both alike;
2. memory: `--memory-requests` more uploads (of the small cropped sample, concurrency 4) after a
   warm-up, and the memory growth over them;
3. history: a subject seeded directly in the database with `--history-rows` analyses (copies of a
   real one with varied measures and dates, in visits of three shots); latency of its history and
   visits pages and of its trends (per visit and per photo), both computed (as after a change) and
   unchanged (served from the trends cache); then real uploads to it, each followed by the first
   trends, visits and history requests after it.

Every phase is bounded by `--max-seconds`. Targets (2 cores): concurrency 4 ≥ 1.6 × concurrency 1
throughput, no errors, memory growth < 50 MB over 1,000 requests, history and trends < 50 ms.

    python benchmarks/load_api.py                       # everything (about 10 minutes on 2 cores)
    python benchmarks/load_api.py --phases uploads --pool thread
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"


# --- server ---------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    database_url: str


def start_server(data_dir: Path, workers: int | None, pool: str, database_url: str | None) -> Server:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GLOG_minloglevel": "2", "POSTURE_INFERENCE_POOL": pool}
    env.pop("POSTURE_DATABASE_URL", None)
    if database_url:
        env["POSTURE_DATABASE_URL"] = database_url
    entry = "import sys; from app.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", entry, "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if workers:
        command += ["--workers", str(workers)]
    command += ["--log-level", "warning"]
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited; see {data_dir / 'server.log'}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                url_db = database_url or f"sqlite:///{(data_dir / 'posture.db').resolve()}"
                return Server(url, process, data_dir, url_db)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become healthy in 180 s")


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants (Linux /proc), in MB."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def create_key(server: Server) -> str:
    code = (
        "import sys, uuid; from app.core.db import Database; from app.storage import repository;"
        "db = Database(sys.argv[1]); s = db.session();"
        "print(repository.create_user(s, 'bench-' + uuid.uuid4().hex[:8])[1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, server.database_url], cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(out.stderr)
    return out.stdout.strip().splitlines()[-1]


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Run:
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    rss_before: float = 0.0
    rss_after: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.done / self.wall if self.wall else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def upload_load(
    server: Server, key: str, subject: str, photo: bytes, n: int, concurrency: int, max_seconds: float
) -> Run:
    run = Run(concurrency, rss_before=tree_rss_mb(server.process.pid))
    lock = threading.Lock()
    remaining = iter(range(n))
    deadline = time.monotonic() + max_seconds

    def client_loop() -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
            while time.monotonic() < deadline:
                with lock:
                    if next(remaining, None) is None:
                        return
                start = time.perf_counter()
                try:
                    r = c.post(
                        f"/api/v1/subjects/{subject}/analyses",
                        files={"photo": ("p.jpg", photo, "image/jpeg")},
                    )
                    outcome = "ok" if r.status_code == 201 else f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                elapsed = time.perf_counter() - start
                with lock:
                    if outcome == "ok":
                        run.latencies.append(elapsed)
                    else:
                        run.errors[outcome] = run.errors.get(outcome, 0) + 1

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client_loop) for _ in range(concurrency)]:
            future.result()
    run.wall = time.perf_counter() - start
    run.rss_after = tree_rss_mb(server.process.pid)
    return run


def _spin(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def machine_ceiling(seconds: float = 1.0) -> float:
    """Work two busy processes do together relative to one: 2.0 on two idle cores, less when other
    work shares the machine. The upload ratio cannot exceed it."""
    with ProcessPoolExecutor(2) as pool:
        one = pool.submit(_spin, seconds).result()
        two = sum(f.result() for f in [pool.submit(_spin, seconds) for _ in range(2)])
    return two / one


def merge(total: Run | None, block: Run) -> Run:
    if total is None:
        return block
    total.latencies += block.latencies
    for kind, count in block.errors.items():
        total.errors[kind] = total.errors.get(kind, 0) + count
    total.wall += block.wall
    total.rss_after = block.rss_after
    return total


def new_subject(server: Server, key: str, name: str) -> str:
    r = httpx.post(
        f"{server.url}/api/v1/subjects", json={"name": name}, headers={"Authorization": f"Bearer {key}"}
    )
    r.raise_for_status()
    return r.json()["id"]


# --- history --------------------------------------------------------------------------------------


def seed_history(server: Server, key: str, rows: int, shots: int = 3) -> str:
    """A subject with `rows` analyses: one real upload, the rest inserted directly as copies of it
    with varied measures, in visits of `shots` shots 5 minutes apart, one visit every 36 hours (about
    1,700 visits for 5,000 analyses), each with its visit row as the grouping would make it."""
    from sqlalchemy import insert, update

    from app.core.db import Database
    from app.storage.models import AnalysisDocument, AnalysisRecord, Subject, Visit
    from app.storage.series import LAYOUT, pack
    from posture.trends import method_key

    subject = new_subject(server, key, "History bench")
    photo = (SAMPLES / "walk_side_crop_f0128.jpg").read_bytes()
    first = httpx.post(
        f"{server.url}/api/v1/subjects/{subject}/analyses",
        files={"photo": ("p.jpg", photo, "image/jpeg")},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    ).json()
    history_fields = ("id", "subject_id", "taken_at", "visit_id", "visit", "reanalysis_skipped")
    template = {k: v for k, v in first.items() if k not in history_fields}
    rng = random.Random(0)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    analyses, documents, visits = [], [], []
    method = method_key(template["versions"])
    for i in range(rows - 1):
        measures = {
            k: (None if v is None else round(v + rng.gauss(0, 2) + i * 0.001, 2))
            for k, v in template["measures"].items()
        }
        analysis_id = uuid.uuid4()
        taken_at = start + timedelta(hours=36 * (i // shots), minutes=5 * (i % shots))
        if i % shots == 0:
            visit = {
                "id": uuid.uuid4(),
                "subject_id": uuid.UUID(subject),
                "mode": "standing",
                "taken_at": taken_at,
            }
            visits.append({**visit, "label": None})
        analyses.append(
            {
                "id": analysis_id,
                "subject_id": uuid.UUID(subject),
                "taken_at": taken_at,
                "created_at": datetime.now(UTC),
                "mode": "standing",
                "photo_sha256": None,
                "overlay_sha256": None,
                "series_layout": LAYOUT,
                "series": pack(measures, template["scores"]),
                "visit_id": visits[-1]["id"],
                "visit_label": None,
                "method": method,
            }
        )
        documents.append({"analysis_id": analysis_id, "result": {**template, "measures": measures}})
    db = Database(server.database_url)
    with db.session() as session:
        session.execute(insert(Visit), visits)
        session.execute(insert(AnalysisRecord), analyses)
        session.execute(insert(AnalysisDocument), documents)
        # As every change to a history does: the trends cached for the real upload are now stale.
        session.execute(
            update(Subject)
            .where(Subject.id == uuid.UUID(subject))
            .values(history_version=Subject.history_version + 1)
        )
        session.commit()
    db.dispose()
    return subject


def time_gets(server: Server, key: str, paths: list[str], n: int) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, response bytes) of `n` sequential GETs (cycling through `paths`) after 3
    warm-ups."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        for k in range(3):
            c.get(paths[k % len(paths)]).raise_for_status()
        times, size = [], 0
        for k in range(n):
            start = time.perf_counter()
            r = c.get(paths[(k + 3) % len(paths)])
            times.append(time.perf_counter() - start)
            r.raise_for_status()
            size = len(r.content)
    times.sort()
    return statistics.median(times) * 1000, times[min(n - 1, round(0.99 * (n - 1)))] * 1000, size


def after_uploads(
    server: Server, key: str, subject: str, paths: dict[str, str], rounds: int
) -> dict[str, list[float]]:
    """`rounds` times: upload a photo to `subject` (a real analysis; it joins the history's last visit
    or starts one), then time each of `paths` once, as the first request after that upload (every
    change bumps the subject's history version, so nothing cached is served)."""
    photo = (SAMPLES / "walk_side_crop_f0128.jpg").read_bytes()
    times: dict[str, list[float]] = {label: [] for label in paths}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        for k in range(rounds):
            taken_at = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=10 * k)
            r = c.post(
                f"/api/v1/subjects/{subject}/analyses",
                files={"photo": ("p.jpg", photo, "image/jpeg")},
                data={"taken_at": taken_at.isoformat()},
            )
            r.raise_for_status()
            for label, path in paths.items():
                start = time.perf_counter()
                c.get(path).raise_for_status()
                times[label].append((time.perf_counter() - start) * 1000)
    return times


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=200, help="uploads per concurrency level")
    parser.add_argument("--blocks", type=int, default=4, help="alternating blocks per concurrency level")
    parser.add_argument("--memory-requests", type=int, default=1000)
    parser.add_argument("--history-rows", type=int, default=5000)
    parser.add_argument(
        "--after-upload-rounds", type=int, default=10, help="uploads timed with the next request"
    )
    parser.add_argument("--workers", type=int, help="inference workers (default: the server's, one per CPU)")
    parser.add_argument("--pool", choices=["process", "thread"], default="process")
    parser.add_argument("--database-url", help="default: SQLite in a temporary data dir")
    parser.add_argument("--max-seconds", type=float, default=900, help="time bound of each phase")
    parser.add_argument("--phases", default="uploads,memory,history")
    args = parser.parse_args()
    phases = set(args.phases.split(","))

    photo_path = SAMPLES / "walk_side_f0128.jpg"
    photo = photo_path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="posture-bench-") as tmp:
        server = start_server(Path(tmp), args.workers, args.pool, args.database_url)
        try:
            key = create_key(server)
            print(
                f"HTTP API load benchmark — {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, "
                f"{os.cpu_count()} CPUs, {args.pool} pool, workers: {args.workers or 'default'}, "
                f"database: {server.database_url.split(':', 1)[0]}, load average {os.getloadavg()[0]:.2f}"
            )
            print(f"server memory after start: {tree_rss_mb(server.process.pid):.0f} MB")
            if "uploads" in phases:
                print(
                    f"\nuploads of {photo_path.name} ({len(photo) // 1024} KiB): {args.uploads} at each "
                    f"concurrency, alternating in {args.blocks} blocks"
                )
                header = f"{'conc':>4} {'done':>5} {'photos/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
                print(f"{header}  RSS MB (first block before → last block after)")
                subjects = {c: new_subject(server, key, f"Load c{c}") for c in (1, 4)}
                runs: dict[int, Run] = {}
                ceilings = []
                per_block = max(1, args.uploads // args.blocks)
                for _ in range(args.blocks):
                    ceilings.append(machine_ceiling())
                    for concurrency in (1, 4):
                        block = upload_load(
                            server,
                            key,
                            subjects[concurrency],
                            photo,
                            per_block,
                            concurrency,
                            args.max_seconds,
                        )
                        runs[concurrency] = merge(runs.get(concurrency), block)
                for concurrency, run in runs.items():
                    print(
                        f"{concurrency:>4} {run.done:>5} {run.throughput:>9.2f} {run.percentile(0.5):>8.0f} "
                        f"{run.percentile(0.99):>8.0f} {sum(run.errors.values()):>7}  "
                        f"{run.rss_before:.0f} → {run.rss_after:.0f}  {run.errors or ''}"
                    )
                ratio = runs[4].throughput / runs[1].throughput if runs[1].throughput else float("nan")
                print(
                    f"throughput ratio concurrency 4 / 1: {ratio:.2f} (target ≥ 1.6); machine ceiling "
                    f"(2 busy processes / 1) before each block: {', '.join(f'{c:.2f}' for c in ceilings)}"
                )
            if "memory" in phases:
                small = (SAMPLES / "walk_side_crop_f0128.jpg").read_bytes()
                subject = new_subject(server, key, "Memory")
                upload_load(server, key, subject, small, 50, 4, args.max_seconds)  # warm-up
                run = upload_load(server, key, subject, small, args.memory_requests, 4, args.max_seconds)
                print(
                    f"\nmemory: {run.done} uploads of walk_side_crop_f0128.jpg at concurrency 4 "
                    f"({run.throughput:.2f}/s, {sum(run.errors.values())} errors): "
                    f"RSS {run.rss_before:.0f} → {run.rss_after:.0f} MB "
                    f"({run.rss_after - run.rss_before:+.0f} MB; target < 50)"
                )
            if "history" in phases:
                subject = seed_history(server, key, args.history_rows)
                base = f"/api/v1/subjects/{subject}"
                visits = -(-(args.history_rows - 1) // 3) + 1  # the seeded ones and the real upload's
                print(
                    f"\nsubject with {args.history_rows} analyses in {visits} visits "
                    "(50 sequential requests each):"
                )
                for label, paths in (
                    ("history (first page, 50 items)", [f"{base}/analyses"]),
                    ("history (last page, 50 items)", [f"{base}/analyses?offset={args.history_rows - 50}"]),
                    # A distinct (always inclusive) `since` per request: each one computed afresh, as
                    # the first request after an upload is.
                    (
                        "trends, computed",
                        [f"{base}/trends?since=2019-12-31T00:00:{i:02d}Z" for i in range(53)],
                    ),
                    ("trends, unchanged history", [f"{base}/trends"]),
                    (
                        "trends by photo, computed",
                        [f"{base}/trends?by=photo&since=2019-12-31T00:00:{i:02d}Z" for i in range(53)],
                    ),
                    ("visits (first page, 50 visits)", [f"{base}/visits"]),
                    ("visits (last page, 50 visits)", [f"{base}/visits?offset={visits - 50}"]),
                ):
                    p50, p99, size = time_gets(server, key, paths, 50)
                    print(f"  {label:<32} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({size / 1024:.0f} KiB)")
                rounds = args.after_upload_rounds
                print(
                    f"\nthe first request after an upload ({rounds} uploads, each followed by one of each):"
                )
                first = after_uploads(
                    server,
                    key,
                    subject,
                    {
                        "trends (by visit)": f"{base}/trends",
                        "visits (last page)": f"{base}/visits?offset={visits - 49}",
                        "history (last page)": f"{base}/analyses?offset={args.history_rows - 49}",
                    },
                    rounds,
                )
                for label, times in first.items():
                    times.sort()
                    print(f"  {label:<32} p50 {statistics.median(times):6.1f} ms  max {times[-1]:6.1f} ms")
            print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
        finally:
            stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
