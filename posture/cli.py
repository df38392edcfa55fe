"""The library's command line: `posture analyze` and `posture batch`.

The installed `posture` command is assembled by the service (`app.cli`), which adds its own commands
(`serve`, `users`) and the batch run's history store; `python -m posture` runs the library's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cli_args import (
    VERBOSE_HELP,
    add_camera_roll_argument,
    add_camera_roll_source_argument,
    add_verbose_argument,
)
from .errors import ModelIntegrityError
from .native_logs import show_native_logs
from .options import FACINGS, MODES, AnalysisOptions, camera_roll_options

if TYPE_CHECKING:
    from .batch.cli import StoreOpener

# Silence MediaPipe/TFLite start-up chatter on stderr before they are imported (what these settings do
# not reach, LiteRT's own logger, `posture.native_logs` mutes around the model's calls).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


Register = Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]
"""Adds commands to the `posture` command (`sub.add_parser(...)`, with `func` set to the handler)."""


def build_parser(*registers: Register, store: StoreOpener | None = None) -> argparse.ArgumentParser:
    """The `posture` command: the library's own commands (`analyze`, `batch`, with `--store` when a
    history `store` is given) and those that `registers` add."""
    from .batch.cli import register as register_batch
    from .movement.options import TESTS

    parser = argparse.ArgumentParser(prog="posture", description="Side-profile posture photo analyser.")
    parser.add_argument("--verbose", "-v", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("analyze", help="analyse side-profile photos and movement clips")
    p.add_argument(
        "photos", nargs="+", type=Path, metavar="PHOTO|CLIP", help="photos, and clips (.mp4 .mov .webm)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per photo or clip per line")
    p.add_argument("--facing", choices=FACINGS, help="override the detected facing side")
    p.add_argument("--mode", choices=MODES, default="standing")
    p.add_argument(
        "--test", choices=TESTS, default="squat", help="the movement a clip shows (default: squat)"
    )
    p.add_argument(
        "--sample-fps",
        type=float,
        default=15.0,
        metavar="FPS",
        help="clip frames analysed per second (default 15)",
    )
    p.add_argument(
        "--mirror-pass",
        action="store_true",
        help="clips: also analyse each frame mirrored (2x time, less noise)",
    )
    add_camera_roll_argument(p)
    add_camera_roll_source_argument(p)
    p.add_argument("--overlay", type=Path, metavar="DIR", help="write annotated PNGs to DIR")
    add_verbose_argument(p)
    p.set_defaults(func=_cmd_analyze)
    register_batch(sub, store)
    for register in registers:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run the `posture` command (the library's commands only, unless `parser` brings more)."""
    args = (parser or build_parser()).parse_args(argv)
    if getattr(args, "verbose", False):
        show_native_logs()
    try:
        return int(args.func(args))
    except ModelIntegrityError as exc:
        print(f"posture: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def _cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis import analyze
    from .movement.clip import is_clip_path
    from .table import format_table_row, table_header

    if args.camera_roll_source != "given" and not isinstance(args.camera_roll, float):
        print("posture: --camera-roll-source device needs --camera-roll DEG (its roll)", file=sys.stderr)
        return 2
    if args.overlay:
        args.overlay.mkdir(parents=True, exist_ok=True)
    options = AnalysisOptions(
        facing=args.facing,
        mode=args.mode,
        overlay=bool(args.overlay),
        **camera_roll_options(args.camera_roll, args.camera_roll_source),
    )
    clips = [path for path in args.photos if is_clip_path(path)]
    photos = [path for path in args.photos if not is_clip_path(path)]
    n_rejected = _analyze_clips(args, clips) if clips else 0
    if photos and not args.json:
        print(table_header())
    for path in photos:
        result = analyze(path, options)
        n_rejected += not result.ok
        if args.overlay and result.overlay_png:
            (args.overlay / f"{path.stem}.overlay.png").write_bytes(result.overlay_png)
        if args.json:
            print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(format_table_row(result), flush=True)
    return 0 if n_rejected == 0 else 1


def _analyze_clips(args: argparse.Namespace, clips: list[Path]) -> int:
    """Movement clips (routed by file extension): one result per clip; the number refused."""
    from .movement import ClipOptions, analyze_clip
    from .movement.table import clip_table_header, format_clip_row

    roll = camera_roll_options(args.camera_roll, args.camera_roll_source)
    options = ClipOptions(
        test=args.test,
        facing=args.facing,
        camera_roll_deg=roll.get("camera_roll_deg"),  # type: ignore[arg-type]
        level=roll.get("level", "auto"),  # type: ignore[arg-type]
        sample_fps=args.sample_fps,
        overlay=bool(args.overlay),
        mirror_pass=args.mirror_pass,
    )
    if not args.json:
        print(clip_table_header(options.safe_test))
    n_rejected = 0
    for path in clips:
        result = analyze_clip(path, options)
        n_rejected += not result.ok
        if args.overlay and result.deepest_png:
            (args.overlay / f"{path.stem}.deepest.png").write_bytes(result.deepest_png)
        print(
            json.dumps(result.to_dict(), ensure_ascii=False) if args.json else format_clip_row(result),
            flush=True,
        )
    return n_rejected


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
