"""Batch scoring: folders of photos to CSV or JSON Lines, in parallel on local processes or Ray.

    posture batch photos/ manifest.csv --out results.csv --workers 2
    posture batch photos/ --out results.jsonl --engine ray --address auto

From Python (under `if __name__ == "__main__":` in a script: workers are started with `spawn`):

    from posture.batch import score
    for result in score(["photos/"], workers=2):
        print(result.source, result.analysis.status, result.analysis.scores.get("overall"))

The package: `score` (the run and its result types), `inputs` (files, folders, manifests), `local` and
`ray_engine` (the two engines, both running `posture.worker.Worker`), `output` (result files),
`progress`, and `cli` (the `posture batch` command). See docs/batch.md.
"""

from ..rows import CSV_COLUMNS, flatten_analysis
from .inputs import MANIFEST_EXTENSIONS, PHOTO_EXTENSIONS, BatchInputError, BatchItem, discover
from .score import ENGINES, BatchResult, Engine, RunStats, score

__all__ = [
    "CSV_COLUMNS",
    "ENGINES",
    "MANIFEST_EXTENSIONS",
    "PHOTO_EXTENSIONS",
    "BatchInputError",
    "BatchItem",
    "BatchResult",
    "Engine",
    "RunStats",
    "discover",
    "flatten_analysis",
    "score",
]
