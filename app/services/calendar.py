"""The subject's calendar feed: the next photo due (and the programmes' periods) as iCalendar, so the
person's own calendar app reminds them and the service sends nothing.

Calendar apps subscribe to a URL and cannot send an API key, so the feed is reached by a secret of its
own: `POST /subjects/{id}/calendar` (with the API key) makes a random token and answers the feed's URL
with it; only the token's SHA-256 is kept. The token opens this one subject's feed, read-only, and
nothing else; posting again replaces it (the old URL stops working), `DELETE` turns the feed off. A
wrong or revoked token answers 404, as an unknown subject does, so the URL reveals nothing else.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from icalendar import Alarm, Calendar, Event
from sqlalchemy.orm import Session

from app.core.errors import ApiError
from app.core.security import hash_key, key_matches
from app.services.programmes import all_of, today
from app.services.records import next_photo_due
from app.storage import programmes as stored
from app.storage import repository
from app.storage.models import Subject

UID_DOMAIN = "posture-profile"


def issue_token(db: Session, subject: Subject) -> str:
    token = secrets.token_urlsafe(24)
    stored.set_calendar_token(db, subject, hash_key(token))
    return token


def revoke_token(db: Session, subject: Subject) -> None:
    stored.set_calendar_token(db, subject, None)


def subject_by_token(db: Session, subject_id: uuid.UUID, token: str) -> Subject:
    subject = stored.calendar_subject(db, subject_id)
    digest = subject.calendar_token_sha256 if subject is not None else None
    if subject is None or digest is None or not key_matches(token, digest):
        raise ApiError(
            404,
            "calendar_not_found",
            "No calendar feed at this address (the link was replaced or turned off).",
        )
    return subject


def feed(db: Session, subject: Subject) -> bytes:
    """The feed: one all-day event on the day the next photo is due (today while it is overdue), with a
    morning reminder, and one all-day event spanning each programme."""
    summary = repository.summarize(db, subject)
    due, due_in = next_photo_due(summary.last_taken_at, subject.photo_interval_days)
    now = datetime.now(UTC)
    cal = Calendar()
    cal.add("prodid", "-//posture-profile//photo reminders//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Posture photos: {subject.name}")
    # Ask subscribers to refresh daily: the due day moves when a photo is taken.
    cal.add("refresh-interval", timedelta(days=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT12H")
    day = max(due, today())
    event = Event()
    # One stable UID: a new photo moves this event instead of adding another.
    event.add("uid", f"photo-due-{subject.id}@{UID_DOMAIN}")
    event.add("dtstamp", now)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    title = f"Posture photo due: {subject.name}"
    if due_in < 0:
        title += f" ({-due_in} days overdue)"
    event.add("summary", title)
    event.add(
        "description",
        f"Every {subject.photo_interval_days} days: three side-profile photos in the same place, light "
        "and clothing as before (and the squat and lunge clips if you track them).",
    )
    event.add("transp", "TRANSPARENT")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", title)
    alarm.add("trigger", timedelta(hours=9))  # 09:00 on the day (all-day events start at midnight)
    event.add_component(alarm)
    cal.add_component(event)
    for programme in all_of(db, subject.id):
        span = Event()
        span.add("uid", f"programme-{programme.id}@{UID_DOMAIN}")
        span.add("dtstamp", now)
        span.add("dtstart", programme.start_date)
        end = programme.end_date or max(programme.start_date, today())
        span.add("dtend", end + timedelta(days=1))
        span.add("summary", f"Programme: {programme.name} ({subject.name})")
        span.add("transp", "TRANSPARENT")
        cal.add_component(span)
    db.rollback()
    return cal.to_ical()
