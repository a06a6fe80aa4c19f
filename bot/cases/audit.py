"""The audit log: every view of a transcript and every action in the console.

Append-only: rows are only ever added here, and the database refuses UPDATE
and DELETE on the table (triggers in the first migration). `detail` holds
ids and labels, never what a child wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.models import AuditEntry, StaffUser

SYSTEM = "system"


def record(session: Session, actor: StaffUser | None, action: str, case_id: int | None = None,
           **detail: Any) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor=actor.username if actor else SYSTEM,
        action=action,
        case_id=case_id,
        detail=detail,
    )
    session.add(entry)
    return entry


def entries(session: Session, case_id: int | None = None, limit: int = 200) -> Sequence[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    return session.scalars(query).all()
