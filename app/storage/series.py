"""The tracked values of an analysis packed for fast scans: float64 little-endian, NaN where missing.

A trend over thousands of analyses decodes one buffer with numpy instead of parsing thousands of JSON
documents (docs/benchmarks.md). Each row records the layout (the tracked names) it was packed with;
rows of another layout, written before a measure was added, are read from their documents instead,
so the packing is only ever a cache of the document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from posture.trends import TRACKED, tracked_values

LAYOUT = hashlib.sha256(",".join(TRACKED).encode()).hexdigest()[:16]
_DTYPE = np.dtype("<f8")


def pack(measures: Mapping[str, object], scores: Mapping[str, object]) -> bytes:
    values = tracked_values(measures, scores)
    return np.array([np.nan if values[n] is None else values[n] for n in TRACKED], dtype=_DTYPE).tobytes()


def unpack(blobs: Sequence[bytes]) -> np.ndarray:
    """(len(blobs) × len(TRACKED)) matrix of blobs packed with the current LAYOUT."""
    if not blobs:
        return np.zeros((0, len(TRACKED)))
    return np.frombuffer(b"".join(blobs), dtype=_DTYPE).reshape(len(blobs), len(TRACKED))


def row_from_document(result: Mapping[str, object]) -> np.ndarray:
    values = tracked_values(result.get("measures") or {}, result.get("scores") or {})  # type: ignore[arg-type]
    return np.array([np.nan if values[n] is None else values[n] for n in TRACKED], dtype=float)
