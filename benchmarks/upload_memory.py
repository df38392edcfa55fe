"""Memory of the server's main process while clips are uploaded at the same time (issue 23, item 9).

Starts a real `posture serve` (SQLite, a temporary data dir, one inference worker), creates an account
and a subject, then sends `--concurrency` clip uploads of `--size-mib` MiB each at once, `--rounds`
times. The clip is a generated file: an MP4 `ftyp` header and random bytes (incompressible, so nothing
shrinks it in transit). Its job then fails (`clip_unreadable`): what is measured is the upload, not
the analysis. The main process's resident memory (VmRSS of the `posture serve` process, without its
inference workers) is sampled every 10 ms from before the first upload to after the last answer;
printed: at rest, the peak during the uploads, and the process's VmHWM at the end.

    python benchmarks/upload_memory.py                     # this checkout's code
    python benchmarks/upload_memory.py --code /tmp/before  # another tree (e.g. `git archive` of a commit)

`--code` runs the server from another source tree (PYTHONPATH and working directory), so the same
script measures the code before and after a change.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_api  # the server helpers of the API load benchmark

MiB = 1024 * 1024


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    """Samples a process's VmRSS in a thread until stopped; keeps the largest."""

    def __init__(self, pid: int, every_s: float = 0.01) -> None:
        self.pid, self.every_s = pid, every_s
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(self.every_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_clip(path: Path, size: int) -> str:
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    hasher = hashlib.sha256()
    with path.open("wb") as out:
        out.write(head)
        hasher.update(head)
        left = size - len(head)
        while left > 0:
            block = os.urandom(min(MiB, left))
            out.write(block)
            hasher.update(block)
            left -= len(block)
    return hasher.hexdigest()


def upload(url: str, key: str, subject: str, clip: Path) -> int:
    with clip.open("rb") as handle, httpx.Client(timeout=300) as client:
        response = client.post(
            f"{url}/api/v1/subjects/{subject}/movements",
            headers={"Authorization": f"Bearer {key}"},
            files={"clip": (clip.name, handle, "video/mp4")},
            data={"test": "lunge"},
        )
    return response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--code", type=Path, default=None, help="source tree to run the server from")
    args = parser.parse_args()

    if args.code is not None:
        code = args.code.resolve()
        os.environ["PYTHONPATH"] = str(code)
        load_api.ROOT = code  # the server's working directory
    with tempfile.TemporaryDirectory(prefix="upload-memory-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        clips = []
        for i in range(args.concurrency):
            clip = Path(tmp) / f"clip{i}.mp4"
            make_clip(clip, int(args.size_mib * MiB))
            clips.append(clip)
        server = load_api.start_server(data_dir, workers=1, pool="process", database_url=None)
        try:
            key = load_api.create_key(server)
            subject = load_api.new_subject(server, key, "Upload memory")
            pid = server.process.pid
            time.sleep(2.0)  # let start-up settle
            rest = rss_mb(pid)
            statuses: list[int] = []
            rounds: list[float] = []
            with Sampler(pid) as whole:
                for _ in range(args.rounds):
                    with Sampler(pid) as sampler, ThreadPoolExecutor(args.concurrency) as pool:
                        started = time.perf_counter()
                        statuses += pool.map(lambda c: upload(server.url, key, subject, c), clips)
                        elapsed = time.perf_counter() - started
                    rounds.append(sampler.peak)
                    print(
                        f"round: {args.concurrency} x {args.size_mib:g} MiB in {elapsed:.1f} s, "
                        f"main-process peak RSS {sampler.peak:.0f} MB"
                    )
                    time.sleep(1.0)
            hwm = rss_mb(pid, "VmHWM")
            after = rss_mb(pid)
        finally:
            load_api.stop_server(server)
    print(f"code: {args.code or 'this checkout'}; {platform.machine()}, {os.cpu_count()} cores")
    print(f"answers: {sorted(set(statuses))} ({len(statuses)} uploads)")
    print(
        f"main process RSS: at rest {rest:.0f} MB, peak during uploads {whole.peak:.0f} MB "
        f"(+{whole.peak - rest:.0f} MB), after {after:.0f} MB, VmHWM {hwm:.0f} MB"
    )


if __name__ == "__main__":
    main()
