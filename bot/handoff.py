"""The handoff: from the dialogue's request for a counsellor to the counsellor's goodbye.

The dialogue decides, the gateway acts. The action server asks for a
counsellor with a custom message (`{"handoff": {...}}`, see bot/rasa_client.py);
the relay passes those instructions here and we open or update a case.

The lock: while a case is `active`, the relay stores the child's messages and
hands them to the counsellor; nothing goes to Rasa. The lock is the case's row
in the app database, so it survives a restart of the gateway. Rasa's tracker
also gets `pause` when a counsellor takes the case and `resume` when it is
closed (retried on the next message if Rasa was down then).

Take and close hold the conversation's turn lock (bot/coordination/turn_locks.py,
shared by every worker with Redis): take waits for a turn already talking to Rasa,
so once it returns no bot reply can reach the child from any worker; close runs the
check-in through Rasa without a turn of the child in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import transcript
from bot.cases import audit, feedback, service, wording
from bot.cases.alerts import StaffAlerts, new_case_text, overdue_text
from bot.cases.crypto import Keyring, UserRefs
from bot.cases.feed import CaseFeed, Notice
from bot.cases.hours import StaffedHours
from bot.cases.models import Case, CaseStatus, Risk, Role, StaffUser
from bot.coordination.job_lock import lock_in_transaction
from bot.coordination.turn_locks import LocalTurnLocks, TurnLocks, TurnLockTimeout
from bot.db import Database
from bot.messages import BotReply, Button, Inbound, StoredMessage
from bot.models import Conversation, Sender, conversation_key, utc_now
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.settings import Settings
from bot.speaker import Speaker
from common.dialogue import ACTION_HANDOFF_CHECK_IN, ACTION_LISTEN, SLOT_HANDOFF_REQUESTED

logger = logging.getLogger(__name__)

LISTEN = {"event": "action", "name": ACTION_LISTEN}
# Slots the dialogue uses to know a counsellor was asked for; cleared on resume.
RESET_ON_RESUME = ({"event": "slot", "name": SLOT_HANDOFF_REQUESTED, "value": False},)


@dataclass(frozen=True)
class CaseRef:
    """What the async side needs to talk to the person of a case."""

    id: int
    channel: str
    external_id: str
    risk: str

    @property
    def rasa_sender_id(self) -> str:
        return conversation_key(self.channel, self.external_id)


@dataclass(frozen=True)
class LockState:
    """What the unit of work before Rasa found about the conversation's case."""

    locked: bool  # a counsellor holds it: nothing goes to Rasa
    case_id: int | None  # an open case whose transcript just got the message
    unresumed: CaseRef | None  # a closed case left Rasa paused (resume failed then)


def _ref(session: Session, case: Case) -> CaseRef:
    conversation = session.get(Conversation, case.conversation_id)
    assert conversation is not None
    return CaseRef(case.id, conversation.channel, conversation.external_id, case.risk.value)


def wait_limits(settings: Settings) -> dict[Risk, int]:
    return {
        Risk.IMMINENT: settings.wait_limit_imminent_seconds,
        Risk.HIGH: settings.wait_limit_high_seconds,
        Risk.CONCERN: settings.wait_limit_concern_seconds,
    }


class Handoff:
    def __init__(self, database: Database, rasa: RasaClient, speaker: Speaker, keyring: Keyring,
                 user_refs: UserRefs, settings: Settings, feed: CaseFeed | None = None,
                 alerts: StaffAlerts | None = None, turn_locks: TurnLocks | None = None) -> None:
        self._database = database
        # The same turn locks as the relay's: one lock per conversation, shared with its turns.
        self._turn_locks: TurnLocks = turn_locks or LocalTurnLocks()
        self._rasa = rasa
        self._speaker = speaker  # the relay's: what is said to a person is stored and queued once
        self.keyring = keyring
        self._user_refs = user_refs
        self.feed = feed or CaseFeed()
        self.alerts = alerts or StaffAlerts()
        self.limits = wait_limits(settings)
        self.hours = StaffedHours.parse(settings.staffed_hours, settings.staffed_timezone)

    # ---- called by the relay ------------------------------------------------------------

    def lock_state(self, session: Session, conversation: Conversation) -> LockState:
        """Inside the unit of work that stored the person's message: does a counsellor hold
        the conversation? Also copies the message into an open case (the relay then calls
        `act_on` once that unit of work has committed)."""
        case = service.open_case_of(session, conversation.id)
        if case is not None:
            service.sync_transcript(session, case, self.keyring)
            return LockState(case.status == CaseStatus.ACTIVE, case.id, None)
        paused = session.scalars(
            select(Case).where(Case.conversation_id == conversation.id, Case.rasa_paused.is_(True))
        ).first()
        return LockState(False, None, _ref(session, paused) if paused else None)

    def counsellor_holds(self, session: Session, conversation: Conversation) -> bool:
        """Whether a counsellor has taken the conversation (the bot and the gateway stay silent)."""
        case = service.open_case_of(session, conversation.id)
        return case is not None and case.status == CaseStatus.ACTIVE

    async def act_on(self, state: LockState) -> bool:
        """After the unit of work of `lock_state` committed: tell the console, resume Rasa if
        a closed case left it paused; True if the bot must stay silent."""
        self.announce(state.case_id)
        if state.unresumed is not None:
            await self._resume_rasa(state.unresumed)
        return state.locked

    def sync_case(self, session: Session, conversation: Conversation) -> int | None:
        """Inside a unit of work: copy the conversation's new messages into its open case;
        the case's id (for `announce` after commit), or None without an open case."""
        case = service.open_case_of(session, conversation.id)
        if case is None:
            return None
        service.sync_transcript(session, case, self.keyring)
        return case.id

    def announce(self, case_id: int | None) -> None:
        """After commit: the console shows the case's new messages."""
        if case_id is not None:
            self.feed.publish(Notice("case", case_id))

    async def after_turn(self, inbound: Inbound, instructions: list[dict[str, Any]]) -> list[StoredMessage]:
        """Act on the dialogue's instructions; return what the gateway adds to the reply."""
        said: list[StoredMessage] = []
        for instruction in instructions:
            request = service.HandoffRequest.from_custom(instruction)
            if request is not None:
                said += await self._open(inbound, request)

        def sync(session: Session) -> int | None:
            conversation = transcript.find_conversation(session, inbound.channel, inbound.external_id)
            return self.sync_case(session, conversation) if conversation is not None else None

        self.announce(await self._database.run(sync))
        return said

    async def _open(self, inbound: Inbound, request: service.HandoffRequest) -> list[StoredMessage]:
        user_ref = self._user_refs.of(inbound.channel, inbound.user_ref or inbound.external_id)
        staffed = self.hours.is_open()

        def work(session: Session) -> tuple[str, int, str, int]:
            conversation = transcript.get_or_create_conversation(session, inbound.channel, inbound.external_id)
            opened = service.open_case(session, conversation, request, user_ref, out_of_hours=not staffed)
            case = opened.case
            if opened.outcome in ("created", "declined", "raised"):
                audit.record(session, None, f"case_{opened.outcome}", case.id, risk=case.risk.value,
                             consent=request.consent.value)
            ahead = service.ahead_in_queue(session, case) if opened.outcome == "created" else 0
            return opened.outcome, case.id, case.risk.value, ahead

        outcome, case_id, risk, ahead = await self._database.run(work)
        if outcome not in ("created", "raised"):
            return []
        self.feed.publish(Notice("queue", case_id))
        await self.alerts.send(await self._alert_recipients(), new_case_text(risk))
        if outcome == "raised":
            return []
        text = (wording.waiting(self.limits[Risk(risk)], ahead) if staffed
                else wording.out_of_hours(self.hours.describe()))
        return await self._speaker.say(inbound.channel, inbound.external_id, [BotReply(text=text)])

    # ---- called by the console ------------------------------------------------------------

    async def take(self, case_id: int, staff_id: int) -> CaseRef:
        async with self._conversation_turn(case_id):
            return await self._take(case_id, staff_id)

    async def _take(self, case_id: int, staff_id: int) -> CaseRef:
        def work(session: Session) -> tuple[CaseRef, str]:
            staff = _staff(session, staff_id)
            case = service.take(session, case_id, staff)
            audit.record(session, staff, "case_taken", case.id)
            return _ref(session, case), staff.display_name

        ref, name = await self._database.run(work)
        # The database lock already holds; pausing the tracker is the second belt.
        try:
            await self._rasa.append_events(ref.rasa_sender_id, [{"event": "pause"}])
            await self._database.run(lambda s: _set_paused(s, ref.id, True))
        except RasaUnavailable as error:
            logger.warning("could not pause Rasa for case %s: %s", ref.id, error)
        await self._say(ref, wording.joined(name), Sender.SYSTEM)
        self.feed.publish(Notice("queue", ref.id))
        return ref

    async def reply(self, case_id: int, staff_id: int, text: str) -> StoredMessage:
        text = text.strip()
        if not text:
            raise service.CaseError("Tin nhắn đang trống.")

        def work(session: Session) -> CaseRef:
            staff = _staff(session, staff_id)
            case = service.load(session, case_id)
            if case.status != CaseStatus.ACTIVE or case.assigned_to_id != staff.id:
                raise service.NotAllowed("Chỉ người đang phụ trách ca mới nhắn được cho trẻ.")
            audit.record(session, staff, "reply_sent", case.id)
            return _ref(session, case)

        ref = await self._database.run(work)
        [stored] = await self._say(ref, text, Sender.COUNSELLOR)
        return stored

    async def transfer(self, case_id: int, staff_id: int, to_user_id: int) -> CaseRef:
        def work(session: Session) -> tuple[CaseRef, str]:
            actor = _staff(session, staff_id)
            case, target = service.transfer(session, case_id, actor, to_user_id)
            audit.record(session, actor, "case_transferred", case.id, to=target.username)
            return _ref(session, case), target.display_name

        ref, name = await self._database.run(work)
        await self._say(ref, wording.transferred(name), Sender.SYSTEM)
        self.feed.publish(Notice("queue", ref.id))
        return ref

    async def close(self, case_id: int, staff_id: int, outcome: str) -> CaseRef:
        async with self._conversation_turn(case_id):
            return await self._close(case_id, staff_id, outcome)

    async def _close(self, case_id: int, staff_id: int, outcome: str) -> CaseRef:
        def work(session: Session) -> tuple[CaseRef, str, bool, int | None]:
            actor = _staff(session, staff_id)
            case = service.load(session, case_id)
            was_active = case.status == CaseStatus.ACTIVE
            service.close(session, case_id, actor, outcome)
            audit.record(session, actor, "case_closed", case.id, outcome=outcome)
            assigned = session.get(StaffUser, case.assigned_to_id) if case.assigned_to_id else actor
            return _ref(session, case), (assigned or actor).display_name, was_active, case.assigned_to_id

        ref, name, was_active, counsellor_id = await self._database.run(work)
        if was_active:
            await self._say(ref, wording.closed(name), Sender.SYSTEM)
            await self._resume_rasa(ref, check_in=True)
            if feedback.should_ask(outcome):  # one optional question (bot/cases/feedback.py)
                question = await self._database.run(lambda s: feedback.question(s, counsellor_id, ref.channel))
                await self._say(ref, question.text, Sender.SYSTEM, question.buttons)
        else:  # closed while waiting (e.g. the child left): say where help is, let Mây offer again
            await self._say(ref, wording.CLOSED_UNANSWERED, Sender.SYSTEM)
            await self._resume_rasa(ref)
        self.feed.publish(Notice("queue", ref.id))
        return ref

    # ---- the waiting-time watch ----------------------------------------------------------------

    async def check_waiting(self, now: datetime | None = None) -> list[int]:
        """Alert again for every case past its waiting limit; tell the child honestly."""
        now = now or utc_now()

        def work(session: Session) -> list[tuple[CaseRef, int]]:
            # Every worker watches; one pass at a time, so a late case is announced once.
            lock_in_transaction(session, "queue-watch")
            late = service.overdue(session, self.limits, now)
            found = []
            for case in late:
                waited = int(service.waited_seconds(case, now))
                service.mark_alerted(session, case, now)
                audit.record(session, None, "wait_alert", case.id, waited_seconds=waited)
                found.append((_ref(session, case), waited))
            return found

        late = await self._database.run(work)
        recipients = await self._alert_recipients() if late else []
        for ref, waited in late:
            minutes = max(1, waited // 60)
            self.feed.publish(Notice("alert", ref.id, {"risk": ref.risk, "minutes": minutes}))
            await self.alerts.send(recipients, overdue_text(ref.risk, minutes))
            text = (wording.still_waiting(self.limits[Risk(ref.risk)]) if self.hours.is_open(now)
                    else wording.out_of_hours(self.hours.describe()))
            await self._say(ref, text, Sender.SYSTEM)
        return [ref.id for ref, _ in late]

    async def watch(self, interval_seconds: float) -> None:
        """Run `check_waiting` forever (a background task of the gateway)."""
        while True:
            try:
                await self.check_waiting()
            except Exception:  # noqa: BLE001 - the watch must outlive a passing database error
                logger.exception("waiting-time check failed")
            await asyncio.sleep(interval_seconds)

    # ---- helpers ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _conversation_turn(self, case_id: int) -> AsyncIterator[None]:
        """Hold the turn lock of the case's conversation (waits for a turn in flight)."""
        ref = await self._database.run(lambda s: _ref(s, service.load(s, case_id)))
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self._turn_locks.hold(conversation_key(ref.channel, ref.external_id)))
            except TurnLockTimeout:
                raise service.CaseError("Mây vẫn đang trả lời trẻ; bạn thử lại sau giây lát.") from None
            yield

    async def _say(self, ref: CaseRef, text: str, sender: Sender,
                   buttons: tuple[Button, ...] = ()) -> list[StoredMessage]:
        """Store a message for the person and queue it (push channels); add it to the case."""
        stored = await self._speaker.say(ref.channel, ref.external_id, [BotReply(text=text, buttons=buttons)],
                                         sender)

        def sync(session: Session) -> None:
            case = session.get(Case, ref.id)
            if case is not None:
                service.sync_transcript(session, case, self.keyring)

        await self._database.run(sync)
        self.feed.publish(Notice("case", ref.id))
        return stored

    async def _resume_rasa(self, ref: CaseRef, check_in: bool = False) -> None:
        try:
            await self._rasa.append_events(ref.rasa_sender_id, [{"event": "resume"}, *RESET_ON_RESUME])
        except RasaUnavailable as error:
            logger.warning("could not resume Rasa for case %s (retried on the next message): %s",
                           ref.id, error)
            if check_in:
                await self._say(ref, wording.CHECK_IN_FALLBACK, Sender.SYSTEM)
            return
        await self._database.run(lambda s: _set_paused(s, ref.id, False))
        if not check_in:
            return
        try:
            replies = await self._rasa.execute_action(ref.rasa_sender_id, ACTION_HANDOFF_CHECK_IN)
            # An action run from outside is not followed by a listen: add it, as the
            # dialogue would, so the child's next message is read after the check-in.
            await self._rasa.append_events(ref.rasa_sender_id, [LISTEN])
        except RasaUnavailable as error:
            logger.warning("no check-in from Rasa for case %s: %s", ref.id, error)
            replies = []
        if not replies:
            await self._say(ref, wording.CHECK_IN_FALLBACK, Sender.SYSTEM)
            return
        await self._speaker.say(ref.channel, ref.external_id, replies, Sender.BOT)

    async def _alert_recipients(self) -> list[str]:
        def work(session: Session) -> list[str]:
            staff = session.scalars(select(StaffUser).where(StaffUser.active.is_(True),
                                                            StaffUser.alert_chat_id.is_not(None))).all()
            return [s.alert_chat_id for s in staff if s.alert_chat_id and s.has_role(Role.COUNSELLOR)]

        return await self._database.run(work)


def _staff(session: Session, staff_id: int) -> StaffUser:
    staff = session.get(StaffUser, staff_id)
    if staff is None or not staff.active:
        raise service.NotAllowed("Tài khoản không còn hoạt động.")
    return staff


def _set_paused(session: Session, case_id: int, paused: bool) -> None:
    case = session.get(Case, case_id)
    if case is not None:
        case.rasa_paused = paused
