"""Command-line arguments shared by `posture analyze` and `posture batch` (`posture.cli`,
`posture.batch.cli`): one module both import, so neither command's module imports the other."""

from __future__ import annotations

import argparse

from .options import MAX_CAMERA_ROLL_DEG, ROLL_SOURCES


def add_camera_roll_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--camera-roll",
        type=_camera_roll,
        default=None,
        metavar="DEG|off",
        help="the camera's roll in degrees (from the phone's level), or 'off' to trust the photo's frame; "
        "default: read it from the photo",
    )


def add_camera_roll_source_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--camera-roll-source",
        choices=ROLL_SOURCES,
        default="given",
        help="who read --camera-roll: 'given' (typed in, a level app) or 'device' (the phone's orientation "
        "sensor at the shot); recorded as camera_level.source (default: given)",
    )


def _camera_roll(text: str) -> float | str:
    if text.strip().lower() == "off":
        return "off"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of degrees or 'off': {text!r}") from None
    if not (abs(value) <= MAX_CAMERA_ROLL_DEG):
        limit = f"{MAX_CAMERA_ROLL_DEG:.0f}"
        raise argparse.ArgumentTypeError(f"must lie between −{limit} and {limit}")
    return value


VERBOSE_HELP = "also show the pose model's native logs (MediaPipe, LiteRT, absl) on stderr"


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    """`--verbose` on a command; the root command's `--verbose` stands when the command's is not given
    (`posture.cli.main` reads it)."""
    parser.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
