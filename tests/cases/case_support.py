"""Helpers shared by the case unit tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot import transcript
from bot.cases import service
from bot.cases.models import Case, Consent, Risk, Role, StaffUser


def staff(session: Session, username: str, role: Role = Role.COUNSELLOR, capacity: int = 2) -> StaffUser:
    user = StaffUser(username=username, display_name=username.capitalize(), role=role, capacity=capacity,
                     password_hash="x", active=True)
    session.add(user)
    session.flush()
    return user


def case(session: Session, external_id: str, risk: Risk = Risk.HIGH, consent: Consent = Consent.GIVEN,
         now: datetime | None = None, user_ref: str = "ref") -> Case:
    conversation = transcript.get_or_create_conversation(session, "web", external_id)
    opened = service.open_case(session, conversation, service.HandoffRequest(risk, "abuse", consent), user_ref,
                               out_of_hours=False, now=now)
    return opened.case
