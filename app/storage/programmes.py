"""Programmes in storage: a subject's programme log (programmes, their exercises, a tick per exercise
and day done), and the subject's photo interval and calendar token.

Every lookup is scoped to the account: a programme or exercise of another account is not found, so the
routes answer 404 for it as for an id that never existed. Writes lock the subject's row first, as
uploads do, so a concurrent subject deletion either waits or leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.storage.models import Programme, ProgrammeExercise, ProgrammeTick, Subject, User, utcnow


def _subject_locked(session: Session, subject_id: uuid.UUID) -> bool:
    return session.scalar(select(Subject.id).where(Subject.id == subject_id).with_for_update()) is not None


def create_programme(
    session: Session,
    subject_id: uuid.UUID,
    *,
    name: str,
    start_date: date,
    end_date: date | None,
    notes: str | None,
    exercises: Sequence[tuple[str, str | None]] = (),
) -> Programme | None:
    """A new programme with its exercises (name, dose) in order; None if the subject is gone."""
    if not _subject_locked(session, subject_id):
        session.rollback()
        return None
    now = utcnow()
    programme = Programme(
        subject_id=subject_id,
        name=name,
        start_date=start_date,
        end_date=end_date,
        notes=notes,
        created_at=now,
        updated_at=now,
    )
    programme.exercises = [
        ProgrammeExercise(name=n, dose=d, position=i, created_at=now) for i, (n, d) in enumerate(exercises)
    ]
    session.add(programme)
    session.commit()
    return programme


def list_programmes(session: Session, subject_id: uuid.UUID) -> Sequence[Programme]:
    """The subject's programmes, latest start first (a subject has a handful, not thousands)."""
    return session.scalars(
        select(Programme)
        .where(Programme.subject_id == subject_id)
        .order_by(Programme.start_date.desc(), Programme.created_at.desc(), Programme.id)
    ).all()


def get_programme(session: Session, user: User, programme_id: uuid.UUID) -> Programme | None:
    return session.scalar(
        select(Programme)
        .join(Subject, Subject.id == Programme.subject_id)
        .where(Programme.id == programme_id, Subject.user_id == user.id)
    )


def update_programme(session: Session, programme: Programme, changes: dict[str, Any]) -> Programme:
    for field, value in changes.items():
        setattr(programme, field, value)
    if changes:
        programme.updated_at = utcnow()
    session.commit()
    return programme


def delete_programme(session: Session, programme: Programme) -> None:
    """The programme, its exercises and ticks (the foreign keys cascade)."""
    session.execute(delete(Programme).where(Programme.id == programme.id))
    session.commit()


def add_exercise(session: Session, programme: Programme, name: str, dose: str | None) -> ProgrammeExercise:
    position = max((e.position for e in programme.exercises), default=-1) + 1
    exercise = ProgrammeExercise(programme_id=programme.id, name=name, dose=dose, position=position)
    session.add(exercise)
    programme.updated_at = utcnow()
    session.commit()
    return exercise


def get_exercise(session: Session, programme: Programme, exercise_id: uuid.UUID) -> ProgrammeExercise | None:
    return session.scalar(
        select(ProgrammeExercise).where(
            ProgrammeExercise.id == exercise_id, ProgrammeExercise.programme_id == programme.id
        )
    )


def update_exercise(session: Session, exercise: ProgrammeExercise, changes: dict[str, Any]) -> None:
    for field, value in changes.items():
        setattr(exercise, field, value)
    session.commit()


def delete_exercise(session: Session, exercise: ProgrammeExercise) -> None:
    session.execute(delete(ProgrammeExercise).where(ProgrammeExercise.id == exercise.id))
    session.commit()


def set_tick(session: Session, exercise_id: uuid.UUID, day: date, done: bool) -> None:
    """Tick (or untick) one exercise on one day; idempotent, also when two requests race."""
    if not done:
        session.execute(
            delete(ProgrammeTick).where(
                ProgrammeTick.exercise_id == exercise_id, ProgrammeTick.done_on == day
            )
        )
        session.commit()
        return
    if session.get(ProgrammeTick, (exercise_id, day)) is not None:
        session.commit()
        return
    session.add(ProgrammeTick(exercise_id=exercise_id, done_on=day))
    try:
        session.commit()
    except IntegrityError:  # the same tick committed meanwhile (or the exercise was deleted)
        session.rollback()


def set_calendar_token(session: Session, subject: Subject, token_sha256: str | None) -> None:
    subject.calendar_token_sha256 = token_sha256
    session.commit()


def calendar_subject(session: Session, subject_id: uuid.UUID) -> Subject | None:
    """The subject by id alone, for the calendar feed, which authenticates by the subject's own token."""
    return session.get(Subject, subject_id)
