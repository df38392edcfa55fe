"""Decoding a movement clip: a video (MP4, MOV, WebM) or a burst of photos, sampled at a stated rate.

Frames are streamed: `Clip.frames()` decodes one frame at a time and yields only the sampled ones, so a
clip never exists in memory as a whole. Video is decoded by OpenCV's bundled FFmpeg, which applies the
container's rotation (the phone's display matrix) itself (`CAP_PROP_ORIENTATION_AUTO`) when it is a
quarter turn (90, 180, 270 degrees) and ignores any other; `ClipInfo.rotation_deg` is the rotation
applied, and one that was not is reported (`rotation_ignored_deg`, the warning `rotation_ignored`).
Frames larger than `max_side_px` are reduced before the model sees them (the landmarker works at 256
px inside).

What one clip may cost is bounded before a frame is decoded (`ClipLimits`, rules.toml
`[movement.clip]`): the frame size read from the container (`clip_frame_too_large`: FFmpeg holds every
decoded frame, and its reference frames, at full size, so the frame size bounds a worker's memory) and
the frames × pixels to decode (`clip_too_heavy`: the work, so the time). The work is counted again as
frames are decoded, for containers that do not give their frame count. A clip too short to hold a rep
(`clip_too_short`) is refused, and one whose decoding stops before the container's last frame (a
damaged or cut file) is analysed as far as it goes, `Clip.truncated` set (or refused as
`clip_truncated` when too few frames were read).
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ErrorCode, PostureError
from ..intake import load_photo

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm"})
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"})
# Decoded frames kept ready ahead of the model (each at most the working size: ≤ 1.5 MB).
PREFETCH_FRAMES = 3
# Seconds of slack on the length limit: container durations are rounded, and a 30 s recording often
# reads as 30.03 s.
_DURATION_SLACK_S = 0.5

ClipSource = str | Path | bytes | Sequence[str | Path]
QUARTER_TURNS = (0, 90, 180, 270)


@dataclass(frozen=True)
class ClipLimits:
    """What one clip may cost (rules.toml `[movement.clip]`): the largest frame side and frame pixels,
    the frames × pixels to decode (megapixels), and the fewest frames and seconds of a movement."""

    max_frame_side_px: int = 4096
    max_frame_pixels: int = 9_500_000
    max_decoded_megapixels: float = 9000.0
    min_frames: int = 8
    min_duration_s: float = 1.0
    truncated_share: float = 0.97

    @classmethod
    def from_rules(cls) -> ClipLimits:
        from ..rules import load_rules

        rules = load_rules()["movement"]["clip"]
        return cls(
            max_frame_side_px=int(rules["max_frame_side_px"]),
            max_frame_pixels=int(rules["max_frame_pixels"]),
            max_decoded_megapixels=float(rules["max_decoded_megapixels"]),
            min_frames=int(rules["min_frames"]),
            min_duration_s=float(rules["min_duration_s"]),
            truncated_share=float(rules["truncated_share"]),
        )


@dataclass(frozen=True)
class ClipInfo:
    """What the clip is: upright size in pixels (rotation applied), frame rate, length, the rotation the
    container asked for (degrees clockwise), the number of frames in it and the sampling rate used."""

    width: int
    height: int
    fps: float
    duration_s: float
    rotation_deg: int
    frames_total: int
    sample_fps: float
    burst: bool = False
    rotation_ignored: bool = False  # the container asked for a rotation that is not a quarter turn
    rotation_ignored_deg: float | None = None  # what it asked for (None: not a number)
    frames_read: int = 0  # frames decoded (set once decoding has ended; `Clip.frames_read` meanwhile)
    truncated: bool = False  # decoding stopped before the container's last frame


@dataclass(frozen=True)
class ClipFrame:
    """One sampled frame: its number among the sampled ones, its number in the clip, its time, and the
    RGB image (uint8, reduced to the working size; `scale` = working pixels per clip pixel)."""

    index: int
    source_index: int
    time_s: float
    rgb: np.ndarray
    scale: float


def is_clip_path(path: str | Path) -> bool:
    """True for a file name with a video suffix (the CLI and batch route by it)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def burst_paths(folder: str | Path) -> list[Path]:
    """The photos of a burst folder, in name order."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


class Clip:
    """An opened clip. Use as a context manager; `frames()` streams the sampled frames once."""

    def __init__(
        self,
        info: ClipInfo,
        frames: Iterator[ClipFrame],
        cleanup: list[Path],
        release: Callable[[], object] | None = None,
    ) -> None:
        self.info = info
        self._frames = frames
        self._cleanup = cleanup
        self._release = release  # the decoder, also when its frames were never started
        self.frames_read = 0  # frames decoded from the container (all, not only the sampled ones)
        self.truncated = False  # decoding stopped before the container's last frame

    def frames(self) -> Iterator[ClipFrame]:
        return self._frames

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()
        if self._release is not None:
            self._release()  # releasing twice is harmless
            self._release = None
        for path in self._cleanup:
            path.unlink(missing_ok=True)
        self._cleanup = []

    def __enter__(self) -> Clip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_clip(
    source: ClipSource,
    *,
    sample_fps: float,
    max_duration_s: float,
    max_side_px: int,
    limits: ClipLimits | None = None,
) -> Clip:
    """Open a video (path or bytes) or a burst (a folder or a list of photo paths), or raise
    `PostureError` with `clip_unreadable`, `clip_too_long`, `clip_too_short`, `clip_frame_too_large` or
    `clip_too_heavy` (`limits`: rules.toml's by default)."""
    limits = limits or ClipLimits.from_rules()
    if isinstance(source, bytes | bytearray):
        suffix = _sniff_suffix(bytes(source[:64]))
        fd, name = tempfile.mkstemp(prefix="posture-clip-", suffix=suffix)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(source)
            return _open_video(tmp, sample_fps, max_duration_s, max_side_px, limits, cleanup=[tmp])
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            return _open_burst(burst_paths(path), sample_fps, max_duration_s, max_side_px)
        if path.suffix.lower() in PHOTO_SUFFIXES:
            return _open_burst([path], sample_fps, max_duration_s, max_side_px)
        return _open_video(path, sample_fps, max_duration_s, max_side_px, limits, cleanup=[])
    return _open_burst([Path(p) for p in source], sample_fps, max_duration_s, max_side_px)


def _sniff_suffix(head: bytes) -> str:
    """A suffix for uploaded bytes, from the container's signature (FFmpeg probes the content anyway)."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ".webm"
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:10] == b"qt" else ".mp4"
    return ".bin"


def _unreadable(message: str) -> PostureError:
    return PostureError(ErrorCode.CLIP_UNREADABLE, message)


def _too_long(duration_s: float, max_duration_s: float) -> PostureError:
    return PostureError(
        ErrorCode.CLIP_TOO_LONG,
        f"The clip is {duration_s:.0f} s long; a movement test takes at most {max_duration_s:.0f} s. "
        "Film three to five slow reps and trim the rest.",
    )


def _too_short(frames: int, fps: float, limits: ClipLimits) -> PostureError:
    count = "1 frame" if frames == 1 else f"{frames} frames"
    return PostureError(
        ErrorCode.CLIP_TOO_SHORT,
        f"The clip holds {count} at {fps:g} fps ({frames / fps:.2f} s); a movement test needs at least "
        f"{limits.min_frames} frames and {limits.min_duration_s:g} s. Film three to five slow reps.",
    )


def _frame_too_large(width: int, height: int, limits: ClipLimits) -> PostureError:
    return PostureError(
        ErrorCode.CLIP_FRAME_TOO_LARGE,
        f"The clip's frames are {width}×{height} pixels; clips up to {limits.max_frame_side_px} pixels a "
        f"side and {limits.max_frame_pixels / 1e6:.1f} megapixels (4K) are analysed. Film at 4K or less.",
    )


def _too_heavy(megapixels: float, limits: ClipLimits) -> PostureError:
    return PostureError(
        ErrorCode.CLIP_TOO_HEAVY,
        f"The clip has {megapixels:,.1f} megapixels of frames to decode; one clip may have at most "
        f"{limits.max_decoded_megapixels:,.1f} (30 s of 4K at 30 fps). Trim it to the reps, or film at a "
        "lower frame rate or resolution.",
    )


def _applied_rotation(meta: float) -> tuple[int, bool, float | None]:
    """The rotation FFmpeg applies for the container's `meta` (degrees clockwise), whether `meta` was
    ignored (not a quarter turn: a 45°, all-zero or overflowing display matrix) and its value. OpenCV
    rotates frames only for exact quarter turns; anything else leaves them as stored."""
    if not np.isfinite(meta):
        return 0, True, None
    degrees = round(meta) % 360
    if degrees in QUARTER_TURNS and abs(meta - round(meta)) < 1e-6:
        return degrees, False, None
    return 0, True, round(float(meta), 3)


def _open_video(
    path: Path,
    sample_fps: float,
    max_duration_s: float,
    max_side_px: int,
    limits: ClipLimits,
    cleanup: list[Path],
) -> Clip:
    if not path.is_file():
        raise _unreadable(f"No clip file at {path.name}.")
    # One decoding thread: FFmpeg's frame threads each hold frames at full size, so its default (one per
    # core) would make a worker's memory grow with the machine's cores; parallelism comes from workers.
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    if not cap.isOpened():
        cap.release()
        raise _unreadable("The clip could not be opened as a video. Send an MP4, MOV or WebM file.")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # upright frames, as the phone shows them
    try:
        # Everything below is read from the container's headers: no frame is decoded before the checks.
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))  # 0: not in the container (some WebM)
        meta = float(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0.0)
        rotation, ignored, ignored_deg = _applied_rotation(meta)
        side_w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        side_h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            raise _unreadable(
                f"The clip's frame rate ({fps:g} fps) is not one a camera films at (up to 1000 fps). Send an "
                "MP4, MOV or WebM file from a camera."
            )
        _check_frame_size(side_w, side_h, limits)
        duration = count / fps if count > 0 else 0.0
        if duration > max_duration_s + _DURATION_SLACK_S:
            raise _too_long(duration, max_duration_s)
        if count > 0 and (count < limits.min_frames or duration < limits.min_duration_s - 1.0 / fps):
            raise _too_short(count, fps, limits)
        if count * side_w * side_h / 1e6 > limits.max_decoded_megapixels:
            raise _too_heavy(count * side_w * side_h / 1e6, limits)
        ok, first = cap.read()
        if not ok or first is None or first.ndim != 3:
            raise _unreadable("No frame of the clip could be decoded. The file may be damaged or cut short.")
        height, width = first.shape[:2]
        _check_frame_size(width, height, limits)  # a container that understated its frame size
    except BaseException:
        cap.release()
        raise
    info = ClipInfo(
        width=width,
        height=height,
        fps=round(fps, 3),
        duration_s=round(duration, 3),
        rotation_deg=rotation,
        frames_total=count,
        sample_fps=min(float(sample_fps), fps),
        rotation_ignored=ignored,
        rotation_ignored_deg=ignored_deg,
    )
    clip = Clip(info, iter(()), cleanup, release=cap.release)
    frames = _video_frames(cap, first, fps, sample_fps, max_duration_s, max_side_px, limits, clip)
    clip._frames = _prefetch(frames, PREFETCH_FRAMES)
    return clip


def _check_frame_size(width: int, height: int, limits: ClipLimits) -> None:
    if max(width, height) > limits.max_frame_side_px or width * height > limits.max_frame_pixels:
        raise _frame_too_large(width, height, limits)


def _prefetch(source: Iterator[ClipFrame], depth: int) -> Iterator[ClipFrame]:
    """Run `source` in a thread, at most `depth` frames ahead: decoding the next frames overlaps the
    model's pass on this one (both release the GIL), and memory stays bounded by `depth` frames.
    An error in the decoder is raised here, in the consumer; closing this generator stops the thread."""
    box: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for frame in source:
                if not put(("frame", frame)):
                    break
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name="clip-decoder", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "frame":
                yield value  # type: ignore[misc]
            elif kind == "error":
                raise value  # type: ignore[misc]
            else:
                return
    finally:
        stop.set()
        thread.join()


def _video_frames(
    cap: cv2.VideoCapture,
    first: np.ndarray,
    fps: float,
    sample_fps: float,
    max_duration_s: float,
    max_side_px: int,
    limits: ClipLimits,
    clip: Clip,
) -> Iterator[ClipFrame]:
    """Decode sequentially; keep a frame when its time reaches the next sampling instant. At the end
    (or a decode error: FFmpeg's reader stops at the first packet it cannot decode) `clip.frames_read`
    and `clip.truncated` say how far it went."""
    step = 1.0 / min(sample_fps, fps)
    pixels_mp = first.shape[0] * first.shape[1] / 1e6
    expected = clip.info.frames_total
    half_frame = 0.5 / fps
    next_t = 0.0
    sampled = 0
    source_index = 0
    bgr: np.ndarray | None = first
    t0: float | None = None
    try:
        while True:
            if bgr is None:
                if not cap.grab():
                    _ended(clip, source_index + 1, expected, limits)
                    return
                source_index += 1
            clip.frames_read = source_index + 1
            if clip.frames_read * pixels_mp > limits.max_decoded_megapixels:
                raise _too_heavy(clip.frames_read * pixels_mp, limits)
            pos_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
            if t0 is None:
                t0 = pos_ms
            # The container's timestamp (variable frame rate phones), else the frame number.
            t = (pos_ms - t0) / 1000.0 if pos_ms > t0 or source_index == 0 else source_index / fps
            if t > max_duration_s + _DURATION_SLACK_S:
                raise _too_long(t, max_duration_s)
            if t + half_frame >= next_t:
                if bgr is None:
                    ok, bgr = cap.retrieve()
                    if not ok or bgr is None:
                        _ended(clip, source_index, expected, limits)
                        return
                small, scale = _working(bgr, max_side_px)  # reduce first: the colour swap is then cheaper
                rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
                yield ClipFrame(sampled, source_index, round(t, 4), rgb, scale)
                sampled += 1
                next_t += step
                while next_t <= t - half_frame:  # a gap in the stream: do not sample it twice over
                    next_t += step
            bgr = None
    finally:
        cap.release()


def _ended(clip: Clip, frames_read: int, expected: int, limits: ClipLimits) -> None:
    """The decoder stopped after `frames_read` frames: short of what the container announced, the clip
    is `truncated` (a warning), or refused when too few frames were read to analyse."""
    clip.frames_read = frames_read
    if expected <= 0 or frames_read >= limits.truncated_share * expected:
        if frames_read < limits.min_frames:
            raise _too_short(frames_read, clip.info.fps, limits)
        return
    clip.truncated = True
    if frames_read < limits.min_frames:
        raise PostureError(
            ErrorCode.CLIP_TRUNCATED,
            f"The clip could be decoded only to frame {frames_read} of {expected}: the file is damaged or "
            "cut short, and too few frames remain to analyse. Send the clip again, as it was filmed.",
        )


def _working(rgb: np.ndarray, max_side_px: int) -> tuple[np.ndarray, float]:
    height, width = rgb.shape[:2]
    k = min(1.0, max_side_px / max(height, width))
    if k >= 1.0:
        return np.ascontiguousarray(rgb), 1.0
    size = (max(1, round(width * k)), max(1, round(height * k)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), size[0] / width


def _open_burst(paths: list[Path], sample_fps: float, max_duration_s: float, max_side_px: int) -> Clip:
    if not paths:
        raise _unreadable("The burst has no photos (JPEG, PNG, WebP or HEIC).")
    duration = len(paths) / sample_fps
    if duration > max_duration_s + _DURATION_SLACK_S:
        raise _too_long(duration, max_duration_s)
    try:
        first = load_photo(paths[0], working_long_side_px=max_side_px)
    except PostureError as exc:
        raise _unreadable(f"The burst's first photo could not be read: {exc.message}") from exc
    info = ClipInfo(
        width=first.width,
        height=first.height,
        fps=float(sample_fps),
        duration_s=round(duration, 3),
        rotation_deg=0,
        frames_total=len(paths),
        sample_fps=float(sample_fps),
        burst=True,
    )
    return Clip(info, _burst_frames(paths, first, info, max_side_px), [])


def _burst_frames(paths: list[Path], first: object, info: ClipInfo, max_side_px: int) -> Iterator[ClipFrame]:
    for i, path in enumerate(paths):
        try:
            photo = first if i == 0 else load_photo(path, working_long_side_px=max_side_px)
        except PostureError as exc:
            raise _unreadable(
                f"Photo {i + 1} of the burst ({path.name}) could not be read: {exc.message}"
            ) from exc
        if (photo.width, photo.height) != (info.width, info.height):  # type: ignore[attr-defined]
            raise _unreadable(
                f"Photo {i + 1} of the burst ({path.name}) is not the size of the first: a burst is one "
                "camera position, all photos the same size."
            )
        yield ClipFrame(i, i, round(i / info.sample_fps, 4), photo.rgb, photo.scale)  # type: ignore[attr-defined]
