"""The retention job: delete what is no longer needed, on a schedule, inside the gateway.

    RETENTION_CONVERSATION_DAYS (30)  conversations without a case, after their last message:
                                      app database (conversation, messages, offered buttons,
                                      outbox, message refs, Zalo windows) and Rasa's tracker
    RETENTION_CASE_DAYS (365)         conversations with a case, after the last case closed (or
                                      was declined) and the conversation fell silent: the case,
                                      its encrypted transcript, notes and events become one
                                      anonymous count (bot.privacy.models.CaseCount)
    sent / failed outbox rows         after OUTBOX_DAYS (7)
    handled webhook ids               bot.inbox.KEEP_IDS_FOR (14 days)
    Telegram message refs             bot.channels.message_refs.DELETABLE_FOR (48 hours)
    expired console sessions          at once

Open cases (waiting, active) are never touched. A "forget me" asked during a case is
carried out once the case has closed (bot.privacy.forget.apply_pending): checked every
PENDING_CHECK_SECONDS between the purges, and at the start of every purge.
See docs/data-inventory.md.
`purge(now=...)` takes the clock as an argument: the tests fast-forward it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy import case as when
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot import inbox
from bot.cases import feedback
from bot.cases.models import OPEN_STATUSES, Case, ConsoleSession
from bot.channels import message_refs
from bot.coordination.job_lock import exclusive
from bot.db import Database
from bot.models import Conversation, MessageRef, as_utc, conversation_key, utc_now
from bot.outbox import CANCELLED, FAILED, SENT, OutboxItem
from bot.privacy import forget, stores
from bot.privacy.models import CaseCount
from bot.settings import Settings

logger = logging.getLogger(__name__)

OUTBOX_DAYS = 7
# How often pending "forget me" requests of closed cases are looked for (a cheap query).
PENDING_CHECK_SECONDS = 15.0


@dataclass
class PurgeReport:
    conversations: int = 0
    cases_counted: int = 0
    tracker_events: int = 0
    outbox_rows: int = 0
    inbound_ids: int = 0
    message_refs: int = 0
    console_sessions: int = 0
    forget_requests: int = 0
    stores: set[str] = field(default_factory=set)

    def summary(self) -> str:  # counts only, never ids
        return (f"conversations={self.conversations} cases_counted={self.cases_counted} "
                f"tracker_events={self.tracker_events} outbox={self.outbox_rows} "
                f"inbound_ids={self.inbound_ids} message_refs={self.message_refs} "
                f"console_sessions={self.console_sessions} forget_requests={self.forget_requests}")


class Retention:
    def __init__(self, database: Database, tracker: stores.TrackerStore, conversation_days: int,
                 case_days: int) -> None:
        self._database = database
        self._tracker = tracker
        self.conversation_age = timedelta(days=conversation_days)
        self.case_age = timedelta(days=case_days)

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> Retention:
        return cls(database, stores.TrackerStore(settings.rasa_tracker_url),
                   settings.retention_conversation_days, settings.retention_case_days)

    def purge(self, now: datetime | None = None) -> PurgeReport:
        """One pass; with several workers, one at a time (bot/coordination/job_lock.py). A pass
        carries out pending forgets too, under their own lock: it must not wait for itself."""
        with exclusive(self._database, "retention"):
            return self._purge(now)

    def _purge(self, now: datetime | None) -> PurgeReport:
        now = now or utc_now()
        report = PurgeReport()
        report.forget_requests = self.apply_pending_forgets(now)
        with self._database.session() as session:
            gone, protected = self._purge_app_database(session, now, report)
        # Rasa's tracker: the conversations just deleted, and any tracker silent for the whole
        # period whose conversation has no open case (e.g. the app row went first, or never existed).
        stale = self._tracker.senders_inactive_since((now - self.conversation_age).timestamp())
        report.tracker_events = self._tracker.delete(set(gone) | (set(stale) - protected))
        return report

    def _purge_app_database(self, session: Session, now: datetime,
                            report: PurgeReport) -> tuple[list[str], set[str]]:
        conversation_cutoff = now - self.conversation_age
        case_cutoff = now - self.case_age
        gone: list[str] = []
        # Newest case activity per conversation, and whether one is still open.
        cases = session.execute(select(
            Case.conversation_id,
            func.max(func.coalesce(Case.closed_at, Case.declined_at, Case.updated_at)),
            func.sum(when((Case.status.in_(OPEN_STATUSES), 1), else_=0)),
        ).group_by(Case.conversation_id)).all()
        case_info = {cid: (as_utc(last) if last is not None else None, bool(open_count)) for cid, last, open_count in cases}
        protected = {
            conversation_key(channel, external_id) for cid, channel, external_id in session.execute(
                select(Conversation.id, Conversation.channel, Conversation.external_id)
                .where(Conversation.id.in_([cid for cid, (_, is_open) in case_info.items() if is_open]))
            ).all()
        }

        silent = session.scalars(select(Conversation).where(Conversation.last_activity < conversation_cutoff)).all()
        for conversation in silent:
            info = case_info.get(conversation.id)
            if info is None:
                gone.append(conversation.rasa_sender_id)
                stores.delete_conversation(session, conversation)
                report.conversations += 1
                continue
            last_case_change, is_open = info
            if is_open or last_case_change is None or last_case_change >= case_cutoff:
                continue
            case_rows = session.scalars(select(Case).where(Case.conversation_id == conversation.id)).all()
            for case in case_rows:
                _count(session, case)
            report.cases_counted += len(case_rows)
            stores.delete_cases(session, [c.id for c in case_rows])
            gone.append(conversation.rasa_sender_id)
            stores.delete_conversation(session, conversation)
            report.conversations += 1

        outbox_cutoff = now - timedelta(days=OUTBOX_DAYS)
        report.outbox_rows = _rowcount(session.execute(delete(OutboxItem).where(
            OutboxItem.status.in_((SENT, FAILED, CANCELLED)), OutboxItem.created_at < outbox_cutoff)))
        report.inbound_ids = inbox.purge_old(session, now)
        refs_before = session.scalar(select(func.count()).select_from(MessageRef)) or 0
        message_refs.purge_old(session, now)
        refs_after = session.scalar(select(func.count()).select_from(MessageRef)) or 0
        report.message_refs = refs_before - refs_after
        report.console_sessions = _rowcount(session.execute(
            delete(ConsoleSession).where(ConsoleSession.expires_at < now)))
        feedback.purge_comments(session, case_cutoff.date())  # children's comments: as long as cases
        return gone, protected

    def apply_pending_forgets(self, now: datetime | None = None) -> int:
        with exclusive(self._database, "forget"):
            return forget.apply_pending(self._database, self._tracker, now)

    async def run(self, every_seconds: float) -> None:
        """The background task of the gateway: purge now, then every `every_seconds`;
        in between, carry out the "forget me" requests of cases closed since."""
        loop = asyncio.get_running_loop()
        next_purge = loop.time()
        while True:
            try:
                if loop.time() >= next_purge:
                    next_purge = loop.time() + every_seconds
                    report = await anyio.to_thread.run_sync(self.purge)
                    logger.info("retention: purged %s", report.summary())
                else:
                    await anyio.to_thread.run_sync(self.apply_pending_forgets)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 (a busy database: the next round retries)
                logger.exception("retention: purge failed; retrying at the next round")
            await asyncio.sleep(max(0.0, min(PENDING_CHECK_SECONDS, next_purge - loop.time())))

    def dispose(self) -> None:
        self._tracker.dispose()


def _count(session: Session, case: Case) -> None:
    created = as_utc(case.created_at) if case.created_at is not None else utc_now()
    key = dict(month=created.strftime("%Y-%m"), channel=case.channel, risk=str(case.risk.value),
               category=case.category or "", consent=str(case.consent.value),
               status=str(case.status.value), outcome=case.outcome or "")
    row = session.scalars(select(CaseCount).filter_by(**key)).one_or_none()
    if row is None:
        session.add(CaseCount(**key, count=1))
        session.flush()
    else:
        row.count += 1


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
