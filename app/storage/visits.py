"""Visits: the shots of one subject and mode taken in one session, kept grouped as the history changes.

The rule (posture/rules.toml `[visits]`): a shot within `gap_min` minutes of the previous shot of the
same subject and mode joins its visit; shots carrying a client label (`visit_label`) form the visit of
that label instead, whatever their times. So unlabelled visits are maximal runs of shots with no gap
over `gap_min` between neighbours.

`regroup` restores that after a change (a shot added, removed or re-dated, a label set or cleared),
in the caller's transaction, which must hold the subject's row lock (the repository bumps
`history_version` first): concurrent changes to one subject then regroup one after the other. Only
the neighbourhood is read: a change at time t can only merge or split the runs that have a shot within
`gap_min` of t, because every other gap between neighbours is unchanged. Visit ids stay stable where
a visit survives (the new group keeps the id most of its shots had).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.storage.models import AnalysisDocument, AnalysisRecord, Subject, User, Visit
from app.storage.series import LAYOUT, row_from_document, unpack
from posture.trends import TRACKED, visit_rules


@cache
def gap() -> timedelta:
    return visit_rules().gap.item()


# --- keeping the grouping -------------------------------------------------------------------------


def regroup(
    session: Session,
    subject_id: uuid.UUID,
    mode: str,
    *,
    around: Iterable[datetime] = (),
    labels: Iterable[str | None] = (),
    visits: Iterable[uuid.UUID | None] = (),
) -> None:
    """Re-form the visits of (subject, mode) after a change: the unlabelled runs near the times in
    `around` (where a shot was added, removed, or moved from or to), the visits of `labels`, and the
    former `visits` of changed shots (removed when left empty)."""
    session.flush()  # the change itself must be visible to the queries below
    touched = {v for v in visits if v is not None}
    for label in {label for label in labels if label}:
        touched |= _regroup_label(session, subject_id, mode, label)
    times = sorted(set(around))
    if times:
        touched |= _regroup_runs(session, subject_id, mode, times, touched)
    if touched:
        shot = select(AnalysisRecord.id).where(AnalysisRecord.visit_id == Visit.id)
        session.execute(
            delete(Visit)
            .where(Visit.id.in_(touched), ~exists(shot))
            .execution_options(synchronize_session=False)
        )


def _regroup_runs(
    session: Session, subject_id: uuid.UUID, mode: str, times: Sequence[datetime], former: set[uuid.UUID]
) -> set[uuid.UUID]:
    a = AnalysisRecord
    unlabelled = (a.subject_id == subject_id, a.mode == mode, a.visit_label.is_(None))
    window = or_(*(a.taken_at.between(t - gap(), t + gap()) for t in times))
    shots = {
        row[0]: row
        for row in session.execute(select(a.id, a.taken_at, a.visit_id).where(*unlabelled, window))
    }
    old = {row[2] for row in shots.values() if row[2] is not None} | former
    if old:  # the whole of each run that reaches into the window
        members = select(a.id, a.taken_at, a.visit_id).where(*unlabelled, a.visit_id.in_(old))
        shots.update({row[0]: row for row in session.execute(members)})
    if not shots:
        return old
    # Only unlabelled visits of this series may be reused for a run (a former visit may be a label's).
    reusable = set(
        session.scalars(
            select(Visit.id).where(
                Visit.id.in_(old), Visit.subject_id == subject_id, Visit.mode == mode, Visit.label.is_(None)
            )
        )
    )
    ordered = sorted(shots.values(), key=lambda row: (row[1], str(row[0])))
    runs: list[list[Any]] = []
    for row in ordered:
        if not runs or row[1] - runs[-1][-1][1] > gap():
            runs.append([])
        runs[-1].append(row)
    used: set[uuid.UUID] = set()
    for run in runs:
        votes = Counter(row[2] for row in run if row[2] in reusable and row[2] not in used)
        # The id most of the run's shots had (ties: the earliest shot's: most_common keeps the order
        # of first appearance among equals), else a new visit.
        visit_id = votes.most_common(1)[0][0] if votes else None
        first = run[0][1]
        if visit_id is None:
            visit_id = uuid.uuid4()
            session.execute(
                insert(Visit).values(
                    id=visit_id, subject_id=subject_id, mode=mode, label=None, taken_at=first
                )
            )
        else:
            session.execute(
                update(Visit)
                .where(Visit.id == visit_id)
                .values(taken_at=first)
                .execution_options(synchronize_session=False)
            )
        used.add(visit_id)
        moved = [row[0] for row in run if row[2] != visit_id]
        _move(session, moved, visit_id)
    return old | used


def _regroup_label(session: Session, subject_id: uuid.UUID, mode: str, label: str) -> set[uuid.UUID]:
    a = AnalysisRecord
    rows = session.execute(
        select(a.id, a.taken_at, a.visit_id).where(
            a.subject_id == subject_id, a.mode == mode, a.visit_label == label
        )
    ).all()
    visit_id = session.scalar(
        select(Visit.id).where(Visit.subject_id == subject_id, Visit.mode == mode, Visit.label == label)
    )
    if not rows:
        return {visit_id} if visit_id is not None else set()
    first = min(row[1] for row in rows)
    if visit_id is None:
        visit_id = uuid.uuid4()
        session.execute(
            insert(Visit).values(id=visit_id, subject_id=subject_id, mode=mode, label=label, taken_at=first)
        )
    else:
        session.execute(
            update(Visit)
            .where(Visit.id == visit_id)
            .values(taken_at=first)
            .execution_options(synchronize_session=False)
        )
    _move(session, [row[0] for row in rows if row[2] != visit_id], visit_id)
    return {visit_id} | {row[2] for row in rows if row[2] is not None}


def _move(session: Session, analysis_ids: list[uuid.UUID], visit_id: uuid.UUID) -> None:
    """Point `analysis_ids` at `visit_id`, in the database and in the session's loaded objects (an
    upload answers with the record it just added)."""
    if not analysis_ids:
        return
    session.execute(
        update(AnalysisRecord)
        .where(AnalysisRecord.id.in_(analysis_ids))
        .values(visit_id=visit_id)
        .execution_options(synchronize_session=False)
    )
    moved = set(analysis_ids)
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, AnalysisRecord) and loaded.id in moved:
            set_committed_value(loaded, "visit_id", visit_id)


# --- reading visits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shots:
    """The shots of some visits in time order: ids, times, tracked values (one matrix row per shot,
    columns `posture.trends.TRACKED`), the visit of each, methods, and from the documents the scores
    and the overall band (what the page shows per shot) and the re-analysis mark."""

    ids: list[uuid.UUID]
    visit_ids: list[uuid.UUID]
    taken_at: list[datetime]
    values: np.ndarray
    methods: list[str]
    scores: list[dict[str, Any]]
    bands: list[str | None]
    reanalysis_skipped: list[str | None]

    def of(self, visit_id: uuid.UUID) -> list[int]:
        return [i for i, v in enumerate(self.visit_ids) if v == visit_id]


def visit_page(
    session: Session, subject_id: uuid.UUID, limit: int, offset: int, mode: str | None = None
) -> tuple[Sequence[Visit], int]:
    """The subject's visits in order of their first shot (oldest first), a page at a time."""
    where = [Visit.subject_id == subject_id]
    if mode is not None:
        where.append(Visit.mode == mode)
    # The total with the page, in one query: on PostgreSQL each round trip is what a page costs most
    # on a busy machine (docs/benchmarks.md). A page past the end has no row to carry it: counted apart.
    rows = session.execute(
        select(Visit, func.count().over())
        .where(*where)
        .order_by(Visit.taken_at, Visit.id)
        .limit(limit)
        .offset(offset)
    ).all()
    if rows:
        return [row[0] for row in rows], int(rows[0][1])
    total = session.scalar(select(func.count()).select_from(Visit).where(*where))
    return [], int(total or 0)


def get_visit(session: Session, user: User, visit_id: uuid.UUID) -> Visit | None:
    return session.scalar(
        select(Visit)
        .join(Subject, Subject.id == Visit.subject_id)
        .where(Visit.id == visit_id, Subject.user_id == user.id)
    )


def shots(session: Session, visit_ids: Iterable[uuid.UUID]) -> Shots:
    """The shots of `visit_ids`, in time order."""
    a, d = AnalysisRecord, AnalysisDocument
    wanted = list(visit_ids)
    rows = (
        session.execute(
            select(
                a.id,
                a.visit_id,
                a.taken_at,
                a.series_layout,
                a.series,
                a.method,
                a.reanalysis_skipped,
                d.result["scores"],
                d.result["bands"],
            )
            .join(d, d.analysis_id == a.id)
            .where(a.visit_id.in_(wanted))
            .order_by(a.taken_at, a.id)
        ).all()
        if wanted
        else []
    )
    values = np.full((len(rows), len(TRACKED)), np.nan)
    current = [i for i, row in enumerate(rows) if row[3] == LAYOUT]
    values[current] = unpack([rows[i][4] for i in current])
    stale = {rows[i][0]: i for i in range(len(rows)) if rows[i][3] != LAYOUT}
    if stale:  # packed with another list of measures: read those documents (app.storage.series)
        documents = session.execute(select(d.analysis_id, d.result).where(d.analysis_id.in_(list(stale))))
        for analysis_id, result in documents:
            values[stale[analysis_id]] = row_from_document(result)
    return Shots(
        ids=[row[0] for row in rows],
        visit_ids=[row[1] for row in rows],
        taken_at=[row[2] for row in rows],
        values=values,
        methods=[row[5] for row in rows],
        scores=[row[7] if isinstance(row[7], dict) else {} for row in rows],
        bands=[(row[8] or {}).get("overall") if isinstance(row[8], dict) else None for row in rows],
        reanalysis_skipped=[row[6] for row in rows],
    )
