"""`posture batch`: the command line of the batch tool (its `score()` is in `posture.batch.score`).

The history store (`--store`) belongs to the service: whoever assembles the root `posture` command
(`app.cli`) hands `register()` a `StoreOpener`, and the run writes each result to that sink as it
writes it to the CSV/JSONL file. Without one, `--store` is not offered.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from ..cli_args import add_camera_roll_argument, add_verbose_argument
from ..movement.options import TESTS, ClipOptions
from ..options import AnalysisOptions, camera_roll_options
from .inputs import (
    CLIP_EXTENSIONS,
    PHOTO_EXTENSIONS,
    BatchInputError,
    BatchItem,
    SubjectRule,
    discover,
    subject_rule,
)
from .output import ResultSink, ResultWriter, open_writer
from .progress import Progress
from .score import ENGINES, RunStats, score

StoreOpener = Callable[[Path | None, str | None], ResultSink]
"""Opens the history sink from `--data-dir` and `--user`; raises `BatchInputError` when it cannot."""


def register(sub: argparse._SubParsersAction, store: StoreOpener | None = None) -> None:  # type: ignore[type-arg]
    """Add the `batch` command to the `posture` CLI; `store` enables `--store`."""
    p = sub.add_parser(
        "batch",
        help="score folders of photos to CSV or JSONL, in parallel",
        description=(
            "Score photos, folders (searched recursively) and CSV manifests (path, subject, taken_at) "
            "into one row per photo. Re-running with the same --out skips photos already in it. "
            "Exit status: 0 all accepted, 1 some photos rejected, 2 usage error, 3 damaged model, "
            "4 the history store failed, 130 interrupted."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo, clip, folder or manifest .csv")
    p.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="results .csv or .jsonl (appended to)"
    )
    p.add_argument(
        "--workers", type=_positive_int, metavar="N", help="worker processes or Ray actors (default: CPUs)"
    )
    p.add_argument("--engine", choices=ENGINES, default="local", help="local process pool (default) or Ray")
    p.add_argument(
        "--address", metavar="ADDR", help="Ray cluster: auto or ray://HOST:10001 (default: a local Ray)"
    )
    p.add_argument(
        "--subject-from",
        metavar="RULE",
        help="subject of each photo: 'folder' or 'regex:PATTERN' (a manifest's subject column wins)",
    )
    p.add_argument("--subject", metavar="NAME", help="subject of the photos that get none otherwise")
    p.add_argument("--facing", choices=["left", "right"], help="override the detected facing side")
    p.add_argument("--mode", choices=["standing", "lunge"], default="standing")
    p.add_argument(
        "--test",
        choices=TESTS,
        default="squat",
        help="the movement the clips (.mp4 .mov .webm) show; their rows go to OUT.clips.csv with a .csv "
        "--out (default: squat)",
    )
    p.add_argument("--sample-fps", type=float, default=15.0, metavar="FPS", help="clip frames per second")
    p.add_argument("--mirror-pass", action="store_true", help="clips: also analyse each frame mirrored")
    add_camera_roll_argument(p)
    add_verbose_argument(p)
    p.add_argument("--overlay", type=Path, metavar="DIR", help="write annotated PNGs to DIR")
    if store is not None:
        p.add_argument(
            "--store",
            action="store_true",
            help="also add accepted photos to the history database (as uploads)",
        )
        p.add_argument(
            "--data-dir",
            type=Path,
            metavar="DIR",
            help="with --store: the service's data folder (POSTURE_DATA_DIR)",
        )
        p.add_argument(
            "--user",
            metavar="NAME",
            help="with --store: the account owning the subjects (if there are several)",
        )
    p.add_argument(
        "--progress",
        choices=["auto", "bar", "lines", "none"],
        default="auto",
        help="a bar on a terminal, a line every 10 s otherwise (default: auto)",
    )
    p.set_defaults(func=lambda args: _cmd_batch(args, store))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class _StoreFailed(Exception):
    pass


def _cmd_batch(args: argparse.Namespace, open_store: StoreOpener | None) -> int:
    from .ray_engine import EngineUnavailableError

    if args.address and args.engine != "ray":
        return _usage("--address needs --engine ray")
    storing = open_store is not None and args.store
    if open_store is not None and (args.data_dir or args.user) and not args.store:
        return _usage("--data-dir and --user need --store")
    store: ResultSink | None = None
    writer: ResultWriter | None = None
    try:
        items = discover(args.inputs, _subject_rule(args.subject_from, args.subject))
        if not items:
            kinds = ", ".join(sorted(PHOTO_EXTENSIONS | CLIP_EXTENSIONS))
            return _usage(f"no photos or clips ({kinds}) found in {' '.join(args.inputs)}")
        if args.engine == "ray" and any(item.is_clip for item in items):
            return _usage("movement clips are scored by the local engine only (leave out --engine ray)")
        if storing:
            assert open_store is not None
            _check_subjects(items)
            store = open_store(args.data_dir, args.user)
        writer = open_writer(args.out)
    except BatchInputError as exc:
        if store is not None:
            store.close()
        return _usage(str(exc))
    if args.overlay:
        args.overlay.mkdir(parents=True, exist_ok=True)

    progress = Progress(len(items), mode=args.progress)
    stats = RunStats()
    keep_photos = store is not None and store.keep_photos
    options = AnalysisOptions(
        facing=args.facing,
        mode=args.mode,
        **camera_roll_options(args.camera_roll),  # type: ignore[arg-type]
        overlay=bool(args.overlay) or keep_photos,  # the history keeps an overlay per photo, as uploads do
    )
    results = score(
        items,
        options,
        workers=args.workers,
        engine=args.engine,
        address=args.address,
        keep_photos=keep_photos,
        skip=writer.done,
        on_skip=lambda _item: progress.skipped_one(),
        stats=stats,
        clip_options=ClipOptions(
            test=args.test,
            facing=args.facing,
            sample_fps=args.sample_fps,
            overlay=bool(args.overlay) or keep_photos,  # the history keeps the deepest frame, as uploads do
            mirror_pass=args.mirror_pass,
            **camera_roll_options(args.camera_roll),  # type: ignore[arg-type]
        ),
    )
    interrupted = False
    failure: tuple[int, str] | None = None  # (exit status, message)
    try:
        with _sigterm_as_interrupt(), contextlib.closing(results):
            for result in results:
                # A row in the output means "finished": it is written after the history record, and a
                # Ctrl-C waits for both, so a resumed run neither skips nor stores a photo twice.
                with _interrupts_deferred():
                    if store is not None:  # photos become analyses, accepted clips movements
                        try:
                            store.write(result)
                        except Exception as exc:
                            raise _StoreFailed(
                                f"storing {result.source} in the history failed: {exc}"
                            ) from exc
                    writer.write(result)
                png = getattr(result.analysis, "deepest_png" if result.is_clip else "overlay_png", None)
                if args.overlay and png and result.sha256:
                    kind = "deepest" if result.is_clip else "overlay"
                    name = f"{Path(result.source).stem}.{result.sha256[:12]}.{kind}.png"
                    (args.overlay / name).write_bytes(png)
                progress.scored(result.analysis.ok)
    except KeyboardInterrupt:
        interrupted = True
    except EngineUnavailableError as exc:
        failure = (2, str(exc))
    except _StoreFailed as exc:
        failure = (4, str(exc))
    finally:
        progress.close()
        writer.close()
        if store is not None:
            store.close()

    if interrupted:
        print(
            f"posture batch: interrupted after {stats.scored} photos; {writer.path} holds every finished "
            "row. Run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    if failure is not None:
        print(f"posture batch: {failure[1]}", file=sys.stderr)
        return failure[0]
    print(_summary(stats, progress.elapsed_s, writer.path, store), file=sys.stderr)
    return 1 if stats.rejected else 0


def _subject_rule(subject_from: str | None, default: str | None) -> SubjectRule | None:
    rule = subject_rule(subject_from)
    if default is None:
        return rule
    return lambda item: (rule(item) if rule is not None else None) or default


def _check_subjects(items: list[BatchItem]) -> None:
    """With --store every photo needs a subject; say so before any work rather than skip photos."""
    missing = [item.source for item in items if not item.subject]
    if missing:
        raise BatchInputError(
            f"--store: {len(missing)} photos have no subject (first: {missing[0]}); name them with "
            "--subject-from, --subject or a manifest's subject column"
        )


def _summary(stats: RunStats, elapsed: float, out: Path, store: ResultSink | None) -> str:
    rate = f" ({stats.scored / elapsed:.2f} photos/s)" if stats.scored and elapsed > 0 else ""
    text = f"posture batch: scored {stats.scored} photos ({stats.rejected} rejected) in {elapsed:.1f} s{rate}"
    text += f"; skipped {stats.skipped} already in {out}"
    if stats.repeated:
        text += f", {stats.repeated} repeated"
    if store is not None:
        text += f"; {store.added} added to the history in {store.location}"
    return text


def _usage(message: str) -> int:
    print(f"posture batch: {message}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a scheduler stopping the job) like Ctrl-C: stop workers, keep a valid file."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then raise KeyboardInterrupt."""
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    try:
        previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt
